//! Matrix product and bias add: the two halves of a dense layer `y = x·Wᵀ + b`.

use super::super::{Shape, ShapeError, Tape, TapeError, Var, describe_shape};
use super::{Grads, Node, Op, Values};
use crate::kernels::{MatRef, gemm, gemm_scaled, simd};

/// The shape rule of a dense layer (`matmul` by its weights, then `bias_add`): a vector
/// `[n_in]` becomes `[units]`.
pub fn dense_shape(x: Shape, units: usize) -> Result<Shape, ShapeError> {
    if !x.is_vector() {
        return Err(ShapeError::new(
            format!("`dense` takes a vector, found {}", describe_shape(x)),
            "not a vector",
        )
        .with_help("flatten the image first: `x |> flatten |> dense(...)`"));
    }
    Shape::vector(units).map_err(|e| ShapeError::new(e.to_string(), "too large"))
}

impl Tape {
    /// `a·b` for `a: [m, k]`, `b: [k, n]`.
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        self.record_matmul(a, b, false, false)
    }

    /// `a·bᵀ` for `a: [m, k]`, `b: [n, k]` (a dense layer's `x·Wᵀ`).
    pub fn matmul_nt(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        self.record_matmul(a, b, false, true)
    }

    /// `aᵀ·b` for `a: [k, m]`, `b: [k, n]`.
    pub fn matmul_tn(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        self.record_matmul(a, b, true, false)
    }

    fn record_matmul(
        &mut self,
        a: Var,
        b: Var,
        trans_a: bool,
        trans_b: bool,
    ) -> Result<Var, TapeError> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        for s in [sa, sb] {
            if s.rank() != 2 {
                return Err(TapeError::Rank {
                    op: "matmul",
                    expected: "a matrix",
                    got: s,
                });
            }
        }
        let (m, k) = if trans_a {
            (sa.cols(), sa.rows())
        } else {
            (sa.rows(), sa.cols())
        };
        let (k2, n) = if trans_b {
            (sb.cols(), sb.rows())
        } else {
            (sb.rows(), sb.cols())
        };
        if k != k2 {
            return Err(TapeError::Shape {
                op: "matmul",
                left: sa,
                right: sb,
                why: "inner dimensions differ",
            });
        }
        Ok(self.push(
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            },
            Shape::matrix(m, n)?,
        ))
    }

    /// `x + bias` for `x: [.., n]`, `bias: [n]`, the bias added to every row.
    pub fn bias_add(&mut self, x: Var, bias: Var) -> Result<Var, TapeError> {
        let (sx, sb) = (self.shape(x), self.shape(bias));
        if sb.rank() != 1 || sb.cols() != sx.cols() {
            return Err(TapeError::Shape {
                op: "bias_add",
                left: sx,
                right: sb,
                why: "the bias must be a vector as long as a row",
            });
        }
        Ok(self.push(Op::BiasAdd { x, bias }, sx))
    }
}

/// The view of an operand as the product sees it (transposed by strides if asked).
fn operand<'a>(cx: &'a Values<'_>, var: Var, transposed: bool) -> MatRef<'a> {
    let shape = cx.shape(var);
    let view = MatRef::new(cx.get(var), shape.rows(), shape.cols());
    if transposed { view.t() } else { view }
}

/// `C = op(A)·op(B)`.
pub(super) fn matmul_forward(
    cx: &Values<'_>,
    a: Var,
    b: Var,
    trans_a: bool,
    trans_b: bool,
    out: &mut [f32],
) {
    gemm(operand(cx, a, trans_a), operand(cx, b, trans_b), 0.0, out);
}

/// `∂L/∂op(A) = ∂L/∂C · op(B)ᵀ` and `∂L/∂op(B) = op(A)ᵀ · ∂L/∂C`; a transposed operand
/// receives the transpose, computed by swapping the product's operands.
pub(super) fn matmul_backward(
    cx: &Values<'_>,
    a: Var,
    b: Var,
    trans_a: bool,
    trans_b: bool,
    grad_out: &[f32],
    grads: &mut Grads<'_>,
) {
    let (op_a, op_b) = (operand(cx, a, trans_a), operand(cx, b, trans_b));
    let grad_c = MatRef::new(grad_out, op_a.rows(), op_b.cols());
    if let Some(grad_a) = grads.get_mut(a) {
        if trans_a {
            gemm(op_b, grad_c.t(), 1.0, grad_a); // (dC·op(B)ᵀ)ᵀ = op(B)·dCᵀ
        } else {
            gemm(grad_c, op_b.t(), 1.0, grad_a);
        }
    }
    if let Some(grad_b) = grads.get_mut(b) {
        matmul_grad_b(op_a, grad_c, trans_b, 1.0, grad_b);
    }
}

