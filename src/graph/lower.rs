//! Lowering: a validated [`Graph`] onto the autodiff [`Tape`].
//!
//! [`init_params`] allocates and draws every tensor the nodes declare
//! ([`Layer::tensors`](crate::ops::Layer::tensors): weights, biases, buffers), once; they persist across steps in [`Params`], named
//! `{prefix}.{suffix}`. [`Network::record`] records the graph for one batch size.
//! Recording again for another batch size reuses the tape's buffers.

use crate::rng::Generator;

use super::{Graph, Loss, NodeId, Role};
use crate::autodiff::{ParamId, Params, Shape, Tape, TapeError, Var};
use crate::ops::Lowering;

/// Per graph node, the tensors it owns, in the order of its declaration.
pub type NodeParams = Vec<Vec<ParamId>>;

/// Where the targets go: class indices for the fused softmax + cross-entropy, or one-hot
/// rows for `mse` and for cross-entropy on an output that is not a softmax.
#[derive(Debug, Clone, Copy)]
pub enum Targets {
    Labels(Var),
    OneHot(Var),
}

/// A graph recorded on a tape for one batch size.
#[derive(Debug)]
pub struct Network {
    pub tape: Tape,
    pub batch: usize,
    pub input: Var,
    pub output: Var,
    /// `None` when the graph has no loss (or was recorded for inference only).
    pub loss: Option<Var>,
    pub targets: Option<Targets>,
    /// For each tape variable, the graph node it belongs to (`None` for helpers such as
    /// parameters and targets): run-time problems are reported at that node's span.
    pub origin: Vec<Option<NodeId>>,
}

/// Draws the initial tensors of every node, in graph order, from `rng`. Returns the
/// store and, per graph node, its tensors.
pub fn init_params(graph: &Graph, rng: &mut Generator) -> Result<(Params, NodeParams), TapeError> {
    let mut params = Params::new();
    let mut per_node = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let mut ids = Vec::new();
        for spec in graph.node_specs(node) {
            let name = format!("{}.{}", node.param_prefix, spec.suffix);
            let values = spec.fill.values(spec.shape.numel(), rng);
            let id = match (spec.role, spec.stored_transposed) {
                (Role::Buffer, _) if spec.count => params.add_count(name, spec.shape, values)?,
                (Role::Buffer, _) => params.add_buffer(name, spec.shape, values)?,
                (Role::Trainable, true) => params.add_transposed(name, spec.shape, values)?,
                (Role::Trainable, false) => params.add(name, spec.shape, values)?,
            };
            if spec.decays {
                params.set_decays(id);
            }
            ids.push(id);
        }
        per_node.push(ids);
    }
    Ok((params, per_node))
}

impl Network {
    /// Records `graph` for `batch` samples on `tape` (reset first, buffers kept). With
    /// `with_loss`, also records the loss and its target node.
    pub fn record(
        graph: &Graph,
        params: &Params,
        node_params: &[Vec<ParamId>],
        mut tape: Tape,
        batch: usize,
        with_loss: bool,
    ) -> Result<Network, TapeError> {
        tape.reset();
        let mut origin: Vec<Option<NodeId>> = Vec::new();
        let mut vars: Vec<Var> = Vec::with_capacity(graph.nodes.len());
        // Every tape variable recorded for a graph node (its parameters included) maps
        // back to that node.
        let mark = |tape: &Tape, origin: &mut Vec<Option<NodeId>>, node: Option<NodeId>| {
            origin.resize(tape.len(), node);
        };
        let mut input = None;
        for (index, node) in graph.nodes.iter().enumerate() {
            let id = NodeId(index as u32);
            let inputs: Vec<Var> = node.inputs.iter().map(|i| vars[i.index()]).collect();
            let input_shapes = graph.input_shapes(node);
            let var = node.op.lower(&mut Lowering {
                tape: &mut tape,
                params,
                inputs: &inputs,
                input_shapes: &input_shapes,
                shape: node.shape,
                batch,
                owned: &node_params[index],
            })?;
            if node.op.is_input() {
                input = Some(var);
            }
            mark(&tape, &mut origin, Some(id));
            vars.push(var);
        }
        let output = vars[graph.output.index()];
        let input = input.ok_or_else(|| TapeError::Invalid {
            op: "lower",
            why: "the graph has no input".into(),
        })?;
        let (mut loss, mut targets) = (None, None);
        if let (true, Some(kind)) = (with_loss, graph.loss) {
            let output_node = graph.node(graph.output);
            let classes = output_node.shape.numel();
            let (l, t) = match kind {
                // From the logits in one stable step: never log(softmax).
                Loss::CrossEntropy if output_node.op.is_softmax_of_input() => {
                    let logits = vars[output_node.inputs[0].index()];
                    let labels = tape.labels(batch, classes)?;
                    (
                        tape.softmax_cross_entropy(logits, labels)?,
                        Targets::Labels(labels),
                    )
                }
                // Any other output is read as probabilities: mean over rows of −Σ t·ln p.
                Loss::CrossEntropy => {
                    let one_hot = tape.input(Shape::matrix(batch, classes)?);
                    let log_p = tape.log(output);
                    let picked = tape.mul(log_p, one_hot)?;
                    let total = tape.sum(picked);
                    (
                        tape.scale(total, -1.0 / batch.max(1) as f32),
                        Targets::OneHot(one_hot),
                    )
                }
                Loss::Mse => {
                    let one_hot = tape.input(Shape::matrix(batch, classes)?);
                    (tape.mse(output, one_hot)?, Targets::OneHot(one_hot))
                }
            };
            mark(&tape, &mut origin, Some(graph.output));
            loss = Some(l);
            targets = Some(t);
        }
        Ok(Network {
            tape,
            batch,
            input,
            output,
            loss,
            targets,
            origin,
        })
    }

