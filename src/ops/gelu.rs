//! `gelu`: `x · Φ(x) = x · (1 + erf(x / √2)) / 2`, element-wise, the exact form (PyTorch's
//! default `nn.GELU()`, not the tanh approximation). Differentiated from its input:
//! `Φ(x) + x·φ(x)`.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Builtin, Onnx, Takes};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd::{self, Lanes};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gelu;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "gelu",
    "`x · (1 + erf(x / sqrt 2)) / 2`, element-wise (the exact form)",
    "x |> gelu",
    Takes::Any,
    |_| Ok(Box::new(Gelu)),
)];

/// `erf x`, lane by lane: Abramowitz and Stegun's 7.1.26 (within 1.5e-7 of erf), odd
/// in `x`. Our own, so its bits are the same on every CPU that runs these kernels.
fn erf(x: Lanes) -> Lanes {
    let a = x.abs();
    let t = Lanes::ONE / Lanes::splat(0.327_591_1).mul_add(a, Lanes::ONE);
    let poly = Lanes::splat(1.061_405_4)
        .mul_add(t, Lanes::splat(-1.453_152))
        .mul_add(t, Lanes::splat(1.421_413_7))
        .mul_add(t, Lanes::splat(-0.284_496_74))
        .mul_add(t, Lanes::splat(0.254_829_6))
        * t;
    let magnitude = Lanes::ONE - poly * simd::exp_lanes(-(a * a));
    x.simd_lt(Lanes::ZERO).select(-magnitude, magnitude)
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// `1 / √(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

impl Elementwise for Gelu {
    const NAME: &'static str = "gelu";
    const ONNX: &'static str = "Erf";
    const FLOPS: u64 = 20;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        let (half, scale) = (Lanes::splat(0.5), Lanes::splat(FRAC_1_SQRT_2));
        simd::map(x, out, |x| half * x * (Lanes::ONE + erf(x * scale)));
    }

    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        let (half, scale) = (Lanes::splat(0.5), Lanes::splat(FRAC_1_SQRT_2));
        let density = Lanes::splat(FRAC_1_SQRT_2PI);
        simd::zip2(x, grad_y, grad_x, |x, gy, gx| {
            let cdf = half * (Lanes::ONE + erf(x * scale));
            let pdf = density * simd::exp_lanes(-half * x * x);
            gx + gy * x.mul_add(pdf, cdf)
        });
    }

    /// ONNX (opset 17) has `Erf` but no `Gelu`: `x · (1 + Erf(x / √2)) · 0.5`.
    fn onnx(&self, at: &mut dyn Onnx) {
        let sqrt2 = at.scalar("sqrt2", std::f32::consts::SQRT_2);
        let scaled = at.emit_value("scaled", "Div", vec![at.input(0), sqrt2], vec![]);
        let erf = at.emit_value("erf", "Erf", vec![scaled], vec![]);
        let one = at.scalar("one", 1.0);
        let shifted = at.emit_value("shifted", "Add", vec![erf, one], vec![]);
        let product = at.emit_value("product", "Mul", vec![at.input(0), shifted], vec![]);
        let half = at.scalar("half", 0.5);
        at.emit("Mul", vec![product, half], vec![]);
    }
}

impl Tape {
    /// `x · Φ(x)`.
    pub fn gelu(&mut self, x: Var) -> Var {
        self.elementwise(Gelu, x)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Params, Shape};

    /// `erf x` to double precision by its Taylor series (|x| ≤ 3 here).
    fn erf_f64(x: f64) -> f64 {
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn gelu_backward_matches_central_differences(input in matrix(-4.0..4.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.gelu(v[0]))).unwrap())?;
        }
    }

    #[test]
    fn gelu_is_x_times_the_normal_cdf() {
        let xs: Vec<f32> = (-60..=60).map(|i| i as f32 * 0.05).collect();
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, xs.len()).unwrap());
        let y = tape.gelu(x);
        tape.value_mut(x).unwrap().copy_from_slice(&xs);
        tape.forward(&Params::new());
        for (&y, &x) in tape.value(y).iter().zip(&xs) {
            let x = f64::from(x);
            let expected = 0.5 * x * (1.0 + erf_f64(x / std::f64::consts::SQRT_2));
            assert!((f64::from(y) - expected).abs() < 1e-6, "gelu({x}) = {y}, not {expected}");
        }
    }
}
