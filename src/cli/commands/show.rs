//! `nnc show FILE`: the network as a table (node, operation, output shape, parameters),
//! with totals and forward FLOPs per sample, then every `train` setting as the run will
//! use it (the file's, or the default). `--json` serialises the same report.

use std::io::Write;

use serde::Serialize;

use super::check::{group_digits, print_json};
use crate::cli::args::ShowArgs;
use crate::cli::config::load_model;
use crate::graph::settings::{self, train_block};
use crate::graph::{Graph, Loss, TrainSettings};

/// What `nnc show` prints, as a table or as JSON.
#[derive(Debug, Serialize)]
pub struct ShowReport {
    pub model: String,
    pub params: usize,
    pub flops_per_sample: u64,
    /// `cross_entropy`, `mse`, or null without a `loss` line.
    pub loss: Option<&'static str>,
    pub nodes: Vec<NodeRow>,
    /// Every setting of the `train` block, in the table's order.
    pub train: Vec<SettingRow>,
    #[serde(skip)]
    settings: TrainSettings,
}

/// One setting of the `train` block.
#[derive(Debug, Serialize)]
pub struct SettingRow {
    pub name: &'static str,
    /// As the language writes it: `sgd(lr = 0.1, momentum = 0.9)`, `32`.
    pub value: String,
    /// The file left it at its default.
    pub default: bool,
}

/// One node of the graph.
#[derive(Debug, Serialize)]
pub struct NodeRow {
    pub name: String,
    /// The operation with its arguments, e.g. `dense(256)`.
    pub op: String,
    /// Per-sample output shape; the batch dimension is implicit.
    pub shape: Vec<usize>,
    pub params: usize,
    /// Names of the nodes this one reads.
    pub inputs: Vec<String>,
}

impl ShowReport {
    /// The report of `graph`, with every block call `depth` deep (1: the calls in the
    /// model's lines) folded into one row: its name, the block, the shape of its value
    /// and its parameter total.
    pub fn new(graph: &Graph, depth: Option<usize>) -> Self {
        let mut nodes: Vec<NodeRow> = Vec::with_capacity(graph.nodes.len());
        let mut folded_into: Option<&str> = None;
        for node in &graph.nodes {
            let call = depth.and_then(|depth| {
                graph
                    .calls
                    .iter()
                    .find(|c| c.depth == depth && c.holds(&node.name))
            });
            let params = graph.node_params(node);
            match (call, nodes.last_mut()) {
                (Some(call), Some(row)) if folded_into == Some(call.name.as_str()) => {
                    row.shape = node.shape.dims();
                    row.params += params;
                    continue;
                }
                _ => {}
            }
            folded_into = call.map(|c| c.name.as_str());
            nodes.push(NodeRow {
                name: call.map_or_else(|| node.name.clone(), |c| c.name.clone()),
                op: call.map_or_else(|| node.op.describe(), |c| c.kind.clone()),
                shape: node.shape.dims(),
                params,
                inputs: node
                    .inputs
                    .iter()
                    .map(|&id| graph.node(id).name.clone())
                    .collect(),
            });
        }
        let loss = graph.loss.map(|loss| match loss {
            Loss::CrossEntropy => "cross_entropy",
            Loss::Mse => "mse",
        });
        let train = settings::shown(&graph.train)
            .into_iter()
            .map(|(setting, value, default)| SettingRow {
                name: setting.name,
                value,
                default,
            })
            .collect();
        ShowReport {
            model: graph.name.clone(),
            params: graph.param_count(),
            flops_per_sample: graph.flops_per_sample(),
            loss,
            nodes,
            train,
            settings: graph.train.clone(),
        }
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let shapes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{:?}", n.shape))
            .collect();
        let params: Vec<String> = self
            .nodes
            .iter()
            .map(|n| group_digits(n.params as u64))
            .collect();
        let width = |header: &str, column: &mut dyn Iterator<Item = usize>| {
            column.fold(header.len(), usize::max)
        };
        let w_name = width("node", &mut self.nodes.iter().map(|n| n.name.len()));
        let w_op = width("operation", &mut self.nodes.iter().map(|n| n.op.len()));
        let w_shape = width("shape", &mut shapes.iter().map(String::len));
        let w_params = width("params", &mut params.iter().map(String::len));
        let mut out = format!("model {}\n\n", self.model);
        out += &format!(
            "{:<w_name$}  {:<w_op$}  {:<w_shape$}  {:>w_params$}\n",
            "node", "operation", "shape", "params"
        );
        for ((node, shape), params) in self.nodes.iter().zip(&shapes).zip(&params) {
            out += &format!(
                "{:<w_name$}  {:<w_op$}  {:<w_shape$}  {:>w_params$}\n",
                node.name, node.op, shape, params
            );
        }
        out += &format!("\nparameters: {}\n", group_digits(self.params as u64));
        out += &format!(
            "forward FLOPs per sample: {}\n",
            group_digits(self.flops_per_sample)
        );
        out += &format!(
            "loss: {}\n",
            self.loss
                .unwrap_or("none (the model can be checked, not trained)")
        );
        out += "\n";
        out += &train_block(&self.settings);
        out
    }
}

pub fn run(args: &ShowArgs) -> anyhow::Result<()> {
    let (_, graph) = load_model(&args.model)?;
    let report = ShowReport::new(
        &graph,
        args.depth.map(|d| usize::try_from(d).unwrap_or(usize::MAX)),
    );
    if args.model.flags.json {
        print_json(&report)?;
    } else {
        write!(std::io::stdout(), "{}", report.table())?;
    }
    Ok(())
}
