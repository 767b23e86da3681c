//! Whole-file checks: the `train` block (settings, defaults, ranges) and the checks that
//! need the finished graph (sizes against the dataset, total parameters, memory per batch).
//! Also the diagnostic the training commands raise for a model without a `loss`.

use super::build::{Builder, Value};
use super::shape::{MAX_ACTIVATIONS, MAX_PARAMS, batch_activations, dense_params};
use super::{DataSource, Graph, Op, Optimizer, TrainSettings};
use crate::language::ast::{Binding, Expr, ExprKind, Train};
use crate::language::suggest::did_you_mean;
use crate::language::{Diagnostic, Diagnostics, Source, Span};

/// Every setting the `train` block knows.
pub const SETTINGS: [&str; 11] = [
    "data",
    "optimizer",
    "epochs",
    "batch",
    "seed",
    "shuffle",
    "validation",
    "early_stopping",
    "lr_decay",
    "flip",
    "shift",
];

/// Largest `shift`, in pixels (an image's own side bounds it further at run time).
const MAX_SHIFT: u32 = 1 << 16;

const DATASETS: [&str; 2] = ["mnist", "fashion_mnist"];
const OPTIMIZERS: [&str; 2] = ["sgd", "adam"];

/// Pixels per image and classes of the built-in datasets.
const BUILT_IN_INPUTS: usize = 784;
const BUILT_IN_CLASSES: usize = 10;

/// The `train` block with defaults filled in; problems are reported to `builder`.
pub(super) fn train_settings(builder: &mut Builder<'_>, train: Option<&Train>) -> TrainSettings {
    let mut settings = TrainSettings::default();
    let Some(train) = train else { return settings };
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for Binding { name, value } in &train.settings {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name.name) {
            let line = builder.line_of(first.start);
            builder.error(
                Diagnostic::new(
                    format!("setting `{}` is written twice", name.name),
                    name.span,
                    "written again here",
                )
                .with_help(format!("first written on line {line}")),
            );
            continue;
        }
        seen.push((&name.name, name.span));
        let Ok(result) = setting(builder, &mut settings, &name.name, name.span, value) else {
            continue;
        };
        if let Err(diagnostic) = result {
            builder.error(diagnostic);
        }
    }
    settings
}

