//! Training: the loop, optimizers and weights on disk.

pub mod bench;
pub mod optimizer;
pub mod trainer;
pub mod weights;

pub use trainer::{EpochReport, Model, Progress, TrainConfig, TrainReport, evaluate, train};

use crate::autodiff::TapeError;
use crate::language::Span;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A NaN or infinity in the loss; `node` is where it first appeared (name, span, and
    /// whether its value or its gradient went bad).
    #[error("training diverged at epoch {epoch}, step {step}: the loss is {loss}{}; try a smaller learning rate (lr = {lr} now)",
        node.as_ref().map(|(name, _, what)| format!(" (first non-finite {what}: node `{name}`)")).unwrap_or_default())]
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
        lr: f32,
        node: Option<(String, Span, &'static str)>,
    },
    #[error("the model has no `loss` line, so it cannot be trained")]
    NoLoss,
    #[error("{what}")]
    NoData { what: String },
    #[error(transparent)]
    Tape(#[from] TapeError),
    #[error(transparent)]
    Weights(#[from] weights::WeightsError),
}
