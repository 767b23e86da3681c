//! Training: the loop, its progress events, the divergence rule, optimizers and weights
//! on disk.

pub mod bench;
pub mod checkpoint;
pub mod divergence;
pub mod evaluate;
pub mod optimizer;
pub mod progress;
pub mod trainer;
pub mod weights;

pub use divergence::{Blame, BlameKind, Cause, DIVERGENCE_FACTOR, LossGuard};
pub use evaluate::{argmax, evaluate, set_targets};
pub use progress::{PROGRESS_INTERVAL, Progress};
pub use trainer::{
    Best, Checkpoints, EpochReport, Model, RunState, Scores, TrainConfig, TrainReport, train,
    train_from, training_rows,
};

use crate::autodiff::TapeError;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A NaN or infinite loss, or a finite one that exploded (see [`divergence`]);
    /// `blame` is the node to report it at.
    #[error("training diverged at epoch {epoch}, step {step}: {cause}{}; try a smaller learning rate (lr = {lr} now)",
        blame.as_ref().map(Blame::describe).unwrap_or_default())]
    Diverged {
        epoch: usize,
        step: usize,
        cause: Cause,
        lr: f32,
        blame: Option<Blame>,
    },
    #[error("the model has no `loss` line, so it cannot be trained")]
    NoLoss,
    #[error("{what}")]
    NoData { what: String },
    #[error(transparent)]
    Tape(#[from] TapeError),
    #[error(transparent)]
    Weights(#[from] weights::WeightsError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
}
