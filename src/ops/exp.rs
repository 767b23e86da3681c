//! `eˣ`, element-wise, differentiated from its saved output.

use super::Builtin;
use crate::autodiff::{Grads, Rule, Run, Scratch, Tape, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exp;

impl Tape {
    pub fn exp(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Exp, &[x], shape)
    }
}

impl Rule for Exp {
    fn name(&self) -> &'static str {
        "exp"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::exp(cx.input(0), out);
    }

    /// `dy/dx = y`.
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::mul_acc(grad_out, out, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn exp_matches_central_differences(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.exp(v[0]))).unwrap())?;
        }
    }
}
