//! Run records: a small JSON file per `nnc run` holding what is needed to trace and re-run
//! the result (the `.nn` source as run, the `--set` overrides, the seed and settings, the
//! tool version and the machine's core count) and the result itself with its per-epoch
//! history. `nnc report` reads them back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::outcome::{RunReport, SweepCell};
use crate::graph::{Loss, OptimizerSettings};
use crate::training::EpochReport;

/// The file extension of a record, also appended to `--save`'s path stem.
pub const EXTENSION: &str = "run.json";

/// One run, as written to `*.run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always `nnc`: tells a record from any other JSON file.
    pub tool: String,
    pub version: String,
    pub model: String,
    /// The model file's path as given on the command line.
    pub file: String,
    /// The `.nn` text as run.
    pub source: String,
    /// The `--set NAME=VALUE` pairs, in flag order.
    pub overrides: Vec<(String, String)>,
    pub seed: u64,
    pub epochs: usize,
    pub batch: usize,
    /// Training samples used.
    pub samples: usize,
    /// `sgd lr 0.1`, `adam lr 0.001`, ...
    #[serde(default)]
    pub optimizer: String,
    /// `cross-entropy` or `mse`.
    #[serde(default)]
    pub loss: String,
    /// Logical cores of the machine.
    pub cores: usize,
    /// `--threads`, if given.
    pub threads: Option<u16>,
    /// A classifier's; a regression has `test_mse` and `test_r2` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f32>,
    pub test_loss: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_mse: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f32>,
    pub train_seconds: f64,
    /// Trainable parameters.
    #[serde(default)]
    pub params: usize,
    #[serde(default)]
    pub samples_per_second: f64,
    #[serde(default)]
    pub infer_samples_per_second: f64,
    /// The epoch whose weights were kept.
    #[serde(default)]
    pub best_epoch: usize,
    #[serde(default)]
    pub stopped_early: bool,
    /// The sweep this run is a cell of (`nnc sweep --record`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepCell>,
    /// Seconds since 1970 when the record was made.
    #[serde(default)]
    pub unix_time: u64,
    pub history: Vec<EpochReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an nnc run record: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
}

/// What a record needs beyond the run's report.
pub struct RecordContext<'a> {
    pub file: &'a Path,
    pub source: &'a str,
    pub overrides: Vec<(String, String)>,
    pub optimizer: &'a OptimizerSettings,
    pub loss: Option<Loss>,
    pub threads: Option<u16>,
}

impl RunRecord {
    pub fn new(report: &RunReport, context: RecordContext<'_>) -> RunRecord {
        RunRecord {
            tool: "nnc".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model: report.model.clone(),
            file: context.file.display().to_string(),
            source: context.source.to_owned(),
            overrides: context.overrides,
            seed: report.seed,
            epochs: report.epochs,
            batch: report.batch,
            samples: report.samples,
            optimizer: optimizer_text(context.optimizer),
            loss: loss_text(context.loss).into(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            threads: context.threads,
            test_accuracy: report.test_accuracy,
            test_loss: report.test_loss,
            test_mse: report.test_mse,
            test_r2: report.test_r2,
            train_seconds: report.train_seconds,
            params: report.params,
            samples_per_second: report.samples_per_second,
            infer_samples_per_second: report.infer_samples_per_second,
            best_epoch: report.best_epoch,
            stopped_early: report.stopped_early,
            sweep: None,
            unix_time: unix_time(),
            history: report.history.clone(),
        }
    }

    /// Reads and checks a record written by `nnc run`.
    pub fn read(path: &Path) -> Result<RunRecord, RecordError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |what: String| RecordError::Invalid {
            path: path.to_owned(),
            what,
        };
        let record: RunRecord = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if record.tool != "nnc" {
            return Err(invalid(format!("`tool` is {:?}, not \"nnc\"", record.tool)));
        }
        Ok(record)
    }

