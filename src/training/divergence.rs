//! When a run has diverged, and what to blame: a loss that is NaN or infinite, or a
//! finite loss that exploded (the rule below); the node whose value (or gradient) went
//! non-finite first, or for a finite explosion the node holding the largest value. The
//! training loop feeds every step's loss to a [`LossGuard`]; the node search runs only
//! once a run has diverged, on the values the tape still holds for that step.
//!
//! # The rule for a finite loss (see: #11)
//!
//! A run has diverged when its *running loss* (an exponential moving average of the batch
//! losses, about the last [`RUNNING_STEPS`] steps) exceeds [`DIVERGENCE_FACTOR`] times its
//! *reference*: the larger of the run's first batch loss (computed with the initial
//! weights, before any update, so a learning rate cannot have inflated it yet) and the loss
//! of an uninformed prediction (`ln(classes)` for cross-entropy, the uniform prediction;
//! `1/classes` for `mse` against one-hot rows, predicting all zeros).
//!
//! Why it never fires on a healthy run: training lowers the loss, so a healthy running loss
//! stays near or below its start. Trained in full with their own settings, the shipped
//! models peaked at 1.00 times their reference, `mnist_sigmoid` (batch 1) at 1.20: three
//! orders of magnitude below the bound (README; `tests/divergence.rs` keeps every model in
//! `models/` below a hundredth of it). The floor keeps a run that starts from good weights (`--weights`, a first
//! loss near 0) from being held to a tiny bound: a cross-entropy of 1000·ln(10) ≈ 2303
//! means logits thousands apart, which no working classifier produces. The average keeps
//! a single hard sample at batch 1 (a cross-entropy of 20 or 30) from counting as more
//! than a thirty-second of itself. An exploding run grows geometrically, so the rule
//! catches it within a few steps of the factor being passed.

use std::fmt;

use super::TrainError;
use crate::autodiff::Params;
use crate::graph::lower::Network;
use crate::graph::{Graph, Loss, NodeId};
use crate::language::Span;

/// A running loss this many times its reference means the run has diverged.
pub const DIVERGENCE_FACTOR: f64 = 1000.0;

/// The running loss averages about this many of the latest steps.
pub const RUNNING_STEPS: f64 = 32.0;

/// Tracks the running loss of a run against the divergence bound.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LossGuard {
    /// The loss of an uninformed prediction: the least reference a run gets.
    floor: f64,
    /// Set by the first step.
    reference: Option<f64>,
    running: f64,
    /// The largest `running / reference` seen so far.
    peak_ratio: f64,
}

/// A finite running loss that passed the bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exploded {
    pub running: f64,
    pub reference: f64,
}

impl LossGuard {
    /// A guard for a model trained with `loss` on `classes` classes.
    pub fn new(loss: Loss, classes: usize) -> LossGuard {
        let classes = classes.max(2) as f64;
        let floor = match loss {
            Loss::CrossEntropy => classes.ln(),
            Loss::Mse => 1.0 / classes,
        };
        LossGuard {
            floor,
            reference: None,
            running: 0.0,
            peak_ratio: 0.0,
        }
    }

    /// Adds one step's (finite) batch loss; an error once the running loss has passed
    /// [`DIVERGENCE_FACTOR`] times the reference. A few flops: it runs every step.
    pub fn observe(&mut self, loss: f32) -> Result<(), Exploded> {
        let loss = f64::from(loss);
        let reference = match self.reference {
            Some(reference) => {
                self.running += (loss - self.running) / RUNNING_STEPS;
                reference
            }
            None => {
                self.running = loss;
                *self.reference.insert(loss.max(self.floor))
            }
        };
        let ratio = self.running / reference;
        self.peak_ratio = self.peak_ratio.max(ratio);
        if ratio > DIVERGENCE_FACTOR {
            return Err(Exploded {
                running: self.running,
                reference,
            });
        }
        Ok(())
    }

    /// The largest running loss so far over the reference (0 before the first step).
    pub fn peak_ratio(&self) -> f64 {
        self.peak_ratio
    }
}

