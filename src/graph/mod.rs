//! The computation graph a `.nn` file describes, after names are resolved, `let`s
//! substituted, shapes inferred and the `train` block validated.
//!
//! This is the hand-off between the language layer (which builds and validates it, with
//! spans for diagnostics) and the autodiff layer (which lowers it onto a tape). It holds
//! no float buffers: parameters are declared here and allocated by the lowering.

pub mod build;
pub mod lower;
pub mod settings;
pub mod validate;

pub use crate::ops::{Fill, Init, Layer, ParamSpec, Role};
pub use build::{BuildOptions, build_graph};
pub use settings::{OptimizerSettings, Schedule, TrainSettings};

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
    /// Every block call (and `repeat`) the file's blocks expanded into, outermost first
    /// within each: what `nnc show --depth` folds.
    pub calls: Vec<BlockCall>,
}

/// One call of a block, or one `repeat`: its nodes are those named below `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCall {
    /// `s1`, `s2.residual_down`, `s1.0`.
    pub name: String,
    /// The call with its values: `residual(filters = 16, act = relu)`, `repeat(2, residual)`.
    pub kind: String,
    /// 1 for a call in the model's lines, 2 for one inside such a call, ...
    pub depth: usize,
}

impl BlockCall {
    /// Whether the node `name` is one of this call's.
    pub fn holds(&self, name: &str) -> bool {
        name.strip_prefix(self.name.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
    }
}

/// One operation of the graph. Shapes are per sample; the batch dimension is implicit.
#[derive(Debug, Clone)]
pub struct Node {
    /// The name the file bound (`h`, `output`), or for an inner node of a binding's
    /// expression a derived one (`h.dense`, `h.sigmoid`, `h.dense1`). Unique in the graph.
    pub name: String,
    /// What the node computes: one of the operations of `crate::ops`.
    pub op: Box<dyn Layer>,
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

impl Graph {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The per-sample shapes of a node's inputs, in order.
    pub fn input_shapes(&self, node: &Node) -> Vec<Shape> {
        node.inputs.iter().map(|&id| self.node(id).shape).collect()
    }

    /// The tensors a node owns (see [`Layer::tensors`]); the graph was validated, so
    /// every one of them fits in memory.
    pub fn node_specs(&self, node: &Node) -> Vec<ParamSpec> {
        node.op
            .tensors(&self.input_shapes(node))
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

    /// Forward floating-point operations per sample (see [`Layer::flops`]).
    pub fn flops_per_sample(&self) -> u64 {
        self.nodes
            .iter()
            .map(|node| node.op.flops(&self.input_shapes(node), node.shape))
            .sum()
    }
}
