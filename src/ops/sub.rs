//! `a - b`: the element-wise difference of two layers of one shape.

use super::add::same_shape;
use super::{Builtin, Layer, Lowering, Onnx};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sub;

impl Layer for Sub {
    fn kind(&self) -> &'static str {
        "sub"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        same_shape("-", inputs[0], inputs[1])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.sub(at.inputs[0], at.inputs[1])
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Sub", vec![at.input(0), at.input(1)], vec![]);
    }
}

impl Tape {
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let shape = self.same_shape("sub", a, b)?;
        Ok(self.push(Sub, &[a, b], shape))
    }

    /// The mean over all elements of `(a − b)²` (the `mse` loss).
    pub fn mse(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let diff = self.sub(a, b)?;
        let squared = self.mul(diff, diff)?;
        Ok(self.mean(squared))
    }
}

impl Rule for Sub {
    fn name(&self) -> &'static str {
        "sub"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::sub(cx.input(0), cx.input(1), out);
    }

    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::add_assign(grad_out, grad);
        }
        if let Some(grad) = grads.get_mut(cx.inputs[1]) {
            simd::axpy(-1.0, grad_out, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::ops::add::tests::pair;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn sub_and_mse_match_central_differences(inputs in pair()) {
            assert_ok(check_function(&inputs, |t, v| t.sub(v[0], v[1])).unwrap())?;
            assert_ok(check_function(&inputs, |t, v| t.mse(v[0], v[1])).unwrap())?;
        }
    }
}
