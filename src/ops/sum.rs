//! The sum of every element of a tensor, a scalar (losses and gradient checks).

use super::Builtin;
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, Tape, Values, Var};
use crate::kernels::reduce;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sum;

impl Tape {
    pub fn sum(&mut self, x: Var) -> Var {
        self.push(Sum, &[x], Shape::scalar())
    }
}

impl Rule for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        out[0] = reduce::sum(cx.input(0));
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
            let g = grad_out[0];
            grad.iter_mut().for_each(|x| *x += g);
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
        fn sum_matches_central_differences(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.sum(v[0]))).unwrap())?;
        }
    }
}
