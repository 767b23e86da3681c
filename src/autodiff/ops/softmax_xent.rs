//! Softmax, log-softmax, and the fused softmax + cross-entropy computed from logits.

use super::super::{Shape, ShapeError, Tape, TapeError, Var, describe_shape};
use super::{Grads, Op, Values};
use crate::kernels::{reduce, simd};

/// The shape rule of `softmax` and `log_softmax` (`name`): over the features of a vector,
/// which keeps its shape.
pub fn softmax_shape(name: &str, x: Shape) -> Result<Shape, ShapeError> {
    if x.is_vector() {
        return Ok(x);
    }
    Err(ShapeError::new(
        format!("`{name}` takes a vector, found {}", describe_shape(x)),
        "not a vector",
    )
    .with_help(format!(
        "flatten the image and score it first: `x |> flatten |> dense(10) |> {name}`"
    )))
}

/// Labels are stored as `f32` on the tape: exact only below 2²⁴.
const MAX_CLASSES: usize = 1 << 24;

impl Tape {
    /// Row-wise softmax over the last axis.
    pub fn softmax(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::Softmax { x }, shape)
    }

    /// Row-wise log-softmax over the last axis.
    pub fn log_softmax(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Op::LogSoftmax { x }, shape)
    }

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
        let fits = match *self.op(target) {
            Op::Labels { classes } => {
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
        Ok(self.push(Op::SoftmaxCrossEntropy { logits, target }, Shape::scalar()))
    }
}

pub(super) fn softmax_forward(x: &[f32], cols: usize, out: &mut [f32]) {
    reduce::softmax_rows(x, cols, out);
}

/// `∂L/∂x = y ∘ (∂L/∂y − ⟨∂L/∂y, y⟩)` per row.
pub(super) fn softmax_backward(
    x: Var,
    out: &[f32],
    grad_out: &[f32],
    cols: usize,
    grads: &mut Grads<'_>,
) {
    if let Some(grad) = grads.get_mut(x) {
        reduce::softmax_backward_rows(out, grad_out, cols, grad);
    }
}

pub(super) fn log_softmax_forward(x: &[f32], cols: usize, out: &mut [f32]) {
    reduce::log_softmax_rows(x, cols, out);
}

/// `∂L/∂x = ∂L/∂y − softmax(x)·Σ ∂L/∂y` per row.
pub(super) fn log_softmax_backward(
    x: Var,
    out: &[f32],
    grad_out: &[f32],
    cols: usize,
    grads: &mut Grads<'_>,
) {
    if let Some(grad) = grads.get_mut(x) {
        reduce::log_softmax_backward_rows(out, grad_out, cols, grad);
    }
}

/// `L = (1/rows) Σ_rows −Σ_c t_c·log_softmax(z)_c`. The log-probabilities go into `aux`
/// (sized at recording) for the backward rule.
pub(super) fn xent_forward(
    cx: &Values<'_>,
    logits: Var,
    target: Var,
    out: &mut [f32],
    aux: &mut [f32],
) {
    let shape = cx.shape(logits);
    let (rows, cols) = (shape.rows(), shape.cols());
    let log_probs = aux;
    reduce::log_softmax_rows(cx.get(logits), cols, log_probs);
    let t = cx.get(target);
    let total: f32 = if matches!(cx.nodes[target.index()].op, Op::Labels { .. }) {
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
pub(super) fn xent_backward(
    cx: &Values<'_>,
    logits: Var,
    target: Var,
    grad_out: &[f32],
    aux: &[f32],
    grads: &mut Grads<'_>,
) {
    let shape = cx.shape(logits);
    let (rows, cols) = (shape.rows(), shape.cols());
    if rows == 0 {
        return;
    }
    let scale = grad_out[0] / rows as f32;
    let t = cx.get(target);
    let is_labels = matches!(cx.nodes[target.index()].op, Op::Labels { .. });
    if let Some(grad) = grads.get_mut(logits) {
        for (row, (log_probs, grad)) in aux
            .chunks_exact(cols)
            .zip(grad.chunks_exact_mut(cols))
            .enumerate()
        {
            if is_labels {
                let label = label_index(t[row], cols);
                for (c, (g, &lp)) in grad.iter_mut().zip(log_probs).enumerate() {
                    *g += scale * (lp.exp() - f32::from(c == label));
                }
            } else {
                // Targets need not sum to 1 (the gradient then keeps the `Σt` factor).
                let targets = &t[row * cols..(row + 1) * cols];
                let mass = reduce::sum(targets);
                for ((g, &lp), &target) in grad.iter_mut().zip(log_probs).zip(targets) {
                    *g += scale * (lp.exp() * mass - target);
                }
            }
        }
    }
    if !is_labels && let Some(grad) = grads.get_mut(target) {
        simd::axpy(-scale, aux, grad);
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
        fn softmax_and_log_softmax_match_central_differences(input in matrix(-4.0..4.0)) {
            assert_ok(check_function(std::slice::from_ref(&input), |t, v| Ok(t.softmax(v[0]))).unwrap())?;
            assert_ok(check_function(&[input], |t, v| Ok(t.log_softmax(v[0]))).unwrap())?;
        }

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
