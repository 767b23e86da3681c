//! The matrix product `op(A)·op(B)`, `op` transposing when asked: a dense layer's `x·Wᵀ`
//! (the lowering records it; the language has no function for it).

use super::Builtin;
use crate::autodiff::{
    FusedSgd, Grads, Rule, Run, Scratch, Shape, Tape, TapeError, Values, Var,
};
use crate::kernels::{MatRef, gemm, gemm_scaled};

pub const FUNCTIONS: &[Builtin] = &[];

/// `op(a)·op(b)`, where `op` transposes when the flag is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatMul {
    pub trans_a: bool,
    pub trans_b: bool,
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
        Ok(self.push(MatMul { trans_a, trans_b }, &[a, b], Shape::matrix(m, n)?))
    }
}

/// The view of an operand as the product sees it (transposed by strides if asked).
fn operand<'a>(cx: &'a Values<'_>, k: usize, transposed: bool) -> MatRef<'a> {
    let shape = cx.input_shape(k);
    let view = MatRef::new(cx.input(k), shape.rows(), shape.cols());
    if transposed { view.t() } else { view }
}

impl Rule for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    /// `C = op(A)·op(B)`.
    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        gemm(
            operand(cx, 0, self.trans_a),
            operand(cx, 1, self.trans_b),
            0.0,
            out,
        );
    }

    /// `∂L/∂op(A) = ∂L/∂C · op(B)ᵀ` and `∂L/∂op(B) = op(A)ᵀ · ∂L/∂C`; a transposed operand
    /// receives the transpose, computed by swapping the product's operands.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let (op_a, op_b) = (operand(cx, 0, self.trans_a), operand(cx, 1, self.trans_b));
        let grad_c = MatRef::new(grad_out, op_a.rows(), op_b.cols());
        if let Some(grad_a) = grads.get_mut(cx.inputs[0]) {
            if self.trans_a {
                gemm(op_b, grad_c.t(), 1.0, grad_a); // (dC·op(B)ᵀ)ᵀ = op(B)·dCᵀ
            } else {
                gemm(grad_c, op_b.t(), 1.0, grad_a);
            }
        }
        if let Some(grad_b) = grads.get_mut(cx.inputs[1]) {
            matmul_grad_b(op_a, grad_c, self.trans_b, 1.0, grad_b);
        }
    }

    /// The right operand, a weight.
    fn fused_sgd(&self) -> Option<&dyn FusedSgd> {
        Some(self)
    }
}

impl FusedSgd for MatMul {
    fn operand(&self) -> usize {
        1
    }

    /// [`matmul_grad_b`] with `α = −lr`, straight into the weight. Reads `A` only.
    fn apply(&self, cx: &Values<'_>, grad_out: &[f32], lr: f32, weight: &mut [f32]) {
        let op_a = operand(cx, 0, self.trans_a);
        let b_shape = cx.input_shape(1);
        let n = if self.trans_b {
            b_shape.rows()
        } else {
            b_shape.cols()
        };
        let grad_c = MatRef::new(grad_out, op_a.rows(), n);
        matmul_grad_b(op_a, grad_c, self.trans_b, -lr, weight);
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

#[cfg(test)]
pub(super) mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::autodiff::{Shape, Tape, TapeError};

    pub(in crate::ops) fn operands() -> impl Strategy<Value = (usize, usize, usize, Vec<f32>, Vec<f32>)> {
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
