//! `a * b`: the element-wise product of two layers of one shape (a gate).

use super::add::same_shape;
use super::{Builtin, Layer, Lowering, Onnx};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mul;

impl Layer for Mul {
    fn kind(&self) -> &'static str {
        "mul"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        same_shape("*", inputs[0], inputs[1])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.mul(at.inputs[0], at.inputs[1])
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Mul", vec![at.input(0), at.input(1)], vec![]);
    }
}

impl Tape {
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let shape = self.same_shape("mul", a, b)?;
        Ok(self.push(Mul, &[a, b], shape))
    }
}

impl Rule for Mul {
    fn name(&self) -> &'static str {
        "mul"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::mul(cx.input(0), cx.input(1), out);
    }

    /// `∂L/∂a = ∂L/∂y ∘ b` and `∂L/∂b = ∂L/∂y ∘ a`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::mul_acc(grad_out, cx.input(1), grad);
        }
        if let Some(grad) = grads.get_mut(cx.inputs[1]) {
            simd::mul_acc(grad_out, cx.input(0), grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::ops::add::tests::pair;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn mul_matches_central_differences(inputs in pair()) {
            assert_ok(check_function(&inputs, |t, v| t.mul(v[0], v[1])).unwrap())?;
        }

        #[test]
        fn a_value_squared_gets_both_gradients(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(&[input], |t, v| t.mul(v[0], v[0])).unwrap())?;
        }
    }
}
