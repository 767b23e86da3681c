//! The `train` block's settings: the values a run reads ([`TrainSettings`]) and the one
//! table of the settings the language knows ([`SETTINGS`]: name, kind and range, default,
//! help), which the parser, its diagnostics and `nnc show` read. A setting's default is
//! its row's, so the defaults are listed nowhere else.

use crate::data::{DataSource, Holdout};
use crate::language::Span;

/// The `train` block, defaults filled in (see the language contract).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    pub data: DataSource,
    pub optimizer: OptimizerSettings,
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
    pub shuffle: bool,
    /// Fraction of the training set held out, in `[0, 1)`.
    pub validation: f32,
    /// Stop after this many epochs without a better validation loss.
    pub early_stopping: Option<usize>,
    /// L2 penalty on every weight (not biases or batch-norm parameters), in `[0, 1)`;
    /// decoupled from the gradient with Adam (AdamW).
    pub weight_decay: f32,
    /// How the learning rate moves step by step (exclusive with `lr_decay`).
    pub schedule: Schedule,
    /// The learning rate of epoch `e` (from 1) is `lr · lr_decay^(e − 1)`; in `(0, 1]`.
    /// An extension of the v1 language (see the README).
    pub lr_decay: f32,
    /// Probability that a training image is mirrored left to right (augmentation), in
    /// `[0, 1]`. An extension of the v1 language.
    pub flip: f32,
    /// Largest random translation of a training image, in pixels per axis. An extension
    /// of the v1 language.
    pub shift: u32,
    /// Where each setting was written, for diagnostics raised later (e.g. an input size
    /// that does not match a dataset found at run time). `None` for defaults.
    pub data_span: Option<Span>,
}

impl Default for TrainSettings {
    /// Every setting at its row's default.
    fn default() -> Self {
        let mut settings = TrainSettings {
            data: DataSource::Mnist,
            optimizer: OptimizerSettings::Sgd {
                lr: 0.0,
                momentum: 0.0,
            },
            epochs: 0,
            batch: 0,
            seed: 0,
            shuffle: false,
            validation: 0.0,
            early_stopping: None,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            lr_decay: 0.0,
            flip: 0.0,
            shift: 0,
            data_span: None,
        };
        for setting in SETTINGS {
            (setting.set)(&mut settings, setting.default.clone());
        }
        settings
    }
}

/// A setting's value, checked against its row.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    Data(DataSource),
    Optimizer(OptimizerSettings),
    Schedule(Schedule),
    Whole(u64),
    Number(f64),
    Bool(bool),
    /// `early_stopping = false`.
    Off,
}

/// What a setting's value must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `mnist`, `fashion_mnist`, a folder, `csv(...)` or `npz(...)`.
    Data,
    /// `sgd(...)` or `adam(...)`.
    Optimizer,
    /// `constant`, `cosine` or `onecycle(max_lr)`.
    Schedule,
    /// A number, a whole number or a flag.
    Scalar(Scalar),
}

/// The kinds of setting whose value is one constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A whole number from `min` to `max`; one above `max` is "`{name}` of {n}{unit}
    /// {too_large}".
    Whole {
        min: u64,
        max: u64,
        unit: &'static str,
        too_large: &'static str,
    },
    /// A whole number from `min`, or `false` for none.
    WholeOrOff {
        min: u64,
    },
    Bool,
    /// A number in a range, `words` saying which (`a fraction in [0, 1)`).
    Number {
        min: f64,
        min_inclusive: bool,
        max: f64,
        max_inclusive: bool,
        words: &'static str,
    },
}

impl Scalar {
    /// Whether `value` is inside a [`Scalar::Number`]'s range (always, for other kinds).
    pub fn admits(&self, value: f64) -> bool {
        match *self {
            Scalar::Number {
                min,
                min_inclusive,
                max,
                max_inclusive,
                ..
            } => {
                let above = if min_inclusive {
                    value >= min
                } else {
                    value > min
                };
                let below = if max_inclusive {
                    value <= max
                } else {
                    value < max
                };
                above && below
            }
            _ => true,
        }
    }
}

