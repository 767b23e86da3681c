//! Lowering: a validated [`Graph`] onto the autodiff [`Tape`].
//!
//! [`init_params`] allocates and draws every tensor the nodes declare ([`Op::params`]:
//! weights, biases, buffers), once; they persist across steps in [`Params`], named
//! `{prefix}.{suffix}`. [`Network::record`] records the graph for one batch size.
//! Recording again for another batch size reuses the tape's buffers.

use rand::Rng;
use rand::rngs::StdRng;

use super::{Activation, Fill, Graph, Init, Loss, NodeId, Op, Role};
use crate::autodiff::ops::BatchNormParams;
use crate::autodiff::{ParamId, Params, Shape, Tape, TapeError, Var};

/// Per graph node, the tensors it owns, in the order of its [`Op::params`].
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
pub fn init_params(graph: &Graph, rng: &mut StdRng) -> Result<(Params, NodeParams), TapeError> {
    let mut params = Params::new();
    let mut per_node = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let mut ids = Vec::new();
        for spec in graph.node_specs(node) {
            let name = format!("{}.{}", node.param_prefix, spec.suffix);
            let values = fill(spec.fill, spec.shape.numel(), rng);
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

/// `count` initial values of a tensor.
fn fill(fill: Fill, count: usize, rng: &mut StdRng) -> Vec<f32> {
    match fill {
        Fill::Draw {
            init,
            fan_in,
            fan_out,
        } => draw(init, fan_in, fan_out, count, rng),
        Fill::Zeros => vec![0.0; count],
        Fill::Ones => vec![1.0; count],
    }
}

/// `count` initial weights of a layer with `fan_in` inputs and `fan_out` outputs per
/// weight (a dense layer's `n_in` and `units`).
fn draw(init: Init, fan_in: usize, fan_out: usize, count: usize, rng: &mut StdRng) -> Vec<f32> {
    let fan_in = fan_in.max(1) as f32;
    match init {
        Init::Xavier => uniform((6.0 / (fan_in + fan_out as f32)).sqrt(), count, rng),
        Init::Uniform => uniform(1.0 / fan_in.sqrt(), count, rng),
        Init::He => normal((2.0 / fan_in).sqrt(), count, rng),
        Init::Normal => normal((1.0 / fan_in).sqrt(), count, rng),
    }
}

fn uniform(limit: f32, count: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..count)
        .map(|_| rng.random_range(-limit..=limit))
        .collect()
}

/// Normal samples by the Box–Muller transform (two per pair of uniforms).
fn normal(std_dev: f32, count: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
        let u2: f64 = rng.random();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32 * std_dev);
        out.push((radius * angle.sin()) as f32 * std_dev);
    }
    out.truncate(count);
    out
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
            let x = node.inputs.first().map(|i| vars[i.index()]);
            let arg = |k: usize| vars[node.inputs[k].index()];
            let owned = &node_params[index];
            let var = match (&node.op, x) {
                (Op::Input, _) => {
                    let v = tape.input(node.shape.batched(batch)?);
                    input = Some(v);
                    v
                }
                (Op::Dense { .. }, Some(x)) => {
                    // `Op::params`: the weight, then the bias if the layer has one.
                    let weight = owned[0];
                    let w = tape.param(params, weight);
                    let y = if params.is_transposed(weight) {
                        tape.matmul(x, w)? // x·Wᵀ, with Wᵀ stored
                    } else {
                        tape.matmul_nt(x, w)?
                    };
                    match owned.get(1) {
                        Some(&bias) => {
                            let b = tape.param(params, bias);
                            tape.bias_add(y, b)?
                        }
                        None => y,
                    }
                }
                (Op::Activation(act), Some(x)) => match *act {
                    Activation::Sigmoid => tape.sigmoid(x),
                    Activation::Tanh => tape.tanh(x),
                    Activation::Relu => tape.relu(x),
                    Activation::LeakyRelu { slope } => tape.leaky_relu(x, slope),
                    Activation::Softmax => tape.softmax(x),
                    Activation::LogSoftmax => tape.log_softmax(x),
                    Activation::Identity => x,
                },
                (Op::Dropout { p }, Some(x)) => tape.dropout(x, *p)?,
                (Op::Concat, _) => {
                    let parts: Vec<Var> = node.inputs.iter().map(|i| vars[i.index()]).collect();
                    tape.concat(&parts)?
                }
                (Op::Add, _) => tape.add(arg(0), arg(1))?,
                (Op::Sub, _) => tape.sub(arg(0), arg(1))?,
                (Op::Mul, _) => tape.mul(arg(0), arg(1))?,
                (Op::Scale(c), Some(x)) => tape.scale(x, *c),
                (Op::AddScalar(c), Some(x)) => tape.add_scalar(x, *c),
                (
                    Op::Conv2d {
                        stride, padding, ..
                    },
                    Some(x),
                ) => {
                    // `Op::params`: the weight, then the bias if the layer has one.
                    let w = tape.param(params, owned[0]);
                    let b = owned.get(1).map(|&bias| tape.param(params, bias));
                    tape.conv2d(x, w, b, *stride, *padding)?
                }
                (Op::Pool { kind, size, stride }, Some(x)) => {
                    tape.pool(*kind, x, *size, *stride)?
                }
                (Op::GlobalAvgPool, Some(x)) => tape.global_avgpool(x)?,
                (Op::Flatten, Some(x)) => tape.reshape(x, node.shape.batched(batch)?)?,
                (Op::BatchNorm { momentum, eps }, Some(x)) => {
                    // `Op::params`: scale, shift, running mean and variance, count.
                    let [gamma, beta, running_mean, running_var, tracked] =
                        [0, 1, 2, 3, 4].map(|i| tape.param(params, owned[i]));
                    let tensors = BatchNormParams {
                        gamma,
                        beta,
                        running_mean,
                        running_var,
                        tracked,
                    };
                    tape.batchnorm(x, tensors, *momentum, *eps)?
                }
                (Op::Standardize, Some(x)) => {
                    // `Op::params`: the mean, then the deviation.
                    let mean = tape.param(params, owned[0]);
                    let std = tape.param(params, owned[1]);
                    tape.standardize(x, mean, std)?
                }
                (op, None) => {
                    return Err(TapeError::Invalid {
                        op: "lower",
                        why: format!("{op:?} at `{}` has no input", node.name),
                    });
                }
            };
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
                Loss::CrossEntropy => match output_node.op {
                    // From the logits in one stable step: never log(softmax).
                    Op::Activation(Activation::Softmax | Activation::LogSoftmax) => {
                        let logits = vars[output_node.inputs[0].index()];
                        let labels = tape.labels(batch, classes)?;
                        (
                            tape.softmax_cross_entropy(logits, labels)?,
                            Targets::Labels(labels),
                        )
                    }
                    // Any other output is read as probabilities: mean over rows of −Σ t·ln p.
                    _ => {
                        let one_hot = tape.input(Shape::matrix(batch, classes)?);
                        let log_p = tape.log(output);
                        let picked = tape.mul(log_p, one_hot)?;
                        let total = tape.sum(picked);
                        (
                            tape.scale(total, -1.0 / batch.max(1) as f32),
                            Targets::OneHot(one_hot),
                        )
                    }
                },
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
    use crate::graph::{BuildOptions, build_graph};
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
        let (params, _) = init_params(&g, &mut StdRng::seed_from_u64(0)).unwrap();
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
        let mut rng = StdRng::seed_from_u64(7);
        let xavier = draw(Init::Xavier, 784, 256, 200_704, &mut rng);
        let limit = (6.0f32 / (784.0 + 256.0)).sqrt();
        assert!(xavier.iter().all(|w| w.abs() <= limit));
        let he = draw(Init::He, 784, 256, 200_704, &mut rng);
        let variance = he.iter().map(|w| (w * w) as f64).sum::<f64>() / he.len() as f64;
        assert!(
            (variance - 2.0 / 784.0).abs() < 0.05 * 2.0 / 784.0,
            "He variance {variance}"
        );
    }
}
