//! What runs and sweeps produce: the reports commands print (`--json`), run records
//! keep and pictures draw. Below the commands, so that records and plots read them
//! without reaching into a command.

use serde::Serialize;

use crate::training::EpochReport;

/// The `--json` output of `nnc run` (and each run of `nnc sweep`). A classifier reports
/// `test_accuracy`; a regression (a table's label read as a number) `test_mse` and
/// `test_r2` instead.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub model: String,
    pub params: usize,
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
    pub samples: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f32>,
    pub test_loss: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_mse: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f32>,
    pub train_seconds: f64,
    pub samples_per_second: f64,
    /// Test images per second in the last evaluation (an extension of the contract).
    pub infer_samples_per_second: f64,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub history: Vec<EpochReport>,
}

/// One `--set` flag of a sweep: a `let` name and the values it takes, in flag order.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Axis {
    pub name: String,
    pub values: Vec<String>,
}

/// One cell of the grid: a value for every axis, in flag order.
pub type Cell = Vec<(String, String)>;

/// One run of the sweep in `--json`: the cell's values and the run's whole report.
#[derive(Debug, Serialize)]
pub struct SweepRun {
    #[serde(serialize_with = "ordered_map")]
    pub set: Cell,
    #[serde(flatten)]
    pub report: RunReport,
}

/// The `--json` output of `nnc sweep`.
#[derive(Debug, Serialize)]
pub struct SweepReport {
    pub runs: Vec<SweepRun>,
}

/// What a sweep cell's run record says about the sweep it belongs to, so that `nnc
/// report` can put the records of every shard back into one table.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SweepCell {
    /// Names the sweep: the same model text, `--set` axes and training flags give the same
    /// id on every machine (a hash of them), so shards of one sweep agree.
    pub id: String,
    pub axes: Vec<Axis>,
    /// This cell's place in the grid (from 0), in the order `nnc sweep` lists the cells.
    pub cell: usize,
    /// Cells in the whole grid.
    pub cells: usize,
}

/// Serialises the pairs as a JSON object, keeping flag order.
fn ordered_map<S: serde::Serializer>(pairs: &Cell, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// Every combination of the axes' values, the first axis varying slowest (nested loops
/// in flag order). No axes give one empty cell: the file as it is.
pub fn grid(axes: &[Axis]) -> Vec<Cell> {
    let mut cells: Vec<Cell> = vec![Vec::new()];
    for axis in axes {
        cells = cells
            .into_iter()
            .flat_map(|cell| {
                axis.values.iter().map(move |value| {
                    let mut next = cell.clone();
                    next.push((axis.name.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    cells
}
