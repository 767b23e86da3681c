//! `sigmoid`: `1 / (1 + e⁻ˣ)`, element-wise, differentiated from its saved output.

use super::function::activation;
use super::{Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sigmoid;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "sigmoid",
    "`1 / (1 + e^-x)`, element-wise",
    "x |> sigmoid",
    Takes::Any,
    |_| Ok(Box::new(Sigmoid)),
)];

impl Layer for Sigmoid {
    fn kind(&self) -> &'static str {
        "sigmoid"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        4 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.sigmoid(at.x()))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Sigmoid", vec![at.input(0)], vec![]);
    }
}

impl Tape {
    /// `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Sigmoid, &[x], shape)
    }
}

impl Rule for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::sigmoid(cx.input(0), out);
    }

    /// `dy/dx = y·(1 − y)`: reads the saved output, so the input need not be kept.
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::sigmoid_backward(out, grad_out, grad);
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
        fn sigmoid_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.sigmoid(v[0]))).unwrap())?;
        }
    }
}