    /// Writes a batch's class labels into the target node (as indices or one-hot rows).
    pub fn set_targets(&mut self, labels: &[u32]) -> Result<(), TapeError> {
        match self.targets {
            Some(Targets::Labels(var)) => self.tape.set_labels(var, labels),
            Some(Targets::OneHot(var)) => {
                let buffer = self.tape.value_mut(var)?;
                let classes = buffer.len() / labels.len().max(1);
                if buffer.len() != labels.len() * classes {
                    return Err(TapeError::Length {
                        what: "one-hot targets",
                        expected: buffer.len(),
                        got: labels.len(),
                    });
                }
                buffer.fill(0.0);
                for (row, &label) in labels.iter().enumerate() {
                    let label = label as usize;
                    if label >= classes {
                        return Err(TapeError::Label {
                            label: label as u32,
                            row,
                            classes,
                        });
                    }
                    buffer[row * classes + label] = 1.0;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Writes a batch's target values (a regression table's, one per sample) into the
    /// target node: the `[batch, 1]` rows that `mse` compares the output with.
    pub fn set_values(&mut self, values: &[f32]) -> Result<(), TapeError> {
        match self.targets {
            Some(Targets::OneHot(var)) => {
                let buffer = self.tape.value_mut(var)?;
                if buffer.len() != values.len() {
                    return Err(TapeError::Length {
                        what: "target values",
                        expected: buffer.len(),
                        got: values.len(),
                    });
                }
                buffer.copy_from_slice(values);
                Ok(())
            }
            Some(Targets::Labels(_)) => Err(TapeError::Invalid {
                op: "set_values",
                why: "this loss compares the output with class labels, not values".into(),
            }),
            None => Ok(()),
        }
    }

    /// The graph node a tape variable belongs to.
    pub fn origin_of(&self, var: Var) -> Option<NodeId> {
        self.origin.get(var.index()).copied().flatten()
    }

    /// Gives the tape back, to record again for another batch size without reallocating.
    pub fn into_tape(self) -> Tape {
        self.tape
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::graph::{BuildOptions, Init, build_graph};
    use crate::language::Source;

    fn graph(text: &str) -> Graph {
        build_graph(
            &Source {
                path: "t.nn".into(),
                text: text.into(),
            },
            &BuildOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn tensors_are_named_after_their_binding() {
        let g = graph(
            "model m {\n x = input(4)\n h = x |> dense(3) |> sigmoid\n d = h |> dense(3) |> relu |> dense(2, bias = false)\n output = d |> dense(2) |> softmax\n loss = cross_entropy\n}\n",
        );
        let (params, _) = init_params(&g, &mut Generator::seed_from_u64(0)).unwrap();
        let names: Vec<&str> = params.ids().map(|id| params.name(id)).collect();
        assert_eq!(
            names,
            [
                "h.weight",
                "h.bias",
                "d.dense.weight",
                "d.dense.bias",
                "d.weight",
                "output.weight",
                "output.bias"
            ]
        );
    }

    #[test]
    fn initialisations_have_the_documented_spread() {
        let mut rng = Generator::seed_from_u64(7);
        let xavier = Init::Xavier.draw(784, 256, 200_704, &mut rng);
        let limit = (6.0f32 / (784.0 + 256.0)).sqrt();
        assert!(xavier.iter().all(|w| w.abs() <= limit));
        let he = Init::He.draw(784, 256, 200_704, &mut rng);
        let variance = he.iter().map(|w| (w * w) as f64).sum::<f64>() / he.len() as f64;
        assert!(
            (variance - 2.0 / 784.0).abs() < 0.05 * 2.0 / 784.0,
            "He variance {variance}"
        );
    }
}
