//! `ln x`, element-wise (cross-entropy on an output that is not a softmax).

use super::Builtin;
use super::elementwise::Elementwise;
use crate::autodiff::{Tape, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Log;

impl Elementwise for Log {
    const NAME: &'static str = "log";
    const ONNX: &'static str = "Log";
    const FLOPS: u64 = 4;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::ln(x, out);
    }

    /// `dy/dx = 1/x`.
    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::ln_backward(x, grad_y, grad_x);
    }
}

impl Tape {
    pub fn log(&mut self, x: Var) -> Var {
        self.elementwise(Log, x)
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
        fn log_matches_central_differences(input in matrix(-2.0..2.0)) {
            let positive = (input.0, input.1.iter().map(|x| x.abs() + 0.5).collect());
            assert_ok(check_function(&[positive], |t, v| Ok(t.log(v[0]))).unwrap())?;
        }
    }
}