/// Why a run counts as diverged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cause {
    /// The batch loss is NaN or infinite.
    NonFinite { loss: f32 },
    /// The running loss passed the bound while finite.
    Exploded(Exploded),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::NonFinite { loss } => write!(f, "the loss is {loss}"),
            Cause::Exploded(Exploded { running, reference }) => write!(
                f,
                "the running loss is {running:.3e}, over {DIVERGENCE_FACTOR} × its reference {reference:.4}"
            ),
        }
    }
}

/// The node a divergence is reported at.
#[derive(Debug, Clone, PartialEq)]
pub struct Blame {
    pub node: String,
    pub span: Span,
    pub kind: BlameKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BlameKind {
    /// The first node, in evaluation order, whose value is NaN or infinite.
    NonFiniteValue,
    /// The last node, in evaluation order, whose gradient is (no value was).
    NonFiniteGradient,
    /// The node with the largest value, of this magnitude (the loss is finite).
    LargestValue(f32),
}

impl Blame {
    /// The parenthesis of the error message: ` (first non-finite value: node `h`)`.
    pub fn describe(&self) -> String {
        match self.kind {
            BlameKind::NonFiniteValue => format!(" (first non-finite value: node `{}`)", self.node),
            BlameKind::NonFiniteGradient => {
                format!(" (first non-finite gradient: node `{}`)", self.node)
            }
            BlameKind::LargestValue(m) => {
                format!(" (largest value: node `{}`, magnitude {m:.3e})", self.node)
            }
        }
    }

    /// The label under the node in the rendered diagnostic.
    pub fn label(&self) -> String {
        match self.kind {
            BlameKind::NonFiniteValue => {
                format!("the value of `{}` went non-finite here first", self.node)
            }
            BlameKind::NonFiniteGradient => {
                format!("the gradient of `{}` went non-finite here first", self.node)
            }
            BlameKind::LargestValue(m) => format!(
                "the value of `{}` is the largest here (magnitude {m:.3e})",
                self.node
            ),
        }
    }
}

/// Where the divergence of this step happened and what to say about it.
pub struct Step<'a> {
    pub graph: &'a Graph,
    pub net: &'a mut Network,
    pub params: &'a Params,
    pub epoch: usize,
    pub step: usize,
    pub lr: f32,
}

impl Step<'_> {
    /// The error for a step that diverged, blaming a node as `cause` calls for.
    pub fn diverged(self, cause: Cause) -> TrainError {
        match cause {
            Cause::NonFinite { loss } => self.non_finite(loss),
            Cause::Exploded(exploded) => self.exploded(exploded),
        }
    }

    /// A NaN or infinite loss: blames the first graph node whose value (or, failing that,
    /// gradient) is not finite, by checking every node of the step that produced it.
    fn non_finite(self, loss: f32) -> TrainError {
        let net = self.net;
        let mut found = net
            .tape
            .first_non_finite_value(self.params)
            .map(|v| (v, BlameKind::NonFiniteValue));
        if found.is_none()
            && let Some(loss_var) = net.loss
        {
            let mut scratch = self.params.clone();
            scratch.zero_grads();
            net.tape.backward(loss_var, &mut scratch);
            found = net
                .tape
                .first_non_finite_grad(&scratch)
                .map(|v| (v, BlameKind::NonFiniteGradient));
        }
        let blame = found.and_then(|(var, kind)| blame(self.graph, net.origin_of(var), kind));
        TrainError::Diverged {
            epoch: self.epoch,
            step: self.step,
            cause: Cause::NonFinite { loss },
            lr: self.lr,
            blame,
        }
    }

    /// A finite loss that exploded: blames the graph node holding the largest value of
    /// the step. Only the model's own nodes count (up to its output), not the loss.
    fn exploded(self, exploded: Exploded) -> TrainError {
        let net = self.net;
        let blame = net
            .tape
            .largest_value(net.output.index() + 1)
            .and_then(|(var, magnitude)| {
                blame(
                    self.graph,
                    net.origin_of(var),
                    BlameKind::LargestValue(magnitude),
                )
            });
        TrainError::Diverged {
            epoch: self.epoch,
            step: self.step,
            cause: Cause::Exploded(exploded),
            lr: self.lr,
            blame,
        }
    }
}

