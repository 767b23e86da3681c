//! The fused softmax + cross-entropy, computed from the logits in one stable step. The
//! lowering records it for `loss = cross_entropy` on a model ending in `softmax` or
//! `log_softmax`; the language has no function for it.

use super::Builtin;
use crate::autodiff::{Grads, Operand, Rule, Run, Scratch, Shape, Tape, TapeError, Values, Var};
use crate::kernels::{reduce, simd};

pub const FUNCTIONS: &[Builtin] = &[];

/// The most classes a label node may index (labels are stored as exact `f32`s).
const MAX_CLASSES: usize = 1 << 24;

/// Mean over rows of `−Σ target·log softmax(logits)`; operands `logits` and `target`, a
/// labels node or a matrix of target probabilities (one-hot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxCrossEntropy;

impl Tape {
    /// Mean over rows of the cross-entropy between `softmax(logits)` and `target`: a
    /// [`Tape::labels`] node of class indices, or target probabilities shaped like the
    /// logits (one-hot rows). Stable for any logits: it never forms `log(softmax)`.
    pub fn softmax_cross_entropy(&mut self, logits: Var, target: Var) -> Result<Var, TapeError> {
        let (sl, st) = (self.shape(logits), self.shape(target));
        if sl.rank() != 2 {
            return Err(TapeError::Rank {
                op: "softmax_cross_entropy",
                expected: "[rows, classes] logits",
                got: sl,
            });
        }
        let fits = match self.labels_classes(target) {
            Some(classes) => {
                classes == sl.cols() && classes <= MAX_CLASSES && st.numel() == sl.rows()
            }
            _ => st == sl,
        };
        if !fits {
            return Err(TapeError::Shape {
                op: "softmax_cross_entropy",
                left: sl,
                right: st,
                why: "the target must be one label per row (below the logits' column count) or probabilities shaped like the logits",
            });
        }
        Ok(self.push(SoftmaxCrossEntropy, &[logits, target], Shape::scalar()))
    }
}

impl Rule for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }

    /// The log-probabilities of every logit.
    fn aux_len(&self, _shape: Shape, inputs: &[Operand]) -> usize {
        inputs[0].shape.numel()
    }

    /// `L = (1/rows) Σ_rows −Σ_c t_c·log_softmax(z)_c`. The log-probabilities go into `aux`
    /// (sized at recording) for the backward rule.
    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, _: Run<'_>) {
        let (logits, target) = (cx.inputs[0], cx.inputs[1]);
        let aux = scratch.aux;
        let shape = cx.shape(logits);
        let (rows, cols) = (shape.rows(), shape.cols());
        let log_probs = aux;
        reduce::log_softmax_rows(cx.get(logits), cols, log_probs);
        let t = cx.get(target);
        let total: f32 = if cx.is_labels(target) {
            log_probs
                .chunks_exact(cols.max(1))
                .zip(t)
                .map(|(row, &label)| -row[label_index(label, cols)])
                .sum()
        } else {
            -reduce::dot(log_probs, t)
        };
        out[0] = if rows == 0 { 0.0 } else { total / rows as f32 };
    }

    /// `∂L/∂z = (softmax(z)·Σt − t)/rows` (`Σt = 1` for labels); the target gets `−log_softmax(z)/rows` when it is a
    /// probability matrix that itself needs a gradient (a label node never does).
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let (logits, target) = (cx.inputs[0], cx.inputs[1]);
        let aux: &[f32] = scratch.aux;
        let shape = cx.shape(logits);
        let (rows, cols) = (shape.rows(), shape.cols());
        if rows == 0 {
            return;
        }
        let scale = grad_out[0] / rows as f32;
        let t = cx.get(target);
        let is_labels = cx.is_labels(target);
        if let Some(grad) = grads.get_mut(logits) {
            for (row, (log_probs, grad)) in aux
                .chunks_exact(cols)
                .zip(grad.chunks_exact_mut(cols))
                .enumerate()
            {
                if is_labels {
                    let label = label_index(t[row], cols);
                    simd::exp_each(log_probs, |c, p| {
                        grad[c] += scale * (p - f32::from(c == label));
                    });
                } else {
                    // Targets need not sum to 1 (the gradient then keeps the `Σt` factor).
                    let targets = &t[row * cols..(row + 1) * cols];
                    let mass = reduce::sum(targets);
                    simd::exp_each(log_probs, |c, p| {
                        grad[c] += scale * (p * mass - targets[c]);
                    });
                }
            }
        }
        if !is_labels && let Some(grad) = grads.get_mut(target) {
            simd::axpy(-scale, aux, grad);
        }
    }
}

/// A stored label as an index; clamped so that no stored value can index out of bounds
/// (`Tape::set_labels` already refused labels outside `0..classes`).
fn label_index(label: f32, cols: usize) -> usize {
    (label as usize).min(cols.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Params, Shape, Tape, TapeError};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn cross_entropy_matches_central_differences(input in matrix(-8.0..8.0), seed: u32) {
            let (shape, _) = input.clone();
            let labels: Vec<u32> = (0..shape.rows()).map(|r| (seed as usize + r * 7) as u32 % shape.cols() as u32).collect();
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| {
                let y = t.labels(shape.rows(), shape.cols())?;
                t.set_labels(y, &labels)?;
                t.softmax_cross_entropy(v[0], y)
            }).unwrap())?;
            // Against a probability matrix that is itself a parameter: both get gradients.
            let target = (shape, input.1.iter().map(|x| x.abs() / 8.0).collect());
            assert_ok(check_function(&[input, target], |t, v| t.softmax_cross_entropy(v[0], v[1])).unwrap())?;
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let mut params = Params::new();
        let id = params
            .add(
                "z",
                Shape::matrix(1, 3).unwrap(),
                vec![1000.0, -1000.0, 0.0],
            )
            .unwrap();
        let mut tape = Tape::new();
        let z = tape.param(&params, id);
        let y = tape.labels(1, 3).unwrap();
        let loss = tape.softmax_cross_entropy(z, y).unwrap();
        tape.set_labels(y, &[1]).unwrap();
        tape.forward(&params);
        assert_eq!(tape.value(loss)[0], 2000.0);
        tape.backward(loss, &mut params);
        assert_eq!(params.grad(id), &[1.0, -1.0, 0.0]);
    }

    #[test]
    fn labels_out_of_range_are_refused() {
        let mut tape = Tape::new();
        let y = tape.labels(2, 10).unwrap();
        let err = tape.set_labels(y, &[3, 10]).unwrap_err();
        assert!(
            matches!(
                err,
                TapeError::Label {
                    label: 10,
                    row: 1,
                    classes: 10
                }
            ),
            "{err}"
        );
    }
}
