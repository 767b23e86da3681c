//! The `train` block: each setting checked and stored, defaults filled in; the optimizer
//! and the data files (`csv(...)`, `npz(...)`) bound with the same argument binder as the
//! model's built-ins.

use super::optimizer::{optimizer, schedule, setting_param};
use super::{Builder, Value};
use crate::data::{CsvSource, Holdout, TableTarget};
use crate::graph::settings::{self, Kind, Scalar, Setting};
use crate::graph::{DataSource, Loss, Schedule, TrainSettings};
use crate::language::ast::{Binding, Expr, ExprKind, Ident, Train};
use crate::language::{Diagnostic, Span};
use crate::ops::function::FractionOrFile;
use crate::ops::{Arg, ArgKind, Default, ParamDef};
use crate::suggest::did_you_mean;

const DATASETS: [&str; 2] = ["mnist", "fashion_mnist"];

impl Builder<'_> {
    /// The `train` block with defaults filled in; problems are reported. The model's
    /// `loss` says what a table's label column is: classes or a value.
    pub(super) fn train_settings(
        &mut self,
        train: Option<&Train>,
        loss: Option<Loss>,
    ) -> TrainSettings {
        let target = match loss {
            Some(Loss::Mse) => TableTarget::Value,
            Some(Loss::CrossEntropy) | None => TableTarget::Classes,
        };
        train_settings(self, train, target)
    }

    /// Reports `diagnostic` and returns the "already reported" error.
    pub(super) fn fail<T>(&mut self, diagnostic: Diagnostic) -> Result<T, ()> {
        self.error(diagnostic);
        Err(())
    }
}

