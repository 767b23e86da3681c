//! `sigmoid`: `1 / (1 + e⁻ˣ)`, element-wise, differentiated from its saved output.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Builtin, Takes};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sigmoid;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "sigmoid",
    "`1 / (1 + e^-x)`, element-wise",
    "x |> sigmoid",
    Takes::Any,
    |_| Ok(Box::new(Sigmoid)),
)];

impl Elementwise for Sigmoid {
    const NAME: &'static str = "sigmoid";
    const ONNX: &'static str = "Sigmoid";
    const FLOPS: u64 = 4;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::sigmoid(x, out);
    }

    /// `dy/dx = y·(1 − y)`: reads the saved output, so the input need not be kept.
    fn backward(&self, _x: &[f32], y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::sigmoid_backward(y, grad_y, grad_x);
    }
}

impl Tape {
    /// `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(&mut self, x: Var) -> Var {
        self.elementwise(Sigmoid, x)
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
        fn sigmoid_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.sigmoid(v[0]))).unwrap())?;
        }
    }
}
