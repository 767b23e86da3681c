//! `a + c` (and `a - c` as `a + (-c)`): a layer plus a number.

use super::elementwise::Elementwise;
use super::{Builtin, Onnx};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddScalar(pub f32);

impl Elementwise for AddScalar {
    const NAME: &'static str = "add_scalar";
    const ONNX: &'static str = "Add";
    const FLOPS: u64 = 1;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::add_scalar(self.0, x, out);
    }

    fn backward(&self, _x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::add_assign(grad_y, grad_x);
    }

    fn describe(&self) -> String {
        format!("add_scalar({})", self.0)
    }

    /// `Add` with the number as a scalar initializer.
    fn onnx(&self, at: &mut dyn Onnx) {
        let c = at.scalar("add", self.0);
        at.emit("Add", vec![at.input(0), c], vec![]);
    }
}

impl Tape {
    /// `x + c`.
    pub fn add_scalar(&mut self, x: Var, c: f32) -> Var {
        self.elementwise(AddScalar(c), x)
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
