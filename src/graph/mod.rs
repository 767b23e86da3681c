//! The computation graph a `.nn` file describes, after names are resolved, `let`s
//! substituted, shapes inferred and the `train` block validated.
//!
//! This is the hand-off between the language layer (which builds and validates it, with
//! spans for diagnostics) and the autodiff layer (which lowers it onto a tape). It holds
//! no float buffers: parameters are declared here and allocated by the lowering.

pub mod build;
pub mod lower;
pub mod shape;
pub mod validate;

pub use build::{BuildOptions, build_graph};

use crate::language::Span;

/// Index of a node in [`Graph::nodes`]. Inputs of a node always have smaller ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A validated model: nodes in evaluation order, the input, the output and the loss.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The name after `model`.
    pub name: String,
    /// Evaluation order: every node's inputs come before it.
    pub nodes: Vec<Node>,
    pub input: NodeId,
    pub output: NodeId,
    /// `None` when the file has no `loss` line: the model can be shown and checked,
    /// not trained.
    pub loss: Option<Loss>,
    /// The `train` block with every default filled in.
    pub train: TrainSettings,
}

/// One operation of the graph. Shapes are per sample; the batch dimension is implicit.
#[derive(Debug, Clone)]
pub struct Node {
    /// The name the file bound (`h`, `output`), or for an inner node of a binding's
    /// expression a derived one (`h.dense`, `h.sigmoid`, `h.dense1`). Unique in the graph;
    /// parameter tensors are named `{name}.weight` and `{name}.bias`.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<NodeId>,
    /// Features per sample of this node's output.
    pub width: usize,
    /// Where in the source this node was written, for diagnostics at run time.
    pub span: Span,
}

/// The closed set of graph operations.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `input(n)`: `width` is `n`.
    Input,
    /// `dense(x, units)`: `y = x·Wᵀ + b` with `W: [units, n_in]`.
    Dense {
        units: usize,
        bias: bool,
        init: Init,
    },
    Activation(Activation),
    /// `dropout(x, p)`, `0 ≤ p < 1`: zeroes each element with probability `p` in training
    /// and scales the rest by `1/(1-p)`; identity at inference.
    Dropout {
        p: f32,
    },
    /// `concat(a, b, ...)` along the feature axis.
    Concat,
    /// Element-wise `a + b`, `a - b`, `a * b` of two nodes of the same width.
    Add,
    Sub,
    Mul,
    /// `a * c` or `c * a` with a number `c`.
    Scale(f32),
    /// `a + c` (and `a - c` as `a + (-c)`) with a number `c`.
    AddScalar(f32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu { slope: f32 },
    Softmax,
    LogSoftmax,
    Identity,
}

/// How a `dense` layer's weights are drawn. Biases start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Glorot/Xavier uniform: `U(±sqrt(6 / (n_in + units)))`.
    Xavier,
    /// He normal: `N(0, 2 / n_in)`.
    He,
    /// `U(±1/sqrt(n_in))`, as PyTorch's `nn.Linear`.
    Uniform,
    /// `N(0, 1/n_in)`.
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean over the batch of `−log p[label]`. When `output` ends in `softmax` the
    /// lowering computes it from the logits in one stable step.
    CrossEntropy,
    /// Mean over all elements of `(output − one_hot)²`.
    Mse,
}

/// The `train` block, defaults filled in (see the language contract).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    pub data: DataSource,
    pub optimizer: Optimizer,
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
    pub shuffle: bool,
    /// Fraction of the training set held out, in `[0, 1)`.
    pub validation: f32,
    /// Stop after this many epochs without a better validation loss.
    pub early_stopping: Option<usize>,
    /// The learning rate of epoch `e` (from 1) is `lr · lr_decay^(e − 1)`; in `(0, 1]`.
    /// An extension of the v1 language (see the README).
    pub lr_decay: f32,
    /// Probability that a training image is mirrored left to right (augmentation), in
    /// `[0, 1]`. An extension of the v1 language.
    pub flip: f32,
    /// Largest random translation of a training image, in pixels per axis. An extension
    /// of the v1 language.
    pub shift: u32,
    /// Where each setting was written, for diagnostics raised later (e.g. an input size
    /// that does not match a dataset found at run time). `None` for defaults.
    pub data_span: Option<Span>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            data: DataSource::Mnist,
            optimizer: Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
            },
            epochs: 10,
            batch: 32,
            seed: 0,
            shuffle: true,
            validation: 0.0,
            early_stopping: None,
            lr_decay: 1.0,
            flip: 0.0,
            shift: 0,
            data_span: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    Mnist,
    FashionMnist,
    /// A folder of the four IDX files.
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Sgd {
        lr: f32,
        momentum: f32,
    },
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
}

impl Graph {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// Trainable parameters: `units × n_in` weights plus `units` biases per `dense`.
    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(|node| self.node_params(node)).sum()
    }

    /// Parameters of one node.
    pub fn node_params(&self, node: &Node) -> usize {
        match node.op {
            Op::Dense { units, bias, .. } => {
                let n_in = self.node(node.inputs[0]).width;
                units * n_in + if bias { units } else { 0 }
            }
            _ => 0,
        }
    }

    /// Forward floating-point operations per sample: `2·n_in·units (+ units)` per dense
    /// layer, one per element for element-wise work, a few per element for the
    /// transcendental activations.
    pub fn flops_per_sample(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| {
                let width = node.width as u64;
                match node.op {
                    Op::Input | Op::Concat | Op::Activation(Activation::Identity) => 0,
                    Op::Dense { units, bias, .. } => {
                        let n_in = self.node(node.inputs[0]).width as u64;
                        2 * n_in * units as u64 + if bias { units as u64 } else { 0 }
                    }
                    Op::Activation(Activation::Sigmoid | Activation::Tanh) => 4 * width,
                    Op::Activation(Activation::Softmax | Activation::LogSoftmax) => 5 * width,
                    Op::Activation(Activation::Relu | Activation::LeakyRelu { .. }) => width,
                    Op::Dropout { .. } => width,
                    Op::Add | Op::Sub | Op::Mul | Op::Scale(_) | Op::AddScalar(_) => width,
                }
            })
            .sum()
    }
}
