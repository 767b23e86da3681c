//! Datasets: locating the IDX files, mapping them, and drawing batches as `f32`.
//!
//! STUB: replaced by the training issue's data layer (`locate.rs`, `idx.rs`, `mnist.rs`).

use std::path::{Path, PathBuf};

use crate::graph::DataSource;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid IDX file: {what}")]
    Corrupt { path: PathBuf, what: String },
    #[error("{0}")]
    NotFound(String),
}

/// A dataset's training and test splits.
pub struct Dataset {
    pub name: String,
    pub train: Split,
    pub test: Split,
    /// Values per sample (784 for 28×28 images).
    pub features: usize,
    /// Number of classes; every label is below it.
    pub classes: usize,
}

/// Images and labels of one split, mapped from disk.
pub struct Split {
    len: usize,
}

impl Split {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the samples at `indices` into `images` (`[indices.len(), features]`, scaled
    /// to `[0, 1]`) and their labels into `labels`.
    pub fn write_batch(&self, indices: &[u32], images: &mut [f32], labels: &mut [u32]) {
        let _ = (indices, images, labels);
        todo!()
    }
}

/// Finds and opens a dataset (search order as in the CLI contract).
pub fn open(source: &DataSource, data_dir: Option<&Path>) -> Result<Dataset, DataError> {
    let _ = (source, data_dir);
    todo!()
}
