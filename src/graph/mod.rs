//! The computation graph a `.nn` file describes, after names are resolved, `let`s
//! substituted, shapes inferred and the `train` block validated.
//!
//! This is the hand-off between the language layer (which builds and validates it, with
//! spans for diagnostics) and the autodiff layer (which lowers it onto a tape). It holds
//! no float buffers: parameters are declared here and allocated by the lowering.

pub mod build;
pub mod lower;
pub mod validate;

pub use crate::ops::{Fill, Init, Layer, ParamSpec, Role};
pub use build::{BuildOptions, build_graph};

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
    /// L2 penalty on every weight (not biases or batch-norm parameters), in `[0, 1)`;
    /// decoupled from the gradient with Adam (AdamW).
    pub weight_decay: f32,
    /// How the learning rate moves step by step (exclusive with `lr_decay`).
    pub schedule: Schedule,
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
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            flip: 0.0,
            shift: 0,
            data_span: None,
        }
    }
}

/// A learning-rate schedule over the whole run's steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The optimizer's `lr` throughout (with `lr_decay`, if any, per epoch).
    Constant,
    /// From `lr` down to 0 along a half cosine over all steps.
    Cosine,
    /// PyTorch's `OneCycleLR` (its defaults): from `max_lr / 25` up to `max_lr` over the
    /// first 30 % of the steps, then down to `max_lr / 25 / 10⁴`, both halves cosines. The
    /// optimizer's `lr` is not used.
    OneCycle { max_lr: f32 },
}

impl Schedule {
    /// The learning rate of step `step` (from 0) of `total`, for an optimizer `lr`.
    pub fn lr_at(self, lr: f32, step: usize, total: usize) -> f32 {
        let cosine = |from: f64, to: f64, fraction: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * fraction.clamp(0.0, 1.0)).cos())
        };
        match self {
            Schedule::Constant => lr,
            Schedule::Cosine => cosine(lr as f64, 0.0, step as f64 / total.max(1) as f64) as f32,
            Schedule::OneCycle { max_lr } => {
                let (peak, initial) = (max_lr as f64, max_lr as f64 / 25.0);
                let last = total.saturating_sub(1).max(1) as f64;
                let rise = (0.3 * total as f64 - 1.0).max(1.0);
                let step = step as f64;
                if step <= rise {
                    cosine(initial, peak, step / rise) as f32
                } else {
                    cosine(peak, initial / 1e4, (step - rise) / (last - rise).max(1.0)) as f32
                }
            }
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

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn schedules_follow_pytorch() {
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs().max(1e-3);
        // Cosine annealing from 0.1 to 0 over 100 steps (`CosineAnnealingLR`, eta_min 0).
        let cosine = |step| Schedule::Cosine.lr_at(0.1, step, 100);
        assert!(close(cosine(0), 0.1) && close(cosine(50), 0.05) && cosine(100) == 0.0);
        // `OneCycleLR(max_lr = 1, total_steps = 100)`: 0.04 at step 0, 1 at step 29
        // (`pct_start·total − 1`), 4e-6 at step 99, the halves cosines.
        let one = |step| Schedule::OneCycle { max_lr: 1.0 }.lr_at(0.5, step, 100);
        assert!(close(one(0), 0.04), "{}", one(0));
        assert!(close(one(29), 1.0), "{}", one(29));
        assert!(close(one(99), 4e-6), "{}", one(99));
        let mid_rise =
            0.04 + (1.0 - 0.04) * 0.5 * (1.0 - (std::f64::consts::PI * 14.0 / 29.0).cos());
        assert!(close(one(14), mid_rise as f32), "{}", one(14));
        assert_eq!(Schedule::Constant.lr_at(0.3, 7, 10), 0.3);
    }
}
