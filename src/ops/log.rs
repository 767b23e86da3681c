//! `ln x`, element-wise (cross-entropy on an output that is not a softmax).

use super::Builtin;
use crate::autodiff::{Grads, Rule, Run, Scratch, Tape, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Log;

impl Tape {
    pub fn log(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Log, &[x], shape)
    }
}

impl Rule for Log {
    fn name(&self) -> &'static str {
        "log"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::ln(cx.input(0), out);
    }

    /// `dy/dx = 1/x`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::ln_backward(cx.input(0), grad_out, grad);
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
        fn log_matches_central_differences(input in matrix(-2.0..2.0)) {
            let positive = (input.0, input.1.iter().map(|x| x.abs() + 0.5).collect());
            assert_ok(check_function(&[positive], |t, v| Ok(t.log(v[0]))).unwrap())?;
        }
    }
}
