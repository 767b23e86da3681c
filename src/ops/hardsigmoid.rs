//! `hardsigmoid`: `relu6(x + 3) / 6`, element-wise (PyTorch's `nn.Hardsigmoid`, used in
//! MobileNetV3's squeeze-and-excitation). Kinks at ±3.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Attr, Builtin, Takes};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd::{self, Lanes};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardsigmoid;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "hardsigmoid",
    "`relu6(x + 3) / 6`, element-wise",
    "x |> hardsigmoid",
    Takes::Any,
    |_| Ok(Box::new(Hardsigmoid)),
)];

impl Elementwise for Hardsigmoid {
    const NAME: &'static str = "hardsigmoid";
    /// `max(0, min(1, alpha·x + beta))`.
    const ONNX: &'static str = "HardSigmoid";
    const FLOPS: u64 = 3;

    /// As PyTorch: `min(max(x + 3, 0), 6) / 6`.
    fn forward(&self, x: &[f32], out: &mut [f32]) {
        let (three, six) = (Lanes::splat(3.0), Lanes::splat(6.0));
        simd::map(x, out, |x| (x + three).max(Lanes::ZERO).min(six) / six);
    }

    /// `dy/dx = 1/6` strictly between −3 and 3, 0 elsewhere (PyTorch's choice at the kinks).
    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        let (three, six) = (Lanes::splat(3.0), Lanes::splat(6.0));
        simd::zip2(x, grad_y, grad_x, |x, gy, gx| {
            let inside = x.simd_gt(-three) & x.simd_lt(three);
            gx + inside.select(gy / six, Lanes::ZERO)
        });
    }

    fn kinks(&self) -> Option<&'static [f32]> {
        Some(&[-3.0, 3.0])
    }

    fn onnx_attributes(&self) -> Vec<Attr> {
        vec![Attr::Float("alpha", 1.0 / 6.0), Attr::Float("beta", 0.5)]
    }
}

impl Tape {
    /// `relu6(x + 3) / 6`.
    pub fn hardsigmoid(&mut self, x: Var) -> Var {
        self.elementwise(Hardsigmoid, x)
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
        fn hardsigmoid_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.hardsigmoid(v[0]))).unwrap())?;
        }
    }

    #[test]
    fn hardsigmoid_saturates_at_zero_and_one() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, 4).unwrap());
        let y = tape.hardsigmoid(x);
        tape.value_mut(x).unwrap().copy_from_slice(&[-4.0, 0.0, 1.5, 4.0]);
        tape.forward(&Params::new());
        assert_eq!(tape.value(y), [0.0, 0.5, 0.75, 1.0]);
    }
}
