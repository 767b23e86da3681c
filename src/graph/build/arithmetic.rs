//! Arithmetic: numbers fold to numbers; layers combine element-wise (`+ - *`, shapes by
//! the ops' own rule); a layer and a number become `scale` / `add_scalar` nodes.

use super::{Builder, Value};
use crate::graph::Op;
use crate::language::ast::{BinOp, Expr};
use crate::language::{Diagnostic, Span};

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
                let op = match op {
                    BinOp::Add => Op::Add,
                    BinOp::Sub => Op::Sub,
                    BinOp::Mul => Op::Mul,
                };
                Ok(Value::Node(self.add_node(op, vec![a, b], span)?))
            }
            (Value::Node(a), Value::Number { value: c, .. }) => {
                let c = self.float32(c, rhs.1)?;
                let op = match op {
                    BinOp::Add => Op::AddScalar(c),
                    BinOp::Sub => Op::AddScalar(-c),
                    BinOp::Mul => Op::Scale(c),
                };
                Ok(Value::Node(self.add_node(op, vec![a], span)?))
            }
            (Value::Number { value: c, .. }, Value::Node(a)) => {
                let c = self.float32(c, lhs.1)?;
                let id = match op {
                    BinOp::Add => self.add_node(Op::AddScalar(c), vec![a], span)?,
                    BinOp::Mul => self.add_node(Op::Scale(c), vec![a], span)?,
                    BinOp::Sub => {
                        let negated = self.add_node(Op::Scale(-1.0), vec![a], span)?;
                        self.add_node(Op::AddScalar(c), vec![negated], span)?
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
