//! `relu`: `max(x, 0)`, element-wise, differentiated from its input.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Builtin, Init, Takes};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relu;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "relu",
    "`max(x, 0)`, element-wise",
    "x |> relu",
    Takes::Any,
    |_| Ok(Box::new(Relu)),
)];

impl Elementwise for Relu {
    const NAME: &'static str = "relu";
    const ONNX: &'static str = "Relu";
    const FLOPS: u64 = 1;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::relu(x, out);
    }

    /// `dy/dx = [x > 0]` (0 at the kink, as PyTorch).
    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::relu_backward(x, grad_y, grad_x);
    }

    fn kinks(&self) -> Option<&'static [f32]> {
        Some(&[0.0])
    }

    /// He's `N(0, 2/n_in)` makes up for the half of the variance relu drops.
    fn init_for_inputs(&self) -> Option<Init> {
        Some(Init::He)
    }
}

impl Tape {
    /// `max(x, 0)`.
    pub fn relu(&mut self, x: Var) -> Var {
        self.elementwise(Relu, x)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::Shape;
    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, away_from_zero};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn relu_backward_matches_central_differences(cols in 1usize..20, x in away_from_zero(40, 0.05)) {
            let shape = Shape::matrix(2, cols).unwrap();
            let input = (shape, x[..2 * cols].to_vec());
            assert_ok(check_function(&[input], |t, v| Ok(t.relu(v[0]))).unwrap())?;
        }
    }
}
