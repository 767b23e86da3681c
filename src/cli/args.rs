//! The typed command line (clap). What the user typed, validated by clap, nothing resolved:
//! `config.rs` turns these plus the model's `train` block into a run configuration.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "nnc",
    version,
    about = "Write, train and benchmark neural networks from a .nn file"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

impl Args {
    /// `--threads`, for whichever command has it.
    pub fn threads(&self) -> Option<u16> {
        match &self.command {
            Command::Eval(a) | Command::Gradcheck(a) => a.train.threads,
            Command::Run(a) => a.train.threads,
            Command::Sweep(a) => a.run.train.threads,
            Command::Bench(a) => a.threads,
            Command::Check(_)
            | Command::Show(_)
            | Command::Export(_)
            | Command::Predict(_)
            | Command::Data(_)
            | Command::Report(_) => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the model as its `train` block says and evaluate it on the test set.
    Run(RunCommandArgs),
    /// Parse and validate a model file.
    Check(CheckArgs),
    /// Show the network as a table of nodes, shapes and parameters.
    Show(ShowArgs),
    /// Accuracy and loss of saved weights on the test set.
    Eval(RunArgs),
    /// Write the trained network as an ONNX model.
    Export(ExportArgs),
    /// Run saved weights on your own pictures, CSV rows or `.npy` arrays.
    Predict(PredictArgs),
    /// Train every combination of `--set NAME=V1,V2,...` values.
    Sweep(SweepArgs),
    /// Time training steps and inference without training to convergence.
    Bench(BenchArgs),
    /// Check the engine's gradients for this model against finite differences.
    Gradcheck(RunArgs),
    /// Compare run records: a markdown table, and with `--plot` their curves overlaid.
    Report(ReportArgs),
    /// Datasets: download into the cache.
    #[command(subcommand)]
    Data(DataCommand),
}

/// Options of the commands that only read a model.
#[derive(Debug, Clone, ClapArgs)]
pub struct CheckArgs {
    /// The `.nn` model file.
    pub file: PathBuf,
    #[command(flatten)]
    pub flags: ModelFlags,
}

/// What every command that reads a model takes beside the file.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct ModelFlags {
    /// Override a `let` parameter (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors (`sweep` still prints its table, the result it exists for).
    #[arg(long)]
    pub quiet: bool,
}

/// `nnc show FILE [--depth N]`.
#[derive(Debug, Clone, ClapArgs)]
pub struct ShowArgs {
    #[command(flatten)]
    pub model: CheckArgs,
    /// Fold the block calls N deep into one row each (1: the calls in the model's lines);
    /// every node is shown without it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub depth: Option<u64>,
}

/// Options that every training command takes.
#[derive(Debug, Clone, ClapArgs)]
pub struct RunArgs {
    #[command(flatten)]
    pub model: CheckArgs,
    #[command(flatten)]
    pub train: TrainFlags,
}

/// The flags of a training command beside the model's.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct TrainFlags {
    /// Folder holding the dataset's IDX files.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Override the `train` block's epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the `train` block's batch size.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Override the `train` block's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train on only the first N training samples.
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Write the trained weights here (safetensors), atomically.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Start from saved weights.
    #[arg(long, value_name = "PATH")]
    pub weights: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
    /// Download a built-in dataset into the cache if it is found nowhere.
    #[arg(long)]
    pub download: bool,
}

/// `nnc run`: the training options, plus the picture and the record it can keep, and
/// its checkpoints.
#[derive(Debug, Clone, ClapArgs)]
pub struct RunCommandArgs {
    /// The `.nn` model file (with `--resume`, the checkpoint's source when not given).
    #[arg(value_name = "FILE", required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ModelFlags,
    #[command(flatten)]
    pub train: TrainFlags,
    /// Draw the learning curves into PATH (`.svg` or `.png`), atomically.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// Write the run record (JSON) into this folder (created if missing), as
    /// `{model}-{seed}-{unix_time}.run.json` (default with `--save W`: next to W, as
    /// `W` with the extension `.run.json`).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Keep a checkpoint in this folder (created if missing) after every epoch, atomically:
    /// everything `--resume` needs to go on exactly where the run was.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Also keep one every N training steps.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: Option<u64>,
    /// Continue the run whose checkpoint is in DIR, to the weights, history and record
    /// the uninterrupted run gives; checkpoints go on into DIR.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
}

/// `nnc sweep`: the training options, plus the heat-map picture.
#[derive(Debug, Clone, ClapArgs)]
pub struct SweepArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Draw the grid as a heat map of test accuracy and training seconds into PATH
    /// (`.svg` or `.png`), atomically.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// Run only shard K of N: cells K, K+N, K+2N, ... in the order the sweep lists them.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Write each cell's run record into this folder (created if missing), for `nnc report DIR`.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

/// `nnc export FILE --weights W --out PATH [--format onnx|torch]`.
#[derive(Debug, Clone, ClapArgs)]
pub struct ExportArgs {
    #[command(flatten)]
    pub model: CheckArgs,
    /// The trained weights to export (written by `nnc run --save PATH`).
    #[arg(long, value_name = "PATH")]
    pub weights: Option<PathBuf>,
    /// Write the model here (an `.onnx` file, or a `.py` file with `--format torch`),
    /// atomically.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// `onnx`, or `torch`: the Python source of a `torch.nn.Module` whose tensors have
    /// the weights file's names.
    #[arg(long, value_enum, default_value_t = ExportFormat::Onnx)]
    pub format: ExportFormat,
}

/// What `nnc export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Onnx,
    Torch,
}

/// `nnc predict FILE --weights W INPUT...`.
#[derive(Debug, Clone, ClapArgs)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: CheckArgs,
    /// The trained weights (written by `nnc run --save PATH`).
    #[arg(long, value_name = "PATH")]
    pub weights: PathBuf,
    /// Pictures (PNG, JPEG, PGM/PPM), CSV files with the training table's columns, or
    /// `.npy` arrays.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// How many of the most likely classes to print per input.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub top: usize,
    /// Scale pictures of another size to the model's input.
    #[arg(long)]
    pub resize: bool,
    /// Pictures are dark strokes on a light background (MNIST's are light on dark).
    #[arg(long)]
    pub invert: bool,
}

/// `nnc report RECORD...`.
#[derive(Debug, Clone, ClapArgs)]
pub struct ReportArgs {
    /// Run records (`.run.json`) written by `nnc run` or `nnc sweep --record`, or folders
    /// of them.
    #[arg(required = true, value_name = "RECORD")]
    pub records: Vec<PathBuf>,
    /// Draw their curves overlaid into PATH (`.svg` or `.png`), atomically.
    #[arg(long, value_name = "PATH")]
    pub plot: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: CheckArgs,
    /// Batch sizes to time, comma separated (default: the file's).
    #[arg(long, value_delimiter = ',', value_name = "B1,B2,...")]
    pub batch: Vec<usize>,
    /// Folder holding the dataset's IDX files.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
    /// Seconds to time each setting.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a built-in dataset into the cache folder, verifying checksums.
    Fetch {
        /// `mnist` or `fashion_mnist`.
        name: String,
    },
}
