//! The `train` block's calls other than data files: `optimizer = sgd(...)` or `adam(...)`,
//! and `schedule = cosine`, `onecycle(max_lr)` or `constant`, their arguments bound with
//! the built-ins' binder.

use super::{Builder, Value};
use crate::graph::{OptimizerSettings, Schedule};
use crate::language::Diagnostic;
use crate::language::Span;
use crate::language::ast::{Expr, ExprKind, Ident};
use crate::ops::{Arg, ArgKind, Default, ParamDef};
use crate::suggest::did_you_mean;

/// One optimizer of the language: its parameters (as a built-in's) and how the checked
/// arguments become an [`OptimizerSettings`].
struct OptimizerDef {
    name: &'static str,
    params: &'static [ParamDef],
    build: fn(&[f32]) -> OptimizerSettings,
}

const LR_HELP: &str = "try `lr = 0.1` for sgd or `lr = 0.001` for adam";
const FRACTION_HELP: &str = "the usual values are momentum 0.9, beta1 0.9, beta2 0.999";

pub(super) const fn setting_param(
    name: &'static str,
    kind: ArgKind,
    default: Default,
    what: &'static str,
    help: &'static str,
) -> ParamDef {
    ParamDef {
        name,
        kind,
        default,
        what,
        help,
    }
}

const OPTIMIZERS: [OptimizerDef; 2] = [
    OptimizerDef {
        name: "sgd",
        params: &[
            setting_param(
                "lr",
                ArgKind::Positive,
                Default::Required,
                "the learning rate",
                LR_HELP,
            ),
            setting_param(
                "momentum",
                ArgKind::Fraction,
                Default::Number(0.0, "0"),
                "",
                FRACTION_HELP,
            ),
        ],
        build: |v| OptimizerSettings::Sgd {
            lr: v[0],
            momentum: v[1],
        },
    },
    OptimizerDef {
        name: "adam",
        params: &[
            setting_param(
                "lr",
                ArgKind::Positive,
                Default::Number(0.001, "0.001"),
                "the learning rate",
                LR_HELP,
            ),
            setting_param(
                "beta1",
                ArgKind::Fraction,
                Default::Number(0.9, "0.9"),
                "",
                FRACTION_HELP,
            ),
            setting_param(
                "beta2",
                ArgKind::Fraction,
                Default::Number(0.999, "0.999"),
                "",
                FRACTION_HELP,
            ),
            setting_param(
                "eps",
                ArgKind::Positive,
                Default::Number(1e-8, "1e-8"),
                "",
                "the usual value is 1e-8",
            ),
        ],
        build: |v| OptimizerSettings::Adam {
            lr: v[0],
            beta1: v[1],
            beta2: v[2],
            eps: v[3],
        },
    },
];

/// `sgd(lr, momentum = 0)` or `adam(lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8)`,
/// written as a call or (for adam) a bare name.
pub(super) fn optimizer(builder: &mut Builder<'_>, expr: &Expr) -> Result<OptimizerSettings, ()> {
    let (func, args) = match &expr.kind {
        ExprKind::Call { func, args, .. } => (func.clone(), args.as_slice()),
        ExprKind::Name(name) => match builder.constant(expr)? {
            Value::Symbol(s) => (
                Ident {
                    name: s,
                    span: expr.span,
                },
                [].as_slice(),
            ),
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
    let Some(def) = OPTIMIZERS.iter().find(|o| o.name == func.name) else {
        let label = did_you_mean(&func.name, OPTIMIZERS.map(|o| o.name), "not an optimizer");
        return builder.fail(
            Diagnostic::new(
                format!("unknown optimizer `{}`", func.name),
                func.span,
                label,
            )
            .with_help("use `sgd(lr = 0.1)` or `adam(lr = 0.001)`"),
        );
    };
    let given = builder.bind_arguments(def.name, &func, args, def.params, false)?;
    let checked = builder.check_arguments(def.name, def.params, given, func.span)?;
    let values: Vec<f32> = checked
        .iter()
        .map(|arg| match arg {
            Arg::Number(x) => *x,
            other => unreachable!("optimizer parameters are numbers, found {other:?}"),
        })
        .collect();
    Ok((def.build)(&values))
}

/// The parameter of `onecycle(max_lr)`.
const ONECYCLE: [ParamDef; 1] = [setting_param(
    "max_lr",
    ArgKind::Positive,
    Default::Required,
    "the peak learning rate",
    "e.g. `schedule = onecycle(0.1)`: the rate rises to it, then anneals to almost 0",
)];

/// `schedule = cosine`, `onecycle(max_lr)` or `constant`.
pub(super) fn schedule(builder: &mut Builder<'_>, expr: &Expr) -> Result<Schedule, ()> {
    const NAMES: [&str; 3] = ["constant", "cosine", "onecycle"];
    let unknown = |builder: &mut Builder<'_>, name: &str, span: Span| -> Result<Schedule, ()> {
        let label = did_you_mean(name, NAMES, "not a schedule");
        builder.fail(
            Diagnostic::new(format!("unknown schedule `{name}`"), span, label)
                .with_help("use `cosine` or `onecycle(max_lr)`"),
        )
    };
    match &expr.kind {
        ExprKind::Call { func, args, .. } if func.name == "onecycle" => {
            let given = builder.bind_arguments("onecycle", func, args, &ONECYCLE, false)?;
            let checked = builder.check_arguments("onecycle", &ONECYCLE, given, func.span)?;
            match checked.as_slice() {
                [Arg::Number(max_lr)] => Ok(Schedule::OneCycle { max_lr: *max_lr }),
                other => unreachable!("onecycle's one parameter is a number, found {other:?}"),
            }
        }
        ExprKind::Call { func, .. } => unknown(builder, &func.name, func.span),
        _ => match builder.constant(expr)? {
            Value::Symbol(s) if s == "cosine" => Ok(Schedule::Cosine),
            Value::Symbol(s) if s == "constant" => Ok(Schedule::Constant),
            Value::Symbol(s) if s == "onecycle" => builder.fail(
                Diagnostic::new("`onecycle` needs `max_lr`", expr.span, "`max_lr` missing")
                    .with_help("e.g. `schedule = onecycle(0.1)`"),
            ),
            Value::Symbol(s) => unknown(builder, &s, expr.span),
            other => builder.fail(Diagnostic::new(
                format!(
                    "`schedule` must be `cosine` or `onecycle(max_lr)`, found {}",
                    other.describe(&[])
                ),
                expr.span,
                "not a schedule",
            )),
        },
    }
}
