//! `x + bias`, the bias broadcast over rows: the second half of a dense layer (the
//! lowering records it; the language has no function for it).

use super::Builtin;
use crate::autodiff::{FusedSgd, Grads, Rule, Run, Scratch, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiasAdd;

impl Tape {
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
        Ok(self.push(BiasAdd, &[x, bias], sx))
    }
}


impl Rule for BiasAdd {
    fn name(&self) -> &'static str {
        "bias_add"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        out.copy_from_slice(cx.input(0));
        simd::bias_add(cx.input(1), out);
    }

    /// `∂L/∂x = ∂L/∂y`; `∂L/∂b = Σ_rows ∂L/∂y`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad_x) = grads.get_mut(cx.inputs[0]) {
            simd::add_assign(grad_out, grad_x);
        }
        if let Some(grad_b) = grads.get_mut(cx.inputs[1]) {
            bias_grad(grad_out, 1.0, grad_b);
        }
    }

    /// The bias.
    fn fused_sgd(&self) -> Option<&dyn FusedSgd> {
        Some(self)
    }
}

impl FusedSgd for BiasAdd {
    fn operand(&self) -> usize {
        1
    }

    fn apply(&self, _cx: &Values<'_>, grad_out: &[f32], lr: f32, weight: &mut [f32]) {
        bias_grad(grad_out, -lr, weight);
    }
}

/// `target ← target + α·Σ_rows ∂L/∂y`, the bias's gradient (`α = 1`) or its fused SGD
/// step (`α = −lr`). A multiply-add by 1 rounds as an add, so both are the same sums.
fn bias_grad(grad_out: &[f32], alpha: f32, target: &mut [f32]) {
    if target.is_empty() {
        return;
    }
    for row in grad_out.chunks_exact(target.len()) {
        simd::axpy(alpha, row, target);
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use crate::autodiff::Shape;
    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::ops::matmul::tests::operands;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn bias_add_matches_central_differences((m, k, _n, a, _b) in operands(), bias in vec(-1.0f32..1.0, 9)) {
            let inputs = [(Shape::matrix(m, k).unwrap(), a), (Shape::vector(k).unwrap(), bias[..k].to_vec())];
            assert_ok(check_function(&inputs, |t, v| t.bias_add(v[0], v[1])).unwrap())?;
        }
    }
}
