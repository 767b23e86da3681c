//! `silu` (also `swish`): `x · σ(x)`, element-wise (PyTorch's `nn.SiLU`). Differentiated
//! from its input: `σ(x)·(1 + x·(1 − σ(x)))`.

use super::elementwise::Elementwise;
use super::function::activation;
use super::{Builtin, Onnx, Takes};
use crate::autodiff::{Tape, Var};
use crate::kernels::simd::{self, Lanes};

/// `silu`; `swish` is the same function under the name of its paper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silu;

/// `swish`: [`Silu`] by its other name, so that a node is called what the file wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swish;

pub const FUNCTIONS: &[Builtin] = &[
    activation(
        "silu",
        "`x · sigmoid(x)`, element-wise",
        "x |> silu",
        Takes::Any,
        |_| Ok(Box::new(Silu)),
    ),
    activation(
        "swish",
        "`silu` by its other name",
        "x |> swish",
        Takes::Any,
        |_| Ok(Box::new(Swish)),
    ),
];

fn sigmoid(x: Lanes) -> Lanes {
    Lanes::ONE / (Lanes::ONE + simd::exp_lanes(-x))
}

fn forward(x: &[f32], out: &mut [f32]) {
    simd::map(x, out, |x| x * sigmoid(x));
}

fn backward(x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    simd::zip2(x, grad_y, grad_x, |x, gy, gx| {
        let s = sigmoid(x);
        gx + gy * (s * (Lanes::ONE + x * (Lanes::ONE - s)))
    });
}

/// ONNX (opset 17) has no `Silu`: `Mul(x, Sigmoid(x))`.
fn onnx(at: &mut dyn Onnx) {
    let s = at.emit_value("sigmoid", "Sigmoid", vec![at.input(0)], vec![]);
    at.emit("Mul", vec![at.input(0), s], vec![]);
}

impl Elementwise for Silu {
    const NAME: &'static str = "silu";
    const ONNX: &'static str = "Mul";
    const FLOPS: u64 = 6;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        forward(x, out);
    }

    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        backward(x, grad_y, grad_x);
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        onnx(at);
    }
}

impl Elementwise for Swish {
    const NAME: &'static str = "swish";
    const ONNX: &'static str = "Mul";
    const FLOPS: u64 = 6;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        forward(x, out);
    }

    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        backward(x, grad_y, grad_x);
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        onnx(at);
    }
}

impl Tape {
    /// `x · σ(x)`.
    pub fn silu(&mut self, x: Var) -> Var {
        self.elementwise(Silu, x)
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
        fn silu_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.silu(v[0]))).unwrap())?;
        }
    }

    #[test]
    fn silu_is_x_times_its_sigmoid() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, 3).unwrap());
        let y = tape.silu(x);
        tape.value_mut(x).unwrap().copy_from_slice(&[-2.0, 0.0, 1.5]);
        tape.forward(&Params::new());
        for (&y, x) in tape.value(y).iter().zip([-2.0f64, 0.0, 1.5]) {
            let expected = x / (1.0 + (-x).exp());
            assert!((f64::from(y) - expected).abs() < 1e-6, "{y} vs {expected}");
        }
    }
}
