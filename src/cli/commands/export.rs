//! `nnc export FILE --weights W --out PATH`: the trained network as an ONNX model, or with
//! `--format torch` as the Python source of a PyTorch module (see `crate::export`),
//! written atomically. The model is built with the file's `let`s
//! and `--set` overrides, as `nnc run` built it, and the weights must match it exactly
//! (`weights::load` lists the differences). No data is read.

use std::io::Write;

use crate::rng::Generator;
use rand::SeedableRng;
use serde::Serialize;

use crate::cli::args::{ExportArgs, ExportFormat};
use crate::cli::commands::check::{group_digits, print_json};
use crate::cli::config::load_model;
use crate::export::{OPSET, encode, to_onnx, to_torch};
use crate::training::{Model, weights};

/// The `--json` output of `nnc export`.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// The file written.
    pub path: String,
    pub model: String,
    /// `onnx` or `torch`.
    pub format: &'static str,
    /// The ONNX operator set the file imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opset: Option<i64>,
    /// ONNX nodes in the file's graph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<usize>,
}

pub fn run(args: &ExportArgs) -> anyhow::Result<()> {
    let Some(weights_path) = &args.weights else {
        return Err(crate::Error::Usage(
            "`nnc export` needs the trained weights: `--weights PATH` (written by `nnc run --save PATH`)"
                .into(),
        )
        .into());
    };
    let (_, graph) = load_model(&args.model)?;
    // The initial draw is overwritten by the load; it only gives the tensors their names
    // and shapes.
    let mut rng = Generator::seed_from_u64(graph.train.seed);
    let mut model = Model::init(&graph, &mut rng).map_err(crate::Error::Train)?;
    weights::load(&mut model.params, weights_path).map_err(|e| crate::Error::Train(e.into()))?;
    let (bytes, opset, nodes) = match args.format {
        ExportFormat::Onnx => {
            let onnx = to_onnx(&graph, &model).map_err(crate::Error::Export)?;
            let nodes = onnx.graph.as_ref().map_or(0, |g| g.node.len());
            (
                encode(&onnx).map_err(crate::Error::Export)?,
                Some(OPSET),
                Some(nodes),
            )
        }
        ExportFormat::Torch => {
            let python = to_torch(&graph, &model).map_err(crate::Error::Export)?;
            (python.into_bytes(), None, None)
        }
    };
    crate::atomic_file::write(&args.out, &bytes).map_err(|source| crate::Error::Write {
        path: args.out.clone(),
        source,
    })?;
    let report = ExportReport {
        path: args.out.display().to_string(),
        model: graph.name.clone(),
        format: match args.format {
            ExportFormat::Onnx => "onnx",
            ExportFormat::Torch => "torch",
        },
        opset,
        nodes,
    };
    if args.model.flags.json {
        print_json(&report)?;
    } else if !args.model.flags.quiet {
        let what = match (report.opset, report.nodes) {
            (Some(opset), Some(nodes)) => format!("ONNX (opset {opset}, {nodes} nodes"),
            _ => "a PyTorch module (class Model".to_owned(),
        };
        writeln!(
            std::io::stdout(),
            "wrote {}: {} as {what}, {} bytes)",
            report.path,
            report.model,
            group_digits(bytes.len() as u64),
        )?;
    }
    Ok(())
}
