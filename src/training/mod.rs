//! Training loops, optimizers, metrics and weights on disk. STUB.

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training diverged at epoch {epoch}, step {step}: {what}")]
    Diverged {
        epoch: usize,
        step: usize,
        what: String,
    },
}
