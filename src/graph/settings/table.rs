//! The table of the `train` block's settings: one row per setting, with its kind and
//! range, its default, its help, and how its value is stored and shown.

use super::{OptimizerSettings, Schedule, TrainSettings};
use crate::data::{DataSource, Holdout};

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
    let width = SETTINGS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut block = "train {\n".to_owned();
    for (setting, value, default) in shown(settings) {
        let name = setting.name;
        if default {
            block += &format!("    # {name:<width$} = {value}  (default)\n");
        } else {
            block += &format!("    {name:<width$} = {value}\n");
        }
    }
    block + "}\n"
}

/// Every setting of `settings` as the language writes it, in table order, and whether it
/// is at its default.
pub fn shown(settings: &TrainSettings) -> Vec<(&'static SettingDef, String, bool)> {
    let defaults = TrainSettings::default();
    SETTINGS
        .iter()
        .map(|setting| {
            let value = (setting.shown)(settings);
            let default = value == (setting.shown)(&defaults);
            (setting, value, default)
        })
        .collect()
}

/// The row of a setting, by name.
pub fn find(name: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// Every setting's name, in table order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    SETTINGS.iter().map(|s| s.name)
}
