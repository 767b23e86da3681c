//! `tanh`, element-wise, differentiated from its saved output.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Builtin, Takes};
use crate::autodiff::{Tape, Var};
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

impl Elementwise for Tanh {
    const NAME: &'static str = "tanh";
    const ONNX: &'static str = "Tanh";
    const FLOPS: u64 = 4;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::tanh(x, out);
    }

    /// `dy/dx = 1 − y²`.
    fn backward(&self, _x: &[f32], y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::tanh_backward(y, grad_y, grad_x);
    }
}

impl Tape {
    /// `tanh x`.
    pub fn tanh(&mut self, x: Var) -> Var {
        self.elementwise(Tanh, x)
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