/// Applies one setting. The outer `Err` means "already reported".
fn setting(
    builder: &mut Builder<'_>,
    settings: &mut TrainSettings,
    name: &str,
    name_span: Span,
    expr: &Expr,
) -> Result<Result<(), Diagnostic>, ()> {
    let span = expr.span;
    if name == "optimizer" {
        return optimizer(builder, expr).map(|o| {
            settings.optimizer = o;
            Ok(())
        });
    }
    let value = builder.constant(expr)?;
    let found = value.describe(&[]);
    Ok(match (name, value) {
        ("data", Value::Symbol(s)) if s == "mnist" => {
            (settings.data, settings.data_span) = (DataSource::Mnist, Some(span));
            Ok(())
        }
        ("data", Value::Symbol(s)) if s == "fashion_mnist" => {
            (settings.data, settings.data_span) = (DataSource::FashionMnist, Some(span));
            Ok(())
        }
        ("data", Value::Symbol(s)) => Err(Diagnostic::new(format!("unknown dataset `{s}`"), span, did_you_mean(&s, DATASETS, "not a built-in dataset"))
            .with_help("use `mnist`, `fashion_mnist`, or a folder of IDX files as a string: `data = \"path/to/dir\"`")),
        ("data", Value::Str(path)) => {
            (settings.data, settings.data_span) = (DataSource::Path(path), Some(span));
            Ok(())
        }
        ("data", _) => Err(Diagnostic::new(format!("`data` must be a dataset, found {found}"), span, "expected `mnist`, `fashion_mnist` or a path")),
        ("epochs", value) => whole(value, span, "epochs", 1).map(|n| settings.epochs = n as usize),
        ("batch", value) => whole(value, span, "batch", 1).and_then(|n| {
            if n > (1 << 24) {
                return Err(Diagnostic::new(format!("`batch` of {n} is too large to allocate"), span, "at most 16777216"));
            }
            settings.batch = n as usize;
            Ok(())
        }),
        ("seed", value) => whole(value, span, "seed", 0).map(|n| settings.seed = n),
        ("early_stopping", Value::Bool(false)) => {
            settings.early_stopping = None;
            Ok(())
        }
        ("early_stopping", value) => whole(value, span, "early_stopping", 1).map(|n| settings.early_stopping = Some(n as usize)),
        ("shuffle", Value::Bool(b)) => {
            settings.shuffle = b;
            Ok(())
        }
        ("shuffle", _) => Err(Diagnostic::new(format!("`shuffle` must be `true` or `false`, found {found}"), span, "expected `true` or `false`")),
        ("validation", Value::Number { value, .. }) if (0.0..1.0).contains(&value) => {
            settings.validation = value as f32;
            Ok(())
        }
        ("lr_decay", Value::Number { value, .. }) if value > 0.0 && value <= 1.0 => {
            settings.lr_decay = value as f32;
            Ok(())
        }
        ("lr_decay", _) => Err(Diagnostic::new(format!("`lr_decay` must be a factor in (0, 1], found {found}"), span, "out of range")
            .with_help("the learning rate is multiplied by it after every epoch; `lr_decay = 1` keeps it constant")),
        ("flip", Value::Number { value, .. }) if (0.0..=1.0).contains(&value) => {
            settings.flip = value as f32;
            Ok(())
        }
        ("flip", _) => Err(Diagnostic::new(format!("`flip` must be a probability in [0, 1], found {found}"), span, "out of range")
            .with_help("each training image is mirrored left to right with this probability; e.g. `flip = 0.5`")),
        ("shift", value) => whole(value, span, "shift", 0).and_then(|n| {
            if n > u64::from(MAX_SHIFT) {
                return Err(Diagnostic::new(format!("`shift` of {n} pixels is too large"), span, format!("at most {MAX_SHIFT}")));
            }
            settings.shift = n as u32;
            Ok(())
        }),
        ("validation", _) => Err(Diagnostic::new(format!("`validation` must be a fraction in [0, 1), found {found}"), span, "out of range")
            .with_help("e.g. `validation = 0.1` holds out a tenth of the training set")),
        (unknown, _) => Err(Diagnostic::new(format!("unknown setting `{unknown}`"), name_span, did_you_mean(unknown, SETTINGS, "not a setting"))
            .with_help(format!("the settings are {}", SETTINGS.join(", ")))),
    })
}

/// A whole number at least `min`, read exactly from its text when it has no fraction.
fn whole(value: Value, span: Span, setting: &str, min: u64) -> Result<u64, Diagnostic> {
    let Value::Number { value, text } = value else {
        return Err(Diagnostic::new(
            format!("`{setting}` must be a whole number"),
            span,
            "not a number",
        ));
    };
    let exact = text.trim_start_matches('+').parse::<u64>().ok();
    match exact {
        Some(n) if n >= min => Ok(n),
        None if value.fract() == 0.0 && value >= min as f64 && value < 2f64.powi(53) => {
            Ok(value as u64)
        }
        _ if value.fract() != 0.0 => Err(Diagnostic::new(
            format!("`{setting}` must be a whole number, found {text}"),
            span,
            "not a whole number",
        )),
        _ if value < min as f64 => Err(Diagnostic::new(
            format!("`{setting}` must be at least {min}, found {text}"),
            span,
            "too small",
        )),
        _ => Err(Diagnostic::new(
            format!("`{setting}` is too large: {text}"),
            span,
            "too large",
        )),
    }
}

