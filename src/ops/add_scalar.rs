//! `a + c` (and `a - c` as `a + (-c)`): a layer plus a number.

use super::{Builtin, Layer, Lowering, Onnx};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddScalar(pub f32);

impl Layer for AddScalar {
    fn kind(&self) -> &'static str {
        "add_scalar"
    }

    fn describe(&self) -> String {
        format!("add_scalar({})", self.0)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.add_scalar(at.x(), self.0))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        let c = at.scalar("add", self.0);
        at.emit("Add", vec![at.input(0), c], vec![]);
    }
}

impl Tape {
    /// `x + c`.
    pub fn add_scalar(&mut self, x: Var, c: f32) -> Var {
        let shape = self.shape(x);
        self.push(AddScalar(c), &[x], shape)
    }
}

impl Rule for AddScalar {
    fn name(&self) -> &'static str {
        "add_scalar"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::add_scalar(self.0, cx.input(0), out);
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
        fn add_scalar_matches_central_differences(input in matrix(-2.0..2.0), c in -2.0f32..2.0) {
            assert_ok(check_function(&[input], |t, v| Ok(t.add_scalar(v[0], c))).unwrap())?;
        }
    }
}
