//! The crate-wide error: one variant per layer, and the exit status each maps to.

use std::path::PathBuf;

use crate::autodiff::TapeError;
use crate::cli::plot::PlotError;
use crate::cli::record::RecordError;
use crate::data::DataError;
use crate::export::ExportError;
use crate::language::Diagnostics;
use crate::training::TrainError;

/// Everything that can go wrong in `nnc`, grouped by the layer that noticed it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `.nn` file has one or more problems (already rendered for the terminal).
    #[error("{0}")]
    Model(#[from] Diagnostics),
    /// A command-line flag that clap could not check by itself.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Tape(#[from] TapeError),
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A run-time failure already rendered for the terminal as a diagnostic at a place
    /// in the model file (e.g. where a diverging run first went non-finite).
    #[error("{0}")]
    Located(String),
    /// An output file (a picture, a run record) that could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl Error {
    /// The process exit status the CLI contract assigns: 2 for usage and model errors,
    /// 1 for failures at run time.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Model(_) | Error::Usage(_) => 2,
            Error::Data(_)
            | Error::Train(_)
            | Error::Tape(_)
            | Error::Export(_)
            | Error::Located(_)
            | Error::Write { .. }
            | Error::Plot(_)
            | Error::Record(_) => 1,
        }
    }
}