/// `sgd(lr, momentum = 0)` or `adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)`,
/// written as a call or (for adam) a bare name.
fn optimizer(builder: &mut Builder<'_>, expr: &Expr) -> Result<Optimizer, ()> {
    let (name, name_span, args) = match &expr.kind {
        ExprKind::Call { func, args, .. } => (func.name.clone(), func.span, args.as_slice()),
        ExprKind::Name(name) => match builder.constant(expr)? {
            Value::Symbol(s) => (s, expr.span, [].as_slice()),
            other => {
                return builder.fail(
                    Diagnostic::new(
                        format!(
                            "`optimizer` must be `sgd(...)` or `adam(...)`, found {}",
                            other.describe(&[])
                        ),
                        expr.span,
                        "not an optimizer",
                    )
                    .with_help(format!("`{name}` is a `let` parameter")),
                );
            }
        },
        _ => {
            return builder.fail(Diagnostic::new(
                "`optimizer` must be `sgd(...)` or `adam(...)`",
                expr.span,
                "not an optimizer",
            ));
        }
    };
    let params: &[(&str, Option<f64>)] = match name.as_str() {
        "sgd" => &[("lr", None), ("momentum", Some(0.0))],
        "adam" => &[
            ("lr", Some(0.001)),
            ("beta1", Some(0.9)),
            ("beta2", Some(0.999)),
            ("eps", Some(1e-8)),
        ],
        _ => {
            let label = did_you_mean(&name, OPTIMIZERS, "not an optimizer");
            return builder.fail(
                Diagnostic::new(format!("unknown optimizer `{name}`"), name_span, label)
                    .with_help("use `sgd(lr = 0.1)` or `adam(lr = 0.001)`"),
            );
        }
    };
    let mut values: Vec<Option<(f64, Span)>> = vec![None; params.len()];
    let mut failed = false;
    for (i, arg) in args.iter().enumerate() {
        let slot = match &arg.name {
            None if i < params.len() => i,
            None => {
                builder.error(Diagnostic::new(
                    format!("too many arguments to `{name}`"),
                    arg.value.span,
                    "unexpected argument",
                ));
                failed = true;
                continue;
            }
            Some(option) => match params.iter().position(|(p, _)| *p == option.name) {
                Some(slot) => slot,
                None => {
                    let label = did_you_mean(
                        &option.name,
                        params.iter().map(|(p, _)| *p),
                        "no such option",
                    );
                    builder.error(Diagnostic::new(
                        format!("unknown option `{}` for `{name}`", option.name),
                        option.span,
                        label,
                    ));
                    failed = true;
                    continue;
                }
            },
        };
        let Ok(value) = builder.constant(&arg.value) else {
            failed = true;
            continue;
        };
        match builder.number(&(value, arg.value.span), &name, params[slot].0) {
            Ok(number) => values[slot] = Some((number, arg.value.span)),
            Err(()) => failed = true,
        }
    }
    if failed {
        return Err(());
    }
    let mut get = |slot: usize| -> Result<f32, ()> {
        let (param, default) = params[slot];
        let Some((value, span)) = values[slot].or(default.map(|d| (d, name_span))) else {
            return builder.fail(
                Diagnostic::new(
                    format!("`{name}` needs `{param}`"),
                    name_span,
                    format!("`{param}` missing"),
                )
                .with_help(format!("e.g. `{name}(lr = 0.1)`")),
            );
        };
        let in_range = match param {
            "lr" | "eps" => value > 0.0,
            _ => (0.0..1.0).contains(&value),
        };
        if !in_range || !value.is_finite() {
            let (what, help) = match param {
                "lr" => (
                    "the learning rate must be positive",
                    "try `lr = 0.1` for sgd or `lr = 0.001` for adam",
                ),
                "eps" => ("`eps` must be positive", "the usual value is 1e-8"),
                _ => (
                    "must be in [0, 1)",
                    "the usual values are momentum 0.9, beta1 0.9, beta2 0.999",
                ),
            };
            let message = if what.starts_with("must") {
                format!("`{param}` {what}, found {value}")
            } else {
                format!("{what}, found {value}")
            };
            return builder.fail(Diagnostic::new(message, span, "out of range").with_help(help));
        }
        builder.float32(value, span)
    };
    if name == "sgd" {
        let (lr, momentum) = (get(0), get(1));
        Ok(Optimizer::Sgd {
            lr: lr?,
            momentum: momentum?,
        })
    } else {
        let (lr, beta1, beta2, eps) = (get(0), get(1), get(2), get(3));
        Ok(Optimizer::Adam {
            lr: lr?,
            beta1: beta1?,
            beta2: beta2?,
            eps: eps?,
        })
    }
}

