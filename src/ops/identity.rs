//! `identity`: the layer unchanged (`let act = identity` turns an activation off). It
//! records nothing on the tape.

use super::function::activation;
use super::{Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Shape, ShapeError, TapeError, Var};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Identity;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "identity",
    "the layer unchanged",
    "x |> identity",
    Takes::Any,
    |_| Ok(Box::new(Identity)),
)];

impl Layer for Identity {
    fn kind(&self) -> &'static str {
        "identity"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], _output: Shape) -> u64 {
        0
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.x())
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Identity", vec![at.input(0)], vec![]);
    }
}
