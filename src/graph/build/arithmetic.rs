//! Arithmetic: numbers fold to numbers; layers combine element-wise (`+ - *`, shapes by
//! the ops' own rule); a layer and a number become `scale` / `add_scalar` nodes.

use super::{Builder, Value};
use crate::language::ast::{BinOp, Expr};
use crate::language::{Diagnostic, Span};
use crate::ops::Layer;
use crate::ops::add::Add;
use crate::ops::add_scalar::AddScalar;
use crate::ops::mul::Mul;
use crate::ops::scale::Scale;
use crate::ops::sub::Sub;

impl Builder<'_> {
    pub(super) fn binary(
        &mut self,
        expr: &Expr,
        op: BinOp,
        lhs: (Value, Span),
        rhs: (Value, Span),
    ) -> Result<Value, ()> {
        let span = expr.span;
        let symbol = op.symbol();
        match (lhs.0, rhs.0) {
            (Value::Number { value: a, .. }, Value::Number { value: b, .. }) => {
                let value = match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                };
                if !value.is_finite() {
                    self.error(Diagnostic::new(
                        "this number is too large",
                        span,
                        "too large",
                    ));
                    return Err(());
                }
                Ok(Value::Number {
                    value,
                    text: format_number(value),
                })
            }
            (Value::Node(a), Value::Node(b)) => {
                let op: Box<dyn Layer> = match op {
                    BinOp::Add => Box::new(Add),
                    BinOp::Sub => Box::new(Sub),
                    BinOp::Mul => Box::new(Mul),
                };
                Ok(Value::Node(self.add_node(op, vec![a, b], span)?))
            }
            (Value::Node(a), Value::Number { value: c, .. }) => {
                let c = self.float32(c, rhs.1)?;
                let op: Box<dyn Layer> = match op {
                    BinOp::Add => Box::new(AddScalar(c)),
                    BinOp::Sub => Box::new(AddScalar(-c)),
                    BinOp::Mul => Box::new(Scale(c)),
                };
                Ok(Value::Node(self.add_node(op, vec![a], span)?))
            }
            (Value::Number { value: c, .. }, Value::Node(a)) => {
                let c = self.float32(c, lhs.1)?;
                let id = match op {
                    BinOp::Add => self.add_node(Box::new(AddScalar(c)), vec![a], span)?,
                    BinOp::Mul => self.add_node(Box::new(Scale(c)), vec![a], span)?,
                    BinOp::Sub => {
                        let negated = self.add_node(Box::new(Scale(-1.0)), vec![a], span)?;
                        self.add_node(Box::new(AddScalar(c)), vec![negated], span)?
                    }
                };
                Ok(Value::Node(id))
            }
            (a, b) => {
                let (a, b) = (a.describe(&self.nodes), b.describe(&self.nodes));
                self.error(Diagnostic::new(
                    format!("`{symbol}` works on layers and numbers, not on {a} and {b}"),
                    span,
                    "cannot combine these",
                ));
                Err(())
            }
        }
    }
}

fn format_number(value: f64) -> String {
    format!("{value}")
}
