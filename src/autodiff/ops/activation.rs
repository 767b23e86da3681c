//! Activations: sigmoid, tanh, relu, leaky relu. Sigmoid and tanh differentiate from
//! their saved output; relu and leaky relu from their input.

use super::super::{Tape, Var};
use super::{Grads, Op, Values};
use crate::kernels::simd;

impl Tape {
    /// `1 / (1 + e⁻ˣ)`.
    pub fn sigmoid(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::Sigmoid { x }, shape)
    }

    /// `tanh x`.
    pub fn tanh(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::Tanh { x }, shape)
    }

    /// `max(x, 0)`.
    pub fn relu(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::Relu { x }, shape)
    }

    /// `x` for `x > 0`, `slope·x` otherwise.
    pub fn leaky_relu(&mut self, x: Var, slope: f32) -> Var {
        let shape = self.shape(x);
        self.push(Op::LeakyRelu { x, slope }, shape)
    }
}

pub(super) fn sigmoid_forward(x: &[f32], out: &mut [f32]) {
    simd::sigmoid(x, out);
}

/// `dy/dx = y·(1 − y)`: reads the saved output, so the input need not be kept.
pub(super) fn sigmoid_backward(x: Var, out: &[f32], grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::sigmoid_backward(out, grad_out, grad);
    }
}

pub(super) fn tanh_forward(x: &[f32], out: &mut [f32]) {
    simd::tanh(x, out);
}

/// `dy/dx = 1 − y²`.
pub(super) fn tanh_backward(x: Var, out: &[f32], grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::tanh_backward(out, grad_out, grad);
    }
}

pub(super) fn relu_forward(x: &[f32], out: &mut [f32]) {
    simd::relu(x, out);
}

/// `dy/dx = [x > 0]` (0 at the kink, as PyTorch).
pub(super) fn relu_backward(cx: &Values<'_>, x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::relu_backward(cx.get(x), grad_out, grad);
    }
}

pub(super) fn leaky_relu_forward(slope: f32, x: &[f32], out: &mut [f32]) {
    simd::leaky_relu(slope, x, out);
}

/// `dy/dx = 1` for `x > 0`, `slope` otherwise.
pub(super) fn leaky_relu_backward(
    cx: &Values<'_>,
    slope: f32,
    x: Var,
    grad_out: &[f32],
    grads: &mut Grads<'_>,
) {
    if let Some(grad) = grads.get_mut(x) {
        simd::leaky_relu_backward(slope, cx.get(x), grad_out, grad);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::Shape;
    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, away_from_zero, matrix};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn sigmoid_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.sigmoid(v[0]))).unwrap())?;
        }

        #[test]
        fn tanh_backward_matches_central_differences(input in matrix(-3.0..3.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.tanh(v[0]))).unwrap())?;
        }

        #[test]
        fn relu_backward_matches_central_differences(cols in 1usize..20, x in away_from_zero(40, 0.05)) {
            let shape = Shape::matrix(2, cols).unwrap();
            let input = (shape, x[..2 * cols].to_vec());
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.relu(v[0]))).unwrap())?;
            assert_ok(check_function(&[input], |t, v| Ok(t.leaky_relu(v[0], 0.1))).unwrap())?;
        }
    }
}