/// `target ← target + α·∂L/∂B` for `C = op(A)·op(B)`: `∂L/∂op(B) = op(A)ᵀ·∂L/∂C`, or its
/// transpose `∂L/∂Cᵀ·op(A)` when `B` is stored transposed. With `α = 1` into B's gradient
/// (backward); with `α = −lr` into B itself, the plain SGD step fused into backward for a
/// weight nothing else reads (see `Tape::backward_sgd`). It reads `A` only, never `B`.
fn matmul_grad_b(
    op_a: MatRef<'_>,
    grad_c: MatRef<'_>,
    trans_b: bool,
    alpha: f32,
    target: &mut [f32],
) {
    if trans_b {
        gemm_scaled(alpha, grad_c.t(), op_a, 1.0, target); // (op(A)ᵀ·dC)ᵀ = dCᵀ·op(A)
    } else {
        gemm_scaled(alpha, op_a.t(), grad_c, 1.0, target);
    }
}

/// [`matmul_grad_b`] from the tape's values, for the fused update.
pub(super) fn matmul_param_grad(
    values: &[Vec<f32>],
    nodes: &[Node],
    (a, b, trans_a, trans_b): (Var, Var, bool, bool),
    grad_out: &[f32],
    alpha: f32,
    target: &mut [f32],
) {
    let a_shape = nodes[a.index()].shape;
    let view = MatRef::new(&values[a.index()], a_shape.rows(), a_shape.cols());
    let op_a = if trans_a { view.t() } else { view };
    let b_shape = nodes[b.index()].shape;
    let n = if trans_b {
        b_shape.rows()
    } else {
        b_shape.cols()
    };
    let grad_c = MatRef::new(grad_out, op_a.rows(), n);
    matmul_grad_b(op_a, grad_c, trans_b, alpha, target);
}

/// `target ← target + α·Σ_rows ∂L/∂y`, the bias's gradient (`α = 1`) or its fused SGD
/// step (`α = −lr`). A multiply-add by 1 rounds as an add, so both are the same sums.
pub(super) fn bias_grad(grad_out: &[f32], alpha: f32, target: &mut [f32]) {
    if target.is_empty() {
        return;
    }
    for row in grad_out.chunks_exact(target.len()) {
        simd::axpy(alpha, row, target);
    }
}

pub(super) fn bias_add_forward(x: &[f32], bias: &[f32], out: &mut [f32]) {
    out.copy_from_slice(x);
    simd::bias_add(bias, out);
}

/// `∂L/∂x = ∂L/∂y`; `∂L/∂b = Σ_rows ∂L/∂y`.
pub(super) fn bias_add_backward(x: Var, bias: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad_x) = grads.get_mut(x) {
        simd::add_assign(grad_out, grad_x);
    }
    if let Some(grad_b) = grads.get_mut(bias) {
        bias_grad(grad_out, 1.0, grad_b);
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::autodiff::{Shape, Tape, TapeError};

    fn operands() -> impl Strategy<Value = (usize, usize, usize, Vec<f32>, Vec<f32>)> {
        (1usize..5, 1usize..10, 1usize..6).prop_flat_map(|(m, k, n)| {
            (
                Just(m),
                Just(k),
                Just(n),
                vec(-1.0f32..1.0, m * k),
                vec(-1.0f32..1.0, k * n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn matmul_in_every_layout_matches_central_differences((m, k, n, a, b) in operands()) {
            let mat = |r, c, v: &Vec<f32>| (Shape::matrix(r, c).unwrap(), v.clone());
            // The same numbers viewed as a: [m, k] or [k, m], b: [k, n] or [n, k].
            assert_ok(check_function(&[mat(m, k, &a), mat(k, n, &b)], |t, v| t.matmul(v[0], v[1])).unwrap())?;
            assert_ok(check_function(&[mat(m, k, &a), mat(n, k, &b)], |t, v| t.matmul_nt(v[0], v[1])).unwrap())?;
            assert_ok(check_function(&[mat(k, m, &a), mat(k, n, &b)], |t, v| t.matmul_tn(v[0], v[1])).unwrap())?;
        }

        #[test]
        fn bias_add_matches_central_differences((m, k, _n, a, _b) in operands(), bias in vec(-1.0f32..1.0, 9)) {
            let inputs = [(Shape::matrix(m, k).unwrap(), a), (Shape::vector(k).unwrap(), bias[..k].to_vec())];
            assert_ok(check_function(&inputs, |t, v| t.bias_add(v[0], v[1])).unwrap())?;
        }
    }

    #[test]
    fn matmul_shape_error_names_both_shapes() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(32, 784).unwrap());
        let w = tape.input(Shape::matrix(256, 100).unwrap());
        let err = tape.matmul_nt(x, w).unwrap_err();
        assert!(matches!(err, TapeError::Shape { .. }));
        assert!(
            err.to_string().contains("[32, 784]") && err.to_string().contains("[256, 100]"),
            "{err}"
        );
    }
}
