//! What a computing node of the tape is: a [`Rule`], with its forward and backward pass
//! and the few things the engine asks of some rules (scratch sizes, a kink for the
//! gradient checker, a fused SGD step, work after a training step). The rules themselves
//! live with their operations, one file each, under `crate::ops`.

use std::fmt;

use crate::rng::Generator;

use super::tape::{Node, Step};
use super::{ParamId, Params, Shape, Var};

/// The computation of one tape node. Its operands are the node's inputs, in the order it
/// was recorded with (see [`Values::inputs`]).
pub trait Rule: fmt::Debug + Send + Sync {
    /// A short lowercase name, for errors and per-op timing tables.
    fn name(&self) -> &'static str;

    /// Float scratch kept from forward for backward (probabilities, masks, patches).
    fn aux_len(&self, _shape: Shape, _inputs: &[Operand]) -> usize {
        0
    }

    /// Index scratch kept from forward for backward (where each maximum was).
    fn index_len(&self, _shape: Shape) -> usize {
        0
    }

    /// Where the op has kinks, and in which operand: gradient checks step past a kink
    /// one-sidedly.
    fn kinks(&self) -> Option<Kinks> {
        None
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, run: Run<'_>);

    /// Adds `∂L/∂operand` into each operand's gradient that [`Grads::get_mut`] gives.
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    );

    /// The plain SGD step this rule can take inside its backward pass, for an operand that
    /// is a parameter nothing else reads (see `Tape::sgd_fusable`).
    fn fused_sgd(&self) -> Option<&dyn FusedSgd> {
        None
    }

    /// Work after a training step's backward pass, with the scratch of its forward pass:
    /// batch norm moves its running statistics here.
    fn after_training_step(&self, _aux: &[f32], _operands: OperandParams<'_>, _store: &mut Params) {
    }
}

/// A rule's SGD step fused into backward: `w ← w − lr·∂L/∂w` for one operand, computed
/// from `∂L/∂output` straight into the parameter by the function the backward rule uses
/// for that operand's gradient (with `α = −lr` instead of 1).
pub trait FusedSgd {
    /// Which operand the step updates.
    fn operand(&self) -> usize;

    /// The step. `cx` has no parameter values: the other operands are not parameters.
    fn apply(&self, cx: &Values<'_>, grad_out: &[f32], lr: f32, weight: &mut [f32]);
}

/// The kinks of an element-wise op: operand `input`'s values where its derivative jumps
/// (`relu`'s 0, `hardswish`'s ±3).
#[derive(Debug, Clone, Copy)]
pub struct Kinks {
    pub input: usize,
    pub at: &'static [f32],
}

/// Which parameter each operand of a node reads, when it is a parameter node.
#[derive(Clone, Copy)]
pub struct OperandParams<'a> {
    pub(crate) inputs: &'a [Var],
    pub(crate) nodes: &'a [Node],
}

impl OperandParams<'_> {
    /// The parameter operand `k` reads, `None` when it is not a parameter node.
    pub fn param(&self, k: usize) -> Option<ParamId> {
        match self.nodes[self.inputs.get(k)?.index()].step {
            Step::Param(id) => Some(id),
            _ => None,
        }
    }
}

/// What sizing a rule's scratch may read of an operand.
#[derive(Debug, Clone, Copy)]
pub struct Operand {
    pub shape: Shape,
    pub needs_grad: bool,
}

/// The run a forward pass belongs to: dropout draws from `rng` in training.
pub struct Run<'a> {
    pub rng: &'a mut Generator,
    pub training: bool,
}

/// What a node keeps from forward for backward: floats (probabilities, masks, patches)
/// and indices (where each maximum was).
pub struct Scratch<'a> {
    pub aux: &'a mut [f32],
    pub indices: &'a mut [u32],
}

/// Read access to every value a rule may need: its operands', earlier nodes' and the
/// parameters'.
pub struct Values<'a> {
    pub(crate) values: &'a [Vec<f32>],
    pub(crate) params: &'a [Vec<f32>],
    pub(crate) nodes: &'a [Node],
    /// The node's operands, in order.
    pub inputs: &'a [Var],
    /// The node's own shape (batch first).
    pub shape: Shape,
}

impl Values<'_> {
    pub fn get(&self, var: Var) -> &[f32] {
        match self.nodes[var.index()].step {
            Step::Param(id) => &self.params[id.index()],
            _ => &self.values[var.index()],
        }
    }

    /// The value of operand `k`.
    pub fn input(&self, k: usize) -> &[f32] {
        self.get(self.inputs[k])
    }

    pub fn shape(&self, var: Var) -> Shape {
        self.nodes[var.index()].shape
    }

    /// The shape of operand `k`.
    pub fn input_shape(&self, k: usize) -> Shape {
        self.shape(self.inputs[k])
    }

    /// Whether `var` holds class labels (a `labels` node) rather than values.
    pub fn is_labels(&self, var: Var) -> bool {
        matches!(self.nodes[var.index()].step, Step::Labels { .. })
    }
}

/// Write access to the gradients of earlier nodes and of the parameters. Rules update
/// one input at a time, so `x + x` correctly receives twice the gradient.
pub struct Grads<'a> {
    pub(crate) nodes: &'a mut [Vec<f32>],
    pub(crate) params: &'a mut [Vec<f32>],
    pub(crate) tape: &'a [Node],
    /// Fused SGD: parameters get no gradient here; [`FusedSgd::apply`] updates them
    /// instead, after the rule has read them for its other operand.
    pub(crate) skip_params: bool,
}

impl Grads<'_> {
    /// The gradient buffer of `var`, or `None` when no parameter is upstream of it (its
    /// gradient would be thrown away, so rules skip the work).
    pub fn get_mut(&mut self, var: Var) -> Option<&mut [f32]> {
        let node = &self.tape[var.index()];
        if !node.needs_grad {
            return None;
        }
        match node.step {
            Step::Param(_) if self.skip_params => None,
            Step::Param(id) => Some(&mut self.params[id.index()]),
            _ => Some(&mut self.nodes[var.index()]),
        }
    }
}
