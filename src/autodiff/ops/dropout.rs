//! Inverted dropout: in training, zero each element with probability `p` and scale the
//! survivors by `1/(1 − p)`, so inference is the identity.

use rand::Rng;
use rand::rngs::StdRng;

use super::super::{Tape, TapeError, Var};
use super::{Grads, Op};
use crate::kernels::simd;

impl Tape {
    /// Dropout with drop probability `p` in `[0, 1)`; masks come from the tape's seeded
    /// generator ([`Tape::seed`]).
    pub fn dropout(&mut self, x: Var, p: f32) -> Result<Var, TapeError> {
        if !(0.0..1.0).contains(&p) {
            return Err(TapeError::Invalid {
                op: "dropout",
                why: format!("p = {p} is outside [0, 1)"),
            });
        }
        let shape = self.shape(x);
        Ok(self.push(Op::Dropout { x, p }, shape))
    }
}

/// `y = x ∘ m`, `m = [u ≥ p]/(1 − p)` drawn fresh each training pass and kept in `aux`.
pub(super) fn dropout_forward(
    p: f32,
    training: bool,
    x: &[f32],
    out: &mut [f32],
    mask: &mut [f32],
    rng: &mut StdRng,
) {
    if !training || p == 0.0 {
        mask.fill(1.0);
        out.copy_from_slice(x);
        return;
    }
    let keep = 1.0 / (1.0 - p);
    for m in mask.iter_mut() {
        *m = if rng.random::<f32>() >= p { keep } else { 0.0 };
    }
    simd::mul(x, mask, out);
}

/// `∂L/∂x = ∂L/∂y ∘ m`.
pub(super) fn dropout_backward(x: Var, grad_out: &[f32], mask: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad) = grads.get_mut(x) {
        simd::mul_acc(grad_out, mask, grad);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Shape, Tape};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn dropout_matches_central_differences(input in matrix(-2.0..2.0), p in 0.0f32..0.9) {
            assert_ok(check_function(&[input], |t, v| t.dropout(v[0], p)).unwrap())?;
        }
    }

    #[test]
    fn dropout_is_identity_at_inference_and_drops_about_p_in_training() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(100, 100).unwrap());
        let y = tape.dropout(x, 0.3).unwrap();
        tape.value_mut(x).unwrap().fill(1.0);
        let params = crate::autodiff::Params::new();
        tape.set_training(false);
        tape.forward(&params);
        assert!(tape.value(y).iter().all(|&v| v == 1.0));
        tape.set_training(true);
        tape.forward(&params);
        let dropped = tape.value(y).iter().filter(|&&v| v == 0.0).count();
        assert!(
            (2500..3500).contains(&dropped),
            "{dropped} of 10000 dropped at p = 0.3"
        );
        let kept = tape.value(y).iter().find(|&&v| v != 0.0).copied();
        assert_eq!(kept, Some(1.0 / 0.7));
    }

    #[test]
    fn p_outside_zero_one_is_refused() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, 1).unwrap());
        assert!(tape.dropout(x, 1.0).is_err());
        assert!(tape.dropout(x, -0.1).is_err());
    }
}
