//! `c * a` (and `a * c`): a layer times a number.

use super::elementwise::Elementwise;
use super::{Builtin, Onnx};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale(pub f32);

impl Elementwise for Scale {
    const NAME: &'static str = "scale";
    const ONNX: &'static str = "Mul";
    const FLOPS: u64 = 1;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::scale(self.0, x, out);
    }

    fn backward(&self, _x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::axpy(self.0, grad_y, grad_x);
    }

    fn describe(&self) -> String {
        format!("scale({})", self.0)
    }

    /// `Mul` with the number as a scalar initializer.
    fn onnx(&self, at: &mut dyn Onnx) {
        let c = at.scalar("scale", self.0);
        at.emit("Mul", vec![at.input(0), c], vec![]);
    }
}

impl Tape {
    /// `alpha·x`.
    pub fn scale(&mut self, x: Var, alpha: f32) -> Var {
        self.elementwise(Scale(alpha), x)
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
