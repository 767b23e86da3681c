//! Element-wise arithmetic, `exp`/`log`, and the reductions `sum` and `mean`.

use super::super::{Shape, ShapeError, Tape, TapeError, Var};
use super::{Grads, Op, Values};
use crate::kernels::{reduce, simd};

/// The shape rule of `a + b`, `a - b` and `a * b` (`symbol`): both operands have one
/// shape, which the result keeps.
pub fn same_shape(symbol: &str, a: Shape, b: Shape) -> Result<Shape, ShapeError> {
    if a == b {
        return Ok(a);
    }
    let label = format!("{a} {symbol} {b}");
    Err(if a.is_vector() && b.is_vector() {
        ShapeError::new(
            format!(
                "`{symbol}` needs two layers of the same size, found {} and {}",
                a.numel(),
                b.numel()
            ),
            label,
        )
        .with_help("element-wise operations need equal widths; add a `dense` to match them")
    } else {
        ShapeError::new(
            format!("`{symbol}` needs two layers of the same shape, found {a} and {b}"),
            label,
        )
        .with_help("element-wise operations need equal shapes")
    })
}

impl Tape {
    fn same_shape(&self, op: &'static str, a: Var, b: Var) -> Result<Shape, TapeError> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        same_shape(op, sa, sb).map_err(|_| TapeError::Shape {
            op,
            left: sa,
            right: sb,
            why: "element-wise operands must have the same shape",
        })
    }

    /// `a + b`, element-wise.
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let shape = self.same_shape("add", a, b)?;
        Ok(self.push(Op::Add { a, b }, shape))
    }

    /// `a − b`, element-wise.
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let shape = self.same_shape("sub", a, b)?;
        Ok(self.push(Op::Sub { a, b }, shape))
    }

    /// `a ∘ b`, element-wise.
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let shape = self.same_shape("mul", a, b)?;
        Ok(self.push(Op::Mul { a, b }, shape))
    }

    /// `alpha·x`.
    pub fn scale(&mut self, x: Var, alpha: f32) -> Var {
        let shape = self.shape(x);
        self.push(Op::Scale { x, alpha }, shape)
    }

    /// `x + c`.
    pub fn add_scalar(&mut self, x: Var, c: f32) -> Var {
        let shape = self.shape(x);
        self.push(Op::AddScalar { x, c }, shape)
    }

    /// `Σ x`, a scalar.
    pub fn sum(&mut self, x: Var) -> Var {
        self.push(Op::Sum { x }, Shape::scalar())
    }

    /// The mean of every element, a scalar.
    pub fn mean(&mut self, x: Var) -> Var {
        self.push(Op::Mean { x }, Shape::scalar())
    }

    /// `eˣ`.
    pub fn exp(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::Exp { x }, shape)
    }

    /// `ln x`.
    pub fn log(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::Log { x }, shape)
    }

    /// Mean squared error `mean((a − b)²)`, composed from primitives (so it needs no
    /// backward rule of its own).
    pub fn mse(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let diff = self.sub(a, b)?;
        let squared = self.mul(diff, diff)?;
        Ok(self.mean(squared))
    }
}

pub(super) fn add_forward(a: &[f32], b: &[f32], out: &mut [f32]) {
    simd::add(a, b, out);
}

/// `∂(a + b)/∂a = ∂(a + b)/∂b = 1`.
pub(super) fn add_backward(a: Var, b: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    for input in [a, b] {
        if let Some(grad) = grads.get_mut(input) {
            simd::add_assign(grad_out, grad);
        }
    }
}

pub(super) fn sub_forward(a: &[f32], b: &[f32], out: &mut [f32]) {
    simd::sub(a, b, out);
}

/// `∂(a − b)/∂a = 1`, `∂(a − b)/∂b = −1`.
pub(super) fn sub_backward(a: Var, b: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(a) {
        simd::add_assign(grad_out, grad);
    }
    if let Some(grad) = grads.get_mut(b) {
        simd::axpy(-1.0, grad_out, grad);
    }
}

pub(super) fn mul_forward(a: &[f32], b: &[f32], out: &mut [f32]) {
    simd::mul(a, b, out);
}

/// `∂(a∘b)/∂a = b`, `∂(a∘b)/∂b = a`.
pub(super) fn mul_backward(
    cx: &Values<'_>,
    a: Var,
    b: Var,
    grad_out: &[f32],
    grads: &mut Grads<'_>,
) {
    if let Some(grad) = grads.get_mut(a) {
        simd::mul_acc(grad_out, cx.get(b), grad);
    }
    if let Some(grad) = grads.get_mut(b) {
        simd::mul_acc(grad_out, cx.get(a), grad);
    }
}