/// One setting of the `train` block.
pub struct SettingDef {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Setting,
    /// One sentence, shown with a range error and by `nnc show`.
    pub help: &'static str,
    /// Stores a checked value.
    pub set: fn(&mut TrainSettings, Setting),
    /// The value as the language writes it, for `nnc show`.
    pub shown: fn(&TrainSettings) -> String,
}

/// Largest `batch`: a batch's values are counted in 32-bit indices elsewhere.
pub const MAX_BATCH: u64 = 1 << 24;

/// Largest `shift`, in pixels (an image's own side bounds it further at run time).
pub const MAX_SHIFT: u64 = 1 << 16;

const FRACTION: Scalar = Scalar::Number {
    min: 0.0,
    min_inclusive: true,
    max: 1.0,
    max_inclusive: false,
    words: "a fraction in [0, 1)",
};

/// Every setting, in the order help lists them.
pub const SETTINGS: &[SettingDef] = &[
    SettingDef {
        name: "data",
        kind: Kind::Data,
        default: Setting::Data(DataSource::Mnist),
        help: "the dataset: `mnist`, `fashion_mnist`, a folder of IDX files, `csv(...)` or `npz(...)`",
        set: |s, v| {
            if let Setting::Data(data) = v {
                s.data = data;
            }
        },
        shown: |s| data_text(&s.data),
    },
    SettingDef {
        name: "optimizer",
        kind: Kind::Optimizer,
        default: Setting::Optimizer(OptimizerSettings::Sgd {
            lr: 0.1,
            momentum: 0.0,
        }),
        help: "`sgd(lr, momentum = 0)` or `adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)`",
        set: |s, v| {
            if let Setting::Optimizer(optimizer) = v {
                s.optimizer = optimizer;
            }
        },
        shown: |s| s.optimizer.to_string(),
    },
    SettingDef {
        name: "epochs",
        kind: Kind::Scalar(Scalar::Whole {
            min: 1,
            max: u64::MAX,
            unit: "",
            too_large: "is too large",
        }),
        default: Setting::Whole(10),
        help: "passes over the training set",
        set: |s, v| {
            if let Setting::Whole(n) = v {
                s.epochs = n as usize;
            }
        },
        shown: |s| s.epochs.to_string(),
    },
    SettingDef {
        name: "batch",
        kind: Kind::Scalar(Scalar::Whole {
            min: 1,
            max: MAX_BATCH,
            unit: "",
            too_large: "is too large to allocate",
        }),
        default: Setting::Whole(32),
        help: "samples per step",
        set: |s, v| {
            if let Setting::Whole(n) = v {
                s.batch = n as usize;
            }
        },
        shown: |s| s.batch.to_string(),
    },
    SettingDef {
        name: "seed",
        kind: Kind::Scalar(Scalar::Whole {
            min: 0,
            max: u64::MAX,
            unit: "",
            too_large: "is too large",
        }),
        default: Setting::Whole(0),
        help: "seeds the initial weights, the sample order, dropout and augmentation",
        set: |s, v| {
            if let Setting::Whole(n) = v {
                s.seed = n;
            }
        },
        shown: |s| s.seed.to_string(),
    },
    SettingDef {
        name: "shuffle",
        kind: Kind::Scalar(Scalar::Bool),
        default: Setting::Bool(true),
        help: "a new sample order every epoch",
        set: |s, v| {
            if let Setting::Bool(b) = v {
                s.shuffle = b;
            }
        },
        shown: |s| s.shuffle.to_string(),
    },
    SettingDef {
        name: "validation",
        kind: Kind::Scalar(FRACTION),
        default: Setting::Number(0.0),
        help: "e.g. `validation = 0.1` holds out a tenth of the training set",
        set: |s, v| {
            if let Setting::Number(x) = v {
                s.validation = x as f32;
            }
        },
        shown: |s| format!("{:?}", s.validation),
    },
    SettingDef {
        name: "early_stopping",
        kind: Kind::Scalar(Scalar::WholeOrOff { min: 1 }),
        default: Setting::Off,
        help: "stop after this many epochs without a better validation loss",
        set: |s, v| {
            s.early_stopping = match v {
                Setting::Whole(n) => Some(n as usize),
                _ => None,
            };
        },
        shown: |s| {
            s.early_stopping
                .map_or("false".to_owned(), |n| n.to_string())
        },
    },
    SettingDef {
        name: "lr_decay",
        kind: Kind::Scalar(Scalar::Number {
            min: 0.0,
            min_inclusive: false,
            max: 1.0,
            max_inclusive: true,
            words: "a factor in (0, 1]",
        }),
        default: Setting::Number(1.0),
        help: "the learning rate is multiplied by it after every epoch; `lr_decay = 1` keeps it constant",
        set: |s, v| {
            if let Setting::Number(x) = v {
                s.lr_decay = x as f32;
            }
        },
        shown: |s| format!("{:?}", s.lr_decay),
    },
    SettingDef {
        name: "flip",
        kind: Kind::Scalar(Scalar::Number {
            min: 0.0,
            min_inclusive: true,
            max: 1.0,
            max_inclusive: true,
            words: "a probability in [0, 1]",
        }),
        default: Setting::Number(0.0),
        help: "each training image is mirrored left to right with this probability; e.g. `flip = 0.5`",
        set: |s, v| {
            if let Setting::Number(x) = v {
                s.flip = x as f32;
            }
        },
        shown: |s| format!("{:?}", s.flip),
    },
    SettingDef {
        name: "shift",
        kind: Kind::Scalar(Scalar::Whole {
            min: 0,
            max: MAX_SHIFT,
            unit: " pixels",
            too_large: "is too large",
        }),
        default: Setting::Whole(0),
        help: "the largest random translation of a training image, in pixels per axis",
        set: |s, v| {
            if let Setting::Whole(n) = v {
                s.shift = n as u32;
            }
        },
        shown: |s| s.shift.to_string(),
    },
    SettingDef {
        name: "weight_decay",
        kind: Kind::Scalar(Scalar::Number {
            min: 0.0,
            min_inclusive: true,
            max: 1.0,
            max_inclusive: false,
            words: "in [0, 1)",
        }),
        default: Setting::Number(0.0),
        help: "the L2 penalty on every weight (not biases or batch-norm parameters), e.g. `weight_decay = 5e-4`",
        set: |s, v| {
            if let Setting::Number(x) = v {
                s.weight_decay = x as f32;
            }
        },
        shown: |s| format!("{:?}", s.weight_decay),
    },
    SettingDef {
        name: "schedule",
        kind: Kind::Schedule,
        default: Setting::Schedule(Schedule::Constant),
        help: "`constant`, `cosine` (to 0 over the run) or `onecycle(max_lr)` (PyTorch's `OneCycleLR`)",
        set: |s, v| {
            if let Setting::Schedule(schedule) = v {
                s.schedule = schedule;
            }
        },
        shown: |s| s.schedule.to_string(),
    },
];

