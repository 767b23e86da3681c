//! `c * a` (and `a * c`): a layer times a number.

use super::{Builtin, Layer, Lowering, Onnx};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale(pub f32);

impl Layer for Scale {
    fn kind(&self) -> &'static str {
        "scale"
    }

    fn describe(&self) -> String {
        format!("scale({})", self.0)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.scale(at.x(), self.0))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        let c = at.scalar("scale", self.0);
        at.emit("Mul", vec![at.input(0), c], vec![]);
    }
}

impl Tape {
    /// `alpha·x`.
    pub fn scale(&mut self, x: Var, alpha: f32) -> Var {
        let shape = self.shape(x);
        self.push(Scale(alpha), &[x], shape)
    }
}

impl Rule for Scale {
    fn name(&self) -> &'static str {
        "scale"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::scale(self.0, cx.input(0), out);
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
            simd::axpy(self.0, grad_out, grad);
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
        fn scale_matches_central_differences(input in matrix(-2.0..2.0), alpha in -2.0f32..2.0) {
            assert_ok(check_function(&[input], |t, v| Ok(t.scale(v[0], alpha))).unwrap())?;
        }
    }
}