pub(super) fn scale_forward(alpha: f32, x: &[f32], out: &mut [f32]) {
    simd::scale(alpha, x, out);
}

/// `∂(αx)/∂x = α`.
pub(super) fn scale_backward(alpha: f32, x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::axpy(alpha, grad_out, grad);
    }
}

pub(super) fn add_scalar_forward(c: f32, x: &[f32], out: &mut [f32]) {
    simd::add_scalar(c, x, out);
}

/// `∂(x + c)/∂x = 1`.
pub(super) fn add_scalar_backward(x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::add_assign(grad_out, grad);
    }
}

pub(super) fn sum_forward(x: &[f32], out: &mut [f32]) {
    out[0] = reduce::sum(x);
}

/// `∂(Σx)/∂xᵢ = 1`.
pub(super) fn sum_backward(x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        let g = grad_out[0];
        grad.iter_mut().for_each(|x| *x += g);
    }
}

pub(super) fn mean_forward(x: &[f32], out: &mut [f32]) {
    out[0] = if x.is_empty() {
        0.0
    } else {
        reduce::sum(x) / x.len() as f32
    };
}

/// `∂(Σx/n)/∂xᵢ = 1/n`.
pub(super) fn mean_backward(x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        let share = grad_out[0] / grad.len().max(1) as f32;
        grad.iter_mut().for_each(|g| *g += share);
    }
}

pub(super) fn exp_forward(x: &[f32], out: &mut [f32]) {
    simd::exp(x, out);
}

/// `∂eˣ/∂x = eˣ`: reads the saved output.
pub(super) fn exp_backward(x: Var, out: &[f32], grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::mul_acc(grad_out, out, grad);
    }
}

pub(super) fn log_forward(x: &[f32], out: &mut [f32]) {
    simd::ln(x, out);
}

/// `∂ ln x/∂x = 1/x`.
pub(super) fn log_backward(cx: &Values<'_>, x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::ln_backward(cx.get(x), grad_out, grad);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Shape, Tape, TapeError};

    fn pair() -> impl Strategy<Value = [(Shape, Vec<f32>); 2]> {
        matrix(-2.0..2.0).prop_flat_map(|(shape, a)| {
            let n = a.len();
            proptest::collection::vec(-2.0f32..2.0, n)
                .prop_map(move |b| [(shape, a.clone()), (shape, b)])
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn binary_ops_match_central_differences(inputs in pair()) {
            assert_ok(check_function(&inputs, |t, v| t.add(v[0], v[1])).unwrap())?;
            assert_ok(check_function(&inputs, |t, v| t.sub(v[0], v[1])).unwrap())?;
            assert_ok(check_function(&inputs, |t, v| t.mul(v[0], v[1])).unwrap())?;
            assert_ok(check_function(&inputs, |t, v| t.mse(v[0], v[1])).unwrap())?;
        }

        #[test]
        fn a_value_used_twice_gets_both_gradients(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| t.mul(v[0], v[0])).unwrap())?;
            assert_ok(check_function(&[input], |t, v| t.add(v[0], v[0])).unwrap())?;
        }

        #[test]
        fn unary_ops_match_central_differences(input in matrix(-2.0..2.0), alpha in -2.0f32..2.0) {
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.scale(v[0], alpha))).unwrap())?;
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.add_scalar(v[0], alpha))).unwrap())?;
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.sum(v[0]))).unwrap())?;
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.mean(v[0]))).unwrap())?;
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.exp(v[0]))).unwrap())?;
            let positive = (input.0, input.1.iter().map(|x| x.abs() + 0.5).collect());
            assert_ok(check_function(&[positive], |t, v| Ok(t.log(v[0]))).unwrap())?;
        }
    }

    #[test]
    fn mismatched_shapes_name_both() {
        let mut tape = Tape::new();
        let a = tape.input(Shape::matrix(2, 3).unwrap());
        let b = tape.input(Shape::matrix(3, 2).unwrap());
        let err = tape.add(a, b).unwrap_err();
        assert!(matches!(err, TapeError::Shape { .. }));
        let message = err.to_string();
        assert!(
            message.contains("[2, 3]") && message.contains("[3, 2]") && message.contains("add"),
            "{message}"
        );
    }
}
