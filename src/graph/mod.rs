//! The computation graph a `.nn` file describes, after names are resolved, `let`s
//! substituted, shapes inferred and the `train` block validated.
//!
//! This is the hand-off between the language layer (which builds and validates it, with
//! spans for diagnostics) and the autodiff layer (which lowers it onto a tape). It holds
//! no float buffers: parameters are declared here and allocated by the lowering.

pub mod build;
pub mod builtins;
pub mod lower;
pub mod op;
pub mod shape;
pub mod validate;

pub use build::{BuildOptions, build_graph};
pub use op::{Activation, Fill, Init, Op, ParamSpec, Role};

use crate::autodiff::Shape;
pub use crate::data::DataSource;
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
    /// expression a derived one (`h.dense`, `h.sigmoid`, `h.dense1`). Unique in the graph.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<NodeId>,
    /// The per-sample shape of this node's output: `[n]` or `[c, h, w]`.
    pub shape: Shape,
    /// Where in the source this node was written, for diagnostics at run time.
    pub span: Span,
    /// The prefix of the tensors this node owns (`h` for `h.weight`): see `build`'s
    /// module docs for the rule.
    pub param_prefix: String,
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

    /// The per-sample shapes of a node's inputs, in order.
    pub fn input_shapes(&self, node: &Node) -> Vec<Shape> {
        node.inputs.iter().map(|&id| self.node(id).shape).collect()
    }

    /// The tensors a node owns (see [`Op::params`]); the graph was validated, so every
    /// one of them fits in memory.
    pub fn node_specs(&self, node: &Node) -> Vec<ParamSpec> {
        node.op
            .params(&self.input_shapes(node))
            .expect("validation checked every tensor's size")
    }

    /// Trainable parameters of the whole model (buffers are not parameters).
    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(|node| self.node_params(node)).sum()
    }

    /// Trainable parameters of one node.
    pub fn node_params(&self, node: &Node) -> usize {
        self.node_specs(node)
            .iter()
            .filter(|spec| spec.role == Role::Trainable)
            .map(|spec| spec.shape.numel())
            .sum()
    }

    /// Forward floating-point operations per sample (see [`Op::flops`]).
    pub fn flops_per_sample(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| node.op.flops(&self.input_shapes(node), node.shape))
            .sum()
    }
}
