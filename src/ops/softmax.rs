//! `softmax`: probabilities over each sample's vector, differentiated from its saved
//! output. Cross-entropy on a softmax is computed from its input instead (see
//! `softmax_cross_entropy`).

use super::function::activation;
use super::{Attr, Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{
    Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var, describe_shape,
};
use crate::kernels::reduce;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "softmax",
    "probabilities over a vector's values",
    "x |> softmax",
    Takes::Vector,
    |_| Ok(Box::new(Softmax)),
)];

/// The shape rule of `softmax` and `log_softmax`: a vector keeps its shape.
pub fn softmax_shape(name: &str, x: Shape) -> Result<Shape, ShapeError> {
    if x.is_vector() {
        return Ok(x);
    }
    Err(ShapeError::new(
        format!("`{name}` takes a vector, found {}", describe_shape(x)),
        "not a vector",
    )
    .with_help(format!(
        "flatten the image and score it first: `x |> flatten |> dense(10) |> {name}`"
    )))
}

impl Layer for Softmax {
    fn kind(&self) -> &'static str {
        "softmax"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        softmax_shape("softmax", inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        5 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.softmax(at.x()))
    }

    /// Over each sample's vector, the last axis.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Softmax", vec![at.input(0)], vec![Attr::Int("axis", -1)]);
    }

    fn is_softmax_of_input(&self) -> bool {
        true
    }
}

impl Tape {
    /// Softmax over each row.
    pub fn softmax(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Softmax, &[x], shape)
    }
}

impl Rule for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        reduce::softmax_rows(cx.input(0), cx.shape.cols(), out);
    }

    /// `∂L/∂x = y ∘ (∂L/∂y − Σ ∂L/∂y ∘ y)` per row.
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            reduce::softmax_backward_rows(out, grad_out, cx.shape.cols(), grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn softmax_matches_central_differences(input in matrix(-4.0..4.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.softmax(v[0]))).unwrap())?;
        }
    }
}