/// `data` as the language writes it.
fn data_text(data: &DataSource) -> String {
    match data {
        DataSource::Mnist => "mnist".to_owned(),
        DataSource::FashionMnist => "fashion_mnist".to_owned(),
        DataSource::Path(path) => format!("{path:?}"),
        DataSource::Npz(path) => format!("npz({path:?})"),
        DataSource::Csv(csv) => {
            let test = match &csv.test {
                Holdout::Fraction(f) => f.to_string(),
                Holdout::File(file) => format!("{file:?}"),
            };
            format!(
                "csv({:?}, label = {:?}, test = {test}, normalize = {})",
                csv.path, csv.label, csv.normalize
            )
        }
    }
}

/// The `train` block of `settings`, one line per setting in table order: a setting away
/// from its default as a line of the block, one at its default as a comment (so that
/// settings the language keeps apart, `lr_decay` and `schedule`, are never both written).
/// Building it gives `settings` back, but for where each was written.
pub fn train_block(settings: &TrainSettings) -> String {
    let defaults = TrainSettings::default();
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut block = "train {\n".to_owned();
    for setting in SETTINGS {
        let value = (setting.shown)(settings);
        if value == (setting.shown)(&defaults) {
            block += &format!("    # {:<width$} = {value}  (default)\n", setting.name);
        } else {
            block += &format!("    {:<width$} = {value}\n", setting.name);
        }
    }
    block + "}\n"
}

