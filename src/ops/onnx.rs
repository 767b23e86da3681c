//! What an operation's ONNX translation sees of the exporter (`crate::export`
//! implements it): the node's operands, its tensors, and a way to emit ONNX nodes.

use crate::autodiff::{Shape, TapeError};

use super::{Declare, ParamSpec};

/// An ONNX attribute of an emitted node.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(&'static str, i64),
    Ints(&'static str, Vec<i64>),
    Float(&'static str, f32),
    Str(&'static str, &'static str),
}

/// One of the node's own tensors, as its declaration names it (see [`Positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorRef(pub usize);

/// The exporter, as one graph node's translation sees it.
pub trait Onnx {
    /// The value name of operand `k`; the graph was validated, so the op has it.
    fn input(&self, k: usize) -> String;

    /// Every operand's value name, in order.
    fn inputs(&self) -> Vec<String>;

    /// The per-sample shape of operand `k`.
    fn input_shape(&self, k: usize) -> Shape;

    /// Adds one of the node's tensors as an initializer in its saved layout (a dense
    /// weight `[units, n_in]` even when memory holds it transposed), and names it.
    fn tensor(&mut self, tensor: TensorRef) -> String;

    /// Adds a scalar constant (`{node}.{what}`) as an initializer and names it.
    fn scalar(&mut self, what: &str, value: f32) -> String;

    /// Adds a vector constant (`{node}.{what}`) as an initializer and names it.
    fn constant(&mut self, what: &str, values: &[f32]) -> String;

    /// Emits the ONNX node that computes the graph node's value from `inputs`.
    fn emit(&mut self, op_type: &str, inputs: Vec<String>, attributes: Vec<Attr>);

    /// Emits an ONNX node computing a step on the way, `{node}.{what}`; returns its name.
    fn emit_value(
        &mut self,
        what: &str,
        op_type: &str,
        inputs: Vec<String>,
        attributes: Vec<Attr>,
    ) -> String;

    /// The operands' per-sample shapes.
    fn input_shapes(&self) -> Vec<Shape>;
}

/// The node's tensors as references for [`Onnx::tensor`]: the `k`-th declared is `k`.
#[derive(Debug, Default)]
pub struct Positions(usize);

impl Declare<TensorRef> for Positions {
    fn tensor(&mut self, _spec: ParamSpec) -> Result<TensorRef, TapeError> {
        self.0 += 1;
        Ok(TensorRef(self.0 - 1))
    }
}