/// Checks that need the finished graph: sizes against a built-in dataset, the total
/// number of parameters, and the memory one batch needs.
pub(super) fn whole_graph(builder: &mut Builder<'_>, graph: &Graph) {
    // Only a dataset the file names is checked here: with the default, the size check
    // waits for the data actually loaded (`check_dataset`), so small test models need no
    // `train` block.
    let dataset = match graph.train.data {
        DataSource::Mnist => Some("mnist"),
        DataSource::FashionMnist => Some("fashion_mnist"),
        DataSource::Path(_) => None,
    };
    if let (Some(dataset), Some(_)) = (dataset, graph.train.data_span) {
        for diagnostic in dataset_mismatches(graph, dataset, BUILT_IN_INPUTS, BUILT_IN_CLASSES) {
            builder.error(diagnostic);
        }
    }
    let mut total: usize = 0;
    for node in &graph.nodes {
        let Op::Dense { units, bias, .. } = node.op else {
            continue;
        };
        let n_in = graph.node(node.inputs[0]).width;
        match dense_params(n_in, units, bias)
            .and_then(|p| total.checked_add(p))
            .filter(|&t| t <= MAX_PARAMS)
        {
            Some(sum) => total = sum,
            None => {
                builder.error(
                    Diagnostic::new(
                        "the model is too large to allocate",
                        node.span,
                        format!("the parameters pass {MAX_PARAMS} here"),
                    )
                    .with_help("use fewer or smaller layers"),
                );
                return;
            }
        }
    }
    let widths = graph.nodes.iter().map(|n| n.width);
    if batch_activations(graph.train.batch, widths).is_none_or(|floats| floats > MAX_ACTIVATIONS) {
        builder.error(
            Diagnostic::new(
                format!(
                    "a batch of {} is too large to allocate for this model",
                    graph.train.batch
                ),
                graph.node(graph.output).span,
                "too many values per batch",
            )
            .with_help("use a smaller `batch`"),
        );
    }
}

/// Checks the model's `input` and `output` widths against a dataset found at run time
/// (`inputs` values per sample, `classes` labels), naming it `dataset` in the messages.
pub fn check_dataset(
    source: &Source,
    graph: &Graph,
    dataset: &str,
    inputs: usize,
    classes: usize,
    color: bool,
) -> Result<(), Diagnostics> {
    let problems = dataset_mismatches(graph, dataset, inputs, classes);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics::new(source, problems, color))
    }
}

fn dataset_mismatches(
    graph: &Graph,
    dataset: &str,
    inputs: usize,
    classes: usize,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let input = graph.node(graph.input);
    if input.width != inputs {
        problems.push(
            Diagnostic::new(
                format!(
                    "`input({})` does not match `{dataset}`, whose samples have {inputs} values",
                    input.width
                ),
                input.span,
                format!("expected `input({inputs})`"),
            )
            .with_help(if inputs == BUILT_IN_INPUTS {
                format!("`{dataset}` images are 28x28 = {inputs} pixels")
            } else {
                format!("declare `input({inputs})`")
            }),
        );
    }
    let output = graph.node(graph.output);
    if output.width != classes {
        problems.push(
            Diagnostic::new(
                format!(
                    "`output` has {} values but `{dataset}` has {classes} classes",
                    output.width
                ),
                output.span,
                format!("expected {classes} values"),
            )
            .with_help(format!(
                "end the model with a layer of {classes} units, e.g. `dense({classes})`"
            )),
        );
    }
    problems
}

/// The diagnostic a training command raises for a model without `loss`: `check` and
/// `show` accept such a model, training cannot.
pub fn missing_loss(source: &Source, graph: &Graph, color: bool) -> Diagnostics {
    let output = graph.node(graph.output);
    let diagnostic = Diagnostic::new(
        format!(
            "model `{}` has no `loss`, so it cannot be trained",
            graph.name
        ),
        output.span,
        "the output is never scored",
    )
    .with_help("add `loss = cross_entropy` (or `loss = mse`) to the model");
    Diagnostics::single(source, diagnostic, color)
}

impl Builder<'_> {
    /// Reports `diagnostic` and returns the "already reported" error.
    fn fail<T>(&mut self, diagnostic: Diagnostic) -> Result<T, ()> {
        self.error(diagnostic);
        Err(())
    }
}