fn blame(graph: &Graph, id: Option<NodeId>, kind: BlameKind) -> Option<Blame> {
    id.map(|id| {
        let node = graph.node(id);
        Blame {
            node: node.name.clone(),
            span: node.span,
            kind,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step (1-based) at which `losses` trip the guard, if any.
    fn trips(loss: Loss, losses: impl IntoIterator<Item = f32>) -> Option<usize> {
        let mut guard = LossGuard::new(loss, 10);
        losses
            .into_iter()
            .position(|l| guard.observe(l).is_err())
            .map(|i| i + 1)
    }

    #[test]
    fn a_falling_noisy_loss_never_trips() {
        // Batch 1: mostly easy samples, every 50th a confidently wrong one at 30.
        let losses = (0..100_000).map(|i| {
            if i % 50 == 49 {
                30.0
            } else {
                2.3 / (1.0 + i as f32 / 1000.0)
            }
        });
        assert_eq!(trips(Loss::CrossEntropy, losses), None);
    }

    #[test]
    fn a_run_from_good_weights_is_held_to_the_floor_not_its_first_loss() {
        // A first loss of 0.001 (resumed weights), then a rise to 5: 5000 times the first
        // loss, but about twice ln(10).
        let losses = std::iter::once(0.001).chain(std::iter::repeat_n(5.0, 10_000));
        assert_eq!(trips(Loss::CrossEntropy, losses), None);
        // For mse the floor is 1/10; a run that sits at 50 (500 times it) is not flagged...
        let losses = std::iter::once(0.0).chain(std::iter::repeat_n(50.0, 10_000));
        assert_eq!(trips(Loss::Mse, losses), None);
        // ... but one at 150 is.
        let losses = std::iter::once(0.0).chain(std::iter::repeat_n(150.0, 10_000));
        assert!(trips(Loss::Mse, losses).is_some());
    }

    #[test]
    fn an_exploding_finite_loss_trips_within_a_few_steps() {
        // Doubling each step from 2.3: the batch loss passes 1000 × 2.3 at step 11; the
        // running loss, a 32-step average, passes it five steps later.
        let losses = (0..60).map(|i| 2.3 * 2f32.powi(i));
        assert_eq!(trips(Loss::CrossEntropy, losses), Some(16));
        // A loss from 2.3 to 1e30 in a few steps, never NaN.
        let losses = [2.3, 40.0, 3e8, 2e30, 1e30];
        assert_eq!(trips(Loss::CrossEntropy, losses), Some(3));
    }

    #[test]
    fn the_peak_ratio_is_the_running_loss_over_the_reference() {
        let mut guard = LossGuard::new(Loss::CrossEntropy, 10);
        guard.observe(4.0).unwrap();
        assert_eq!(guard.peak_ratio(), 1.0);
        guard.observe(4.0 + 32.0 * 2.0).unwrap();
        assert_eq!(guard.peak_ratio(), 1.5);
        guard.observe(4.0).unwrap();
        assert_eq!(guard.peak_ratio(), 1.5);
    }

    #[test]
    fn messages_say_what_diverged_and_where() {
        let nan = Cause::NonFinite { loss: f32::NAN };
        assert_eq!(nan.to_string(), "the loss is NaN");
        let exploded = Cause::Exploded(Exploded {
            running: 2.04e30,
            reference: std::f64::consts::LN_10,
        });
        assert_eq!(
            exploded.to_string(),
            "the running loss is 2.040e30, over 1000 × its reference 2.3026"
        );
        let blame = Blame {
            node: "output.dense".into(),
            span: Span::default(),
            kind: BlameKind::LargestValue(3.1e15),
        };
        assert_eq!(
            blame.describe(),
            " (largest value: node `output.dense`, magnitude 3.100e15)"
        );
        assert_eq!(
            blame.label(),
            "the value of `output.dense` is the largest here (magnitude 3.100e15)"
        );
    }
}