fn train_settings(
    builder: &mut Builder<'_>,
    train: Option<&Train>,
    target: TableTarget,
) -> TrainSettings {
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
        let Ok(result) = setting(builder, &mut settings, &name.name, name.span, value, target)
        else {
            continue;
        };
        if let Err(diagnostic) = result {
            builder.error(diagnostic);
        }
    }
    // Two ways of changing the learning rate would fight: one of them must go.
    let decay = seen.iter().find(|(n, _)| *n == "lr_decay");
    let schedule = seen.iter().find(|(n, _)| *n == "schedule");
    if let (Some((_, decay)), Some((_, schedule))) = (decay, schedule)
        && settings.schedule != Schedule::Constant
    {
        let line = builder.line_of(decay.start);
        builder.error(
            Diagnostic::new(
                "`lr_decay` and `schedule` both change the learning rate",
                *schedule,
                "a second learning-rate rule",
            )
            .with_help(format!(
                "keep one of them: `lr_decay` is on line {line}; a schedule replaces it"
            )),
        );
    }
    if let DataSource::Csv(_) = settings.data {
        // A table's rows are vectors: mirroring or shifting one would scramble its
        // features.
        let augmenting = [("flip", settings.flip > 0.0), ("shift", settings.shift > 0)];
        for (setting, on) in augmenting {
            let Some((_, span)) = seen.iter().find(|(n, _)| *n == setting).filter(|_| on) else {
                continue;
            };
            builder.error(
                Diagnostic::new(
                    format!("`{setting}` augments images, and a table has none"),
                    *span,
                    "not for a table",
                )
                .with_help(format!(
                    "remove `{setting}`: it mirrors or shifts the pixels of image datasets"
                )),
            );
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
    target: TableTarget,
) -> Result<Result<(), Diagnostic>, ()> {
    let span = expr.span;
    let def = settings::find(name);
    match (def.map(|d| d.kind), &expr.kind) {
        (Some(Kind::Data), ExprKind::Call { func, args, .. }) => {
            return data_file(builder, func, args, target).map(|source| {
                (settings.data, settings.data_span) = (source, Some(span));
                Ok(())
            });
        }
        (Some(Kind::Optimizer), _) => {
            return optimizer(builder, expr).map(|o| {
                settings.optimizer = o;
                Ok(())
            });
        }
        (Some(Kind::Schedule), _) => {
            return schedule(builder, expr).map(|s| {
                settings.schedule = s;
                Ok(())
            });
        }
        _ => {}
    }
    let value = builder.constant(expr)?;
    let found = value.describe(&[]);
    let Some(def) = def else {
        let names: Vec<&str> = settings::names().collect();
        return Ok(Err(Diagnostic::new(
            format!("unknown setting `{name}`"),
            name_span,
            did_you_mean(name, names.iter().copied(), "not a setting"),
        )
        .with_help(format!("the settings are {}", names.join(", ")))));
    };
    let Kind::Scalar(kind) = def.kind else {
        // The named datasets and folders: calls were read above.
        return Ok(match value {
            Value::Symbol(s) if s == "mnist" => {
                (settings.data, settings.data_span) = (DataSource::Mnist, Some(span));
                Ok(())
            }
            Value::Symbol(s) if s == "fashion_mnist" => {
                (settings.data, settings.data_span) = (DataSource::FashionMnist, Some(span));
                Ok(())
            }
            Value::Symbol(s) => Err(Diagnostic::new(
                format!("unknown dataset `{s}`"),
                span,
                did_you_mean(&s, DATASETS, "not a built-in dataset"),
            )
            .with_help("use `mnist`, `fashion_mnist`, a folder of IDX files as a string (`data = \"path/to/dir\"`), `csv(...)` or `npz(...)`")),
            Value::Str(path) => {
                (settings.data, settings.data_span) = (DataSource::Path(path), Some(span));
                Ok(())
            }
            _ => Err(Diagnostic::new(
                format!("`data` must be a dataset, found {found}"),
                span,
                "expected `mnist`, `fashion_mnist`, a path, `csv(...)` or `npz(...)`",
            )),
        });
    };
    let checked = match (kind, value) {
        (
            Scalar::Whole {
                min,
                max,
                unit,
                too_large,
            },
            value,
        ) => whole(value, span, name, min).and_then(|n| {
            if n > max {
                return Err(Diagnostic::new(
                    format!("`{name}` of {n}{unit} {too_large}"),
                    span,
                    format!("at most {max}"),
                ));
            }
            Ok(Setting::Whole(n))
        }),
        (Scalar::WholeOrOff { .. }, Value::Bool(false)) => Ok(Setting::Off),
        (Scalar::WholeOrOff { min }, value) => whole(value, span, name, min).map(Setting::Whole),
        (Scalar::Bool, Value::Bool(b)) => Ok(Setting::Bool(b)),
        (Scalar::Bool, _) => Err(Diagnostic::new(
            format!("`{name}` must be `true` or `false`, found {found}"),
            span,
            "expected `true` or `false`",
        )),
        (Scalar::Number { .. }, Value::Number { value, .. }) if kind.admits(value) => {
            Ok(Setting::Number(value))
        }
        (Scalar::Number { words, .. }, _) => Err(Diagnostic::new(
            format!("`{name}` must be {words}, found {found}"),
            span,
            "out of range",
        )
        .with_help(def.help)),
    };
    Ok(checked.map(|value| (def.set)(settings, value)))
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

/// One kind of data file `data` can call, its parameters bound as a built-in's.
struct DataFileDef {
    name: &'static str,
    params: &'static [ParamDef],
}

const PATH_HELP: &str = "a relative path is relative to the `.nn` file's folder";

const DATA_FILES: [DataFileDef; 2] = [
    DataFileDef {
        name: "csv",
        params: &[
            setting_param("path", ArgKind::Path, Default::Required, "", PATH_HELP),
            setting_param(
                "label",
                ArgKind::Text,
                Default::Required,
                "",
                "the label column, by the name the header gives it: `label = \"species\"`",
            ),
            setting_param(
                "test",
                ArgKind::FractionOrFile,
                Default::Number(0.2, "0.2"),
                "",
                "`test = 0.2` holds out a fifth of the rows; `test = \"test.csv\"` tests on a file with the same columns",
            ),
            setting_param("normalize", ArgKind::Bool, Default::Bool(true), "", ""),
        ],
    },
    DataFileDef {
        name: "npz",
        params: &[setting_param(
            "path",
            ArgKind::Path,
            Default::Required,
            "",
            PATH_HELP,
        )],
    },
];

/// `csv(PATH, label = COLUMN, test = 0.2, normalize = true)` or `npz(PATH)`.
fn data_file(
    builder: &mut Builder<'_>,
    func: &Ident,
    args: &[crate::language::ast::Arg],
    target: TableTarget,
) -> Result<DataSource, ()> {
    let Some(def) = DATA_FILES.iter().find(|d| d.name == func.name) else {
        let label = did_you_mean(&func.name, DATA_FILES.map(|d| d.name), "not a data file");
        return builder.fail(
            Diagnostic::new(
                format!("unknown data file `{}`", func.name),
                func.span,
                label,
            )
            .with_help(
                "use `csv(\"table.csv\", label = \"COLUMN\")` for a table or `npz(\"arrays.npz\")` for NumPy arrays",
            ),
        );
    };
    let given = builder.bind_arguments(def.name, func, args, def.params, false)?;
    let mut checked = builder
        .check_arguments(def.name, def.params, given, func.span)?
        .into_iter();
    let mut next = || checked.next().expect("one argument per parameter");
    let text = |arg: Arg| match arg {
        Arg::Text(text) => text,
        other => unreachable!("a path or a column is text, found {other:?}"),
    };
    let path = text(next());
    if def.name == "npz" {
        return Ok(DataSource::Npz(path));
    }
    let label = text(next());
    let test = match next() {
        Arg::FractionOrFile(FractionOrFile::Fraction(fraction)) => Holdout::Fraction(fraction),
        Arg::FractionOrFile(FractionOrFile::File(file)) => Holdout::File(file),
        other => unreachable!("`test` is a fraction or a file, found {other:?}"),
    };
    let normalize = match next() {
        Arg::Bool(b) => b,
        other => unreachable!("`normalize` is a bool, found {other:?}"),
    };
    Ok(DataSource::Csv(CsvSource {
        path,
        label,
        test,
        normalize,
        target,
    }))
}