/// The row of a setting, by name.
pub fn find(name: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// Every setting's name, in table order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    SETTINGS.iter().map(|s| s.name)
}

/// A learning-rate schedule over the whole run's steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The optimizer's `lr` throughout (with `lr_decay`, if any, per epoch).
    Constant,
    /// From `lr` down to 0 along a half cosine over all steps.
    Cosine,
    /// PyTorch's `OneCycleLR` (its defaults): from `max_lr / 25` up to `max_lr` over the
    /// first 30 % of the steps, then down to `max_lr / 25 / 10⁴`, both halves cosines. The
    /// optimizer's `lr` is not used.
    OneCycle { max_lr: f32 },
}

impl Schedule {
    /// The learning rate of step `step` (from 0) of `total`, for an optimizer `lr`.
    pub fn lr_at(self, lr: f32, step: usize, total: usize) -> f32 {
        let cosine = |from: f64, to: f64, fraction: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * fraction.clamp(0.0, 1.0)).cos())
        };
        match self {
            Schedule::Constant => lr,
            Schedule::Cosine => cosine(lr as f64, 0.0, step as f64 / total.max(1) as f64) as f32,
            Schedule::OneCycle { max_lr } => {
                let (peak, initial) = (max_lr as f64, max_lr as f64 / 25.0);
                let last = total.saturating_sub(1).max(1) as f64;
                let rise = (0.3 * total as f64 - 1.0).max(1.0);
                let step = step as f64;
                if step <= rise {
                    cosine(initial, peak, step / rise) as f32
                } else {
                    cosine(peak, initial / 1e4, (step - rise) / (last - rise).max(1.0)) as f32
                }
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Cosine => write!(f, "cosine"),
            Schedule::OneCycle { max_lr } => write!(f, "onecycle({max_lr:?})"),
        }
    }
}

/// The optimizer the `train` block names, with its hyperparameters (the training layer's
/// `Optimizer` is its state).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerSettings {
    Sgd {
        lr: f32,
        momentum: f32,
    },
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
}

