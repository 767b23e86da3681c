//! Evaluating expressions: numbers, strings, names (layers first in model lines, then
//! `let`s) and calls; arithmetic is `arithmetic.rs`, calls `calls.rs`.

use super::{Builder, Mode, Value};
use crate::language::ast::{Expr, ExprKind};
use crate::language::{Diagnostic, Span};
use crate::ops as builtins;
use crate::suggest::did_you_mean;

impl Builder<'_> {
    /// Evaluates an option or setting: `let`s resolved, other names kept as symbols.
    pub(in crate::graph) fn constant(&mut self, expr: &Expr) -> Result<Value, ()> {
        self.eval(expr, Mode::Constant)
    }

    pub(super) fn eval(&mut self, expr: &Expr, mode: Mode) -> Result<Value, ()> {
        match &expr.kind {
            ExprKind::Number { value, text } => Ok(Value::Number {
                value: *value,
                text: text.clone(),
            }),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Name(name) => self.name(name, expr.span, mode),
            ExprKind::Call { func, args, piped } => {
                if mode == Mode::Constant {
                    self.error(Diagnostic::new(
                        format!(
                            "expected a number, a name or a string, found a call to `{}`",
                            func.name
                        ),
                        expr.span,
                        "a call cannot stand here",
                    ));
                    return Err(());
                }
                self.call(expr, func, args, *piped)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (lhs_value, rhs_value) = (self.eval(lhs, mode), self.eval(rhs, mode));
                self.binary(expr, *op, (lhs_value?, lhs.span), (rhs_value?, rhs.span))
            }
        }
    }

    fn name(&mut self, name: &str, span: Span, mode: Mode) -> Result<Value, ()> {
        if mode == Mode::Layer
            && let Some((node, _)) = self.bound.get(name)
        {
            return node.map(Value::Node).ok_or(());
        }
        if let Some(value) = self.params.get(name) {
            return Ok(value.clone());
        }
        if let Some(entry) = self.lets.get(name) {
            return Ok(entry.value.clone());
        }
        if mode == Mode::Constant {
            return Ok(Value::Symbol(name.to_owned()));
        }
        if self.all_bound.contains(name) {
            self.error(
                Diagnostic::new(
                    format!("`{name}` is used before it is bound"),
                    span,
                    "not bound yet",
                )
                .with_help(
                    "model lines are evaluated in order; move this line below the one binding it",
                ),
            );
        } else if builtins::find(name).is_some() {
            self.error(
                Diagnostic::new(
                    format!("`{name}` is a function, not a layer"),
                    span,
                    "a function",
                )
                .with_help(format!("apply it to a layer: `x |> {name}`")),
            );
        } else {
            let candidates: Vec<&str> = self
                .bound
                .keys()
                .chain(self.lets.keys())
                .map(String::as_str)
                .collect();
            let label = did_you_mean(name, candidates, "not found");
            self.error(Diagnostic::new(
                format!("undefined name `{name}`"),
                span,
                label,
            ));
        }
        Err(())
    }

    /// A number as an `f32` scalar of the graph.
    pub(in crate::graph) fn float32(&mut self, value: f64, span: Span) -> Result<f32, ()> {
        let single = value as f32;
        if single.is_finite() {
            Ok(single)
        } else {
            self.error(Diagnostic::new(
                format!("{value} is out of range for a 32-bit float"),
                span,
                "out of range",
            ));
            Err(())
        }
    }
}
