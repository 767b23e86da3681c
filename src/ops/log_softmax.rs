//! `log_softmax`: the logarithm of `softmax`, computed stably, differentiated from its
//! saved output.

use super::function::activation;
use super::softmax::softmax_shape;
use super::{Attr, Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::reduce;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogSoftmax;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "log_softmax",
    "the logarithm of `softmax`, computed stably",
    "x |> log_softmax",
    Takes::Vector,
    |_| Ok(Box::new(LogSoftmax)),
)];

impl Layer for LogSoftmax {
    fn kind(&self) -> &'static str {
        "log_softmax"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        softmax_shape("log_softmax", inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        5 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.log_softmax(at.x()))
    }

    /// Over each sample's vector, the last axis.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("LogSoftmax", vec![at.input(0)], vec![Attr::Int("axis", -1)]);
    }

    fn is_softmax_of_input(&self) -> bool {
        true
    }
}

impl Tape {
    /// `log softmax` over each row.
    pub fn log_softmax(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(LogSoftmax, &[x], shape)
    }
}

impl Rule for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        reduce::log_softmax_rows(cx.input(0), cx.shape.cols(), out);
    }

    /// `∂L/∂x = ∂L/∂y − softmax(x)·Σ ∂L/∂y` per row, `softmax(x) = e^y`.
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            reduce::log_softmax_backward_rows(out, grad_out, cx.shape.cols(), grad);
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
        fn log_softmax_matches_central_differences(input in matrix(-4.0..4.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.log_softmax(v[0]))).unwrap())?;
        }
    }
}