impl std::fmt::Display for OptimizerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            OptimizerSettings::Sgd { lr, momentum } => {
                write!(f, "sgd(lr = {lr:?}, momentum = {momentum:?})")
            }
            OptimizerSettings::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => write!(
                f,
                "adam(lr = {lr:?}, beta1 = {beta1:?}, beta2 = {beta2:?}, eps = {eps:?})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_pytorch() {
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs().max(1e-3);
        // Cosine annealing from 0.1 to 0 over 100 steps (`CosineAnnealingLR`, eta_min 0).
        let cosine = |step| Schedule::Cosine.lr_at(0.1, step, 100);
        assert!(close(cosine(0), 0.1) && close(cosine(50), 0.05) && cosine(100) == 0.0);
        // `OneCycleLR(max_lr = 1, total_steps = 100)`: 0.04 at step 0, 1 at step 29
        // (`pct_start·total − 1`), 4e-6 at step 99, the halves cosines.
        let one = |step| Schedule::OneCycle { max_lr: 1.0 }.lr_at(0.5, step, 100);
        assert!(close(one(0), 0.04), "{}", one(0));
        assert!(close(one(29), 1.0), "{}", one(29));
        assert!(close(one(99), 4e-6), "{}", one(99));
        let mid_rise =
            0.04 + (1.0 - 0.04) * 0.5 * (1.0 - (std::f64::consts::PI * 14.0 / 29.0).cos());
        assert!(close(one(14), mid_rise as f32), "{}", one(14));
        assert_eq!(Schedule::Constant.lr_at(0.3, 7, 10), 0.3);
    }

    #[test]
    fn every_setting_has_help_and_a_default_of_its_kind() {
        let mut seen = std::collections::HashSet::new();
        for setting in SETTINGS {
            assert!(seen.insert(setting.name), "`{}` has two rows", setting.name);
            assert!(!setting.help.is_empty(), "`{}` has no help", setting.name);
            let fits = match (setting.kind, &setting.default) {
                (Kind::Data, Setting::Data(_))
                | (Kind::Optimizer, Setting::Optimizer(_))
                | (Kind::Schedule, Setting::Schedule(_))
                | (Kind::Scalar(Scalar::Bool), Setting::Bool(_))
                | (Kind::Scalar(Scalar::WholeOrOff { .. }), Setting::Off) => true,
                (Kind::Scalar(Scalar::Whole { min, max, .. }), Setting::Whole(n)) => {
                    (min..=max).contains(n)
                }
                (Kind::Scalar(Scalar::WholeOrOff { min }), Setting::Whole(n)) => *n >= min,
                (Kind::Scalar(kind @ Scalar::Number { .. }), Setting::Number(x)) => kind.admits(*x),
                _ => false,
            };
            assert!(fits, "`{}`'s default does not fit its kind", setting.name);
        }
    }

    #[test]
    fn the_defaults_are_the_language_contract_s() {
        let s = TrainSettings::default();
        assert_eq!(
            (s.epochs, s.batch, s.seed, s.shuffle, s.validation),
            (10, 32, 0, true, 0.0)
        );
        assert_eq!(
            s.optimizer,
            OptimizerSettings::Sgd {
                lr: 0.1,
                momentum: 0.0
            }
        );
        assert_eq!(
            (s.early_stopping, s.lr_decay, s.flip, s.shift),
            (None, 1.0, 0.0, 0)
        );
        assert_eq!((s.weight_decay, s.schedule), (0.0, Schedule::Constant));
        assert_eq!(s.data, DataSource::Mnist);
    }

    /// `text` with its `train` block (the last, ending in a `}` alone on a line) replaced
    /// by `block`, or `block` appended when it has none.
    fn with_train_block(text: &str, block: &str) -> String {
        match text.find("\ntrain {") {
            Some(start) => {
                let end = text[start..]
                    .find("\n}")
                    .map_or(text.len(), |e| start + e + 3);
                format!(
                    "{}\n{block}{}",
                    &text[..start],
                    &text[end.min(text.len())..]
                )
            }
            None => format!("{text}\n{block}"),
        }
    }

    #[test]
    fn a_rendered_train_block_reads_back_as_the_same_settings() {
        use crate::graph::{BuildOptions, build_graph};
        use crate::language::Source;
        let build = |text: &str| {
            let source = Source {
                path: "t.nn".into(),
                text: text.into(),
            };
            build_graph(&source, &BuildOptions::default())
                .unwrap_or_else(|e| panic!("{text}\n{}", e.rendered))
                .train
        };
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let mut texts: Vec<String> = std::fs::read_dir(models)
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        // Every setting away from its default, a table and the other schedules.
        let tiny = "model t {\n    x = input(4)\n    output = x |> dense(3) |> softmax\n    loss = cross_entropy\n}\n";
        texts.push(format!(
            "{tiny}train {{\n    data = csv(\"t.csv\", label = \"y\", test = \"u.csv\", normalize = false)\n    optimizer = sgd(lr = 0.05, momentum = 0.9)\n    seed = 18446744073709551615\n    shuffle = false\n    validation = 0.25\n    early_stopping = 3\n    weight_decay = 5e-4\n    schedule = cosine\n}}\n"
        ));
        texts.push(format!(
            "{tiny}train {{\n    data = \"some/dir\"\n    lr_decay = 0.5\n    flip = 1\n    shift = 3\n}}\n"
        ));
        texts.push(format!("{tiny}train {{\n    data = npz(\"a.npz\")\n}}\n"));
        for text in texts {
            let settings = build(&text);
            let block = train_block(&settings);
            let again = build(&with_train_block(&text, &block));
            assert_eq!(
                TrainSettings {
                    data_span: None,
                    ..again
                },
                TrainSettings {
                    data_span: None,
                    ..settings
                },
                "{block}"
            );
        }
    }
}
