//! The mean of every element of a tensor, a scalar (the `mse` loss).

use super::Builtin;
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, Tape, Values, Var};
use crate::kernels::reduce;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mean;

impl Tape {
    pub fn mean(&mut self, x: Var) -> Var {
        self.push(Mean, &[x], Shape::scalar())
    }
}

impl Rule for Mean {
    fn name(&self) -> &'static str {
        "mean"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        let x = cx.input(0);
        out[0] = if x.is_empty() {
            0.0
        } else {
            reduce::sum(x) / x.len() as f32
        };
    }

    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            let share = grad_out[0] / grad.len().max(1) as f32;
            grad.iter_mut().for_each(|g| *g += share);
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
        fn mean_matches_central_differences(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.mean(v[0]))).unwrap())?;
        }
    }
}
