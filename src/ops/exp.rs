//! `eˣ`, element-wise, differentiated from its saved output.

use super::Builtin;
use super::elementwise::Elementwise;
use crate::autodiff::{Tape, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exp;

impl Elementwise for Exp {
    const NAME: &'static str = "exp";
    const ONNX: &'static str = "Exp";
    const FLOPS: u64 = 4;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::exp(x, out);
    }

    /// `dy/dx = y`.
    fn backward(&self, _x: &[f32], y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::mul_acc(grad_y, y, grad_x);
    }
}

impl Tape {
    pub fn exp(&mut self, x: Var) -> Var {
        self.elementwise(Exp, x)
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
        fn exp_matches_central_differences(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.exp(v[0]))).unwrap())?;
        }
    }
}
