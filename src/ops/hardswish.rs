//! `hardswish`: `x · relu6(x + 3) / 6`, element-wise (MobileNetV3's activation; PyTorch's
//! `nn.Hardswish`). Differentiated from its input; kinks at ±3.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Builtin, Init, Takes};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd::{self, Lanes};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardswish;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "hardswish",
    "`x · relu6(x + 3) / 6`, element-wise",
    "x |> hardswish",
    Takes::Any,
    |_| Ok(Box::new(Hardswish)),
)];

impl Elementwise for Hardswish {
    const NAME: &'static str = "hardswish";
    /// ONNX's `HardSwish` (opset 14): `x · max(0, min(1, x/6 + 1/2))`.
    const ONNX: &'static str = "HardSwish";
    /// An add, two clamps, two products.
    const FLOPS: u64 = 5;

    /// As PyTorch: `x · min(max(x + 3, 0), 6) / 6`.
    fn forward(&self, x: &[f32], out: &mut [f32]) {
        let (three, six) = (Lanes::splat(3.0), Lanes::splat(6.0));
        simd::map(x, out, |x| {
            x * (x + three).max(Lanes::ZERO).min(six) / six
        });
    }

    /// `dy/dx = 0` below −3, `x/3 + 1/2` from −3 to 3, 1 above (PyTorch's choices at the
    /// kinks).
    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        let (three, half) = (Lanes::splat(3.0), Lanes::splat(0.5));
        simd::zip2(x, grad_y, grad_x, |x, gy, gx| {
            let slope = x.simd_lt(-three).select(
                Lanes::ZERO,
                x.simd_le(three).select(x / three + half, Lanes::ONE),
            );
            gx + gy * slope
        });
    }

    fn kinks(&self) -> Option<&'static [f32]> {
        Some(&[-3.0, 3.0])
    }

    /// Like relu, it zeroes most negative inputs: He suits the weights before it.
    fn init_for_inputs(&self) -> Option<Init> {
        Some(Init::He)
    }
}

impl Tape {
    /// `x · relu6(x + 3) / 6`.
    pub fn hardswish(&mut self, x: Var) -> Var {
        self.elementwise(Hardswish, x)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Params, Shape, Tape};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn hardswish_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.hardswish(v[0]))).unwrap())?;
        }
    }

    #[test]
    fn hardswish_is_zero_below_minus_three_and_the_identity_above_three() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, 5).unwrap());
        let y = tape.hardswish(x);
        tape.value_mut(x)
            .unwrap()
            .copy_from_slice(&[-4.0, -3.0, 0.0, 1.5, 4.0]);
        tape.forward(&Params::new());
        // 1.5 · 4.5 / 6 = 1.125
        assert_eq!(tape.value(y), [0.0, 0.0, 0.0, 1.125, 4.0]);
    }
}
