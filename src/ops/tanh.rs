//! `tanh`, element-wise, differentiated from its saved output.

use super::function::activation;
use super::{Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tanh;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "tanh",
    "`tanh x`, element-wise",
    "x |> tanh",
    Takes::Any,
    |_| Ok(Box::new(Tanh)),
)];

impl Layer for Tanh {
    fn kind(&self) -> &'static str {
        "tanh"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        4 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.tanh(at.x()))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Tanh", vec![at.input(0)], vec![]);
    }
}

impl Tape {
    /// `tanh x`.
    pub fn tanh(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Tanh, &[x], shape)
    }
}

impl Rule for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::tanh(cx.input(0), out);
    }

    /// `dy/dx = 1 − y²`.
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::tanh_backward(out, grad_out, grad);
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
        fn tanh_backward_matches_central_differences(input in matrix(-3.0..3.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.tanh(v[0]))).unwrap())?;
        }
    }
}