    /// Writes the record atomically.
    pub fn write(&self, path: &Path) -> Result<(), crate::Error> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a record serialises");
        bytes.push(b'\n');
        crate::atomic_file::write(path, &bytes).map_err(|source| crate::Error::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// The run's report as `nnc run --json` printed it (what a sweep's table is made of).
    pub fn report(&self) -> RunReport {
        RunReport {
            model: self.model.clone(),
            params: self.params,
            epochs: self.epochs,
            batch: self.batch,
            seed: self.seed,
            samples: self.samples,
            test_accuracy: self.test_accuracy,
            test_loss: self.test_loss,
            test_mse: self.test_mse,
            test_r2: self.test_r2,
            train_seconds: self.train_seconds,
            samples_per_second: self.samples_per_second,
            infer_samples_per_second: self.infer_samples_per_second,
            best_epoch: self.best_epoch,
            stopped_early: self.stopped_early,
            history: self.history.clone(),
        }
    }

    /// `hidden=16 lr=0.1`, or empty.
    pub fn overrides_text(&self) -> String {
        self.overrides
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The record kept with `--save W`: `W` with its extension replaced (`w.safetensors` →
/// `w.run.json`).
pub fn beside_weights(weights: &Path) -> PathBuf {
    weights.with_extension(EXTENSION)
}

/// A new record's path in `dir`: `{model}-{seed}-{unix_time}.run.json`, with `-2`, `-3`...
/// added when runs finish within the same second.
pub fn in_folder(dir: &Path, model: &str, seed: u64) -> PathBuf {
    let stem = format!("{model}-{seed}-{}", unix_time());
    let mut path = dir.join(format!("{stem}.{EXTENSION}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.{EXTENSION}"));
        n += 1;
    }
    path
}

/// Checks before training that `--record DIR` is a folder that takes new files, creating
/// it (and the folders above it) when it is missing.
pub fn check_folder(dir: &Path) -> Result<(), crate::Error> {
    let write_error = |source| crate::Error::Write {
        path: dir.to_owned(),
        source,
    };
    crate::atomic_file::create_folder(dir).map_err(write_error)?;
    crate::atomic_file::check_writable(&dir.join(format!("probe.{EXTENSION}"))).map_err(write_error)
}

/// `sgd lr 0.1 momentum 0.9`, `adam lr 0.001`.
pub fn optimizer_text(optimizer: &OptimizerSettings) -> String {
    match *optimizer {
        OptimizerSettings::Sgd { lr, momentum: 0.0 } => format!("sgd lr {lr}"),
        OptimizerSettings::Sgd { lr, momentum } => format!("sgd lr {lr} momentum {momentum}"),
        OptimizerSettings::Adam { lr, .. } => format!("adam lr {lr}"),
    }
}

/// The loss as the `.nn` language names it.
pub fn loss_text(loss: Option<Loss>) -> &'static str {
    match loss {
        Some(Loss::CrossEntropy) => "cross-entropy",
        Some(Loss::Mse) => "mse",
        None => "loss",
    }
}

/// The heading's second line: `sgd lr 0.1, batch 32, 5 epochs, seed 0, hidden=16`.
pub fn settings_text(
    optimizer: &str,
    batch: usize,
    epochs: usize,
    seed: u64,
    overrides: &str,
) -> String {
    let mut text = format!(
        "{optimizer}, batch {batch}, {epochs} epoch{}, seed {seed}",
        if epochs == 1 { "" } else { "s" }
    );
    if !overrides.is_empty() {
        text.push_str(", ");
        text.push_str(overrides);
    }
    text
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_beside_weights_replaces_their_extension() {
        assert_eq!(
            beside_weights(Path::new("out/w.safetensors")),
            Path::new("out/w.run.json")
        );
        assert_eq!(beside_weights(Path::new("w")), Path::new("w.run.json"));
    }

    #[test]
    fn settings_read_as_a_sentence() {
        assert_eq!(
            settings_text("sgd lr 0.1", 32, 1, 7, "hidden=16"),
            "sgd lr 0.1, batch 32, 1 epoch, seed 7, hidden=16"
        );
        assert_eq!(
            optimizer_text(&OptimizerSettings::Sgd {
                lr: 0.1,
                momentum: 0.9
            }),
            "sgd lr 0.1 momentum 0.9"
        );
    }
}
