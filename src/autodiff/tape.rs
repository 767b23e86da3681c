//! The tape: a recording of operations in evaluation order, with a value and a gradient
//! buffer per node that are reused from one step to the next.

use std::cell::Cell;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ops::{self, Op};
use super::{ParamId, Params, Shape, TapeError};

/// A node of the tape (an index into it). Inputs always have smaller indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub(crate) u32);

impl Var {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The variable recorded `index`-th (for walking a tape node by node).
    pub fn from_index(index: usize) -> Var {
        Var(u32::try_from(index).expect("fewer than 2³² tape nodes"))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) shape: Shape,
    /// Whether a parameter is upstream of this node: backward skips the rest.
    pub(crate) needs_grad: bool,
}

/// Records operations, runs them forward, and sends gradients back to [`Params`].
///
/// ```
/// use nnc::autodiff::{Params, Shape, Tape};
/// let mut params = Params::new();
/// let w = params.add("w", Shape::matrix(1, 2)?, vec![0.5, -1.0])?;
/// let mut tape = Tape::new();
/// let x = tape.input(Shape::matrix(1, 2)?);
/// let w = tape.param(&params, w);
/// let y = tape.matmul_nt(x, w)?; // x·wᵀ
/// let loss = tape.sum(y);
/// tape.value_mut(x)?.copy_from_slice(&[2.0, 3.0]);
/// tape.forward(&params);
/// assert_eq!(tape.value(loss)[0], 2.0 * 0.5 - 3.0);
/// tape.backward(loss, &mut params);
/// assert_eq!(params.grad(params.find("w").unwrap()), &[2.0, 3.0]);
/// # Ok::<(), nnc::autodiff::TapeError>(())
/// ```
#[derive(Debug)]
pub struct Tape {
    pub(crate) nodes: Vec<Node>,
    /// Buffers outlive [`Tape::reset`]: slot `i` is reused by whatever node `i` is next.
    values: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    /// Per-node scratch kept from forward for backward (softmax probabilities, dropout
    /// masks, a convolution's patch matrix), and index scratch (max-pooling's argmax).
    aux: Vec<Vec<f32>>,
    indices: Vec<Vec<u32>>,
    /// Input lists of variadic ops (`concat`), referenced by range from their [`Op`].
    pub(crate) edges: Vec<Var>,
    training: bool,
    rng: StdRng,
    /// Whether plain SGD can be fused into backward ([`Tape::sgd_fusable`]): decided once
    /// per recording, the first time it is asked, and forgotten when a node is recorded.
    fusable: Cell<Option<bool>>,
}

impl Default for Tape {
    fn default() -> Self {
        Tape::new()
    }
}

impl Tape {
    pub fn new() -> Self {
        Tape {
            nodes: Vec::new(),
            values: Vec::new(),
            grads: Vec::new(),
            aux: Vec::new(),
            indices: Vec::new(),
            edges: Vec::new(),
            training: true,
            rng: StdRng::seed_from_u64(0),
            fusable: Cell::new(None),
        }
    }

    /// Forgets the recording but keeps every buffer, so re-recording the same graph
    /// allocates nothing.
    pub fn reset(&mut self) {
        self.nodes.clear();
        self.edges.clear();
        self.fusable.set(None);
    }

    /// Training mode (dropout active, the default) or inference (dropout is identity).
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Seeds the generator dropout draws its masks from.
    pub fn seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// Number of recorded nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn shape(&self, var: Var) -> Shape {
        self.nodes[var.index()].shape
    }

    pub fn op(&self, var: Var) -> &Op {
        &self.nodes[var.index()].op
    }

    /// The scratch node `index` kept from its last forward pass.
    pub(crate) fn aux(&self, index: usize) -> &[f32] {
        &self.aux[index]
    }

    /// The index scratch node `index` kept from its last forward pass (max pooling's
    /// choices).
    pub(crate) fn indices(&self, index: usize) -> &[u32] {
        &self.indices[index]
    }

    /// Records a node, sizing its reused buffers.
    pub(crate) fn push(&mut self, op: Op, shape: Shape) -> Var {
        self.fusable.set(None);
        let index = self.nodes.len();
        let needs_grad = match op {
            Op::Param(_) => true,
            _ => op
                .inputs(&self.edges)
                .any(|v| self.nodes[v.index()].needs_grad),
        };
        if self.values.len() == index {
            self.values.push(Vec::new());
            self.grads.push(Vec::new());
            self.aux.push(Vec::new());
            self.indices.push(Vec::new());
        }
        let (value_len, aux_len) = match op {
            // A parameter's value and gradient live in `Params`, not on the tape.
            Op::Param(_) => (0, 0),
            _ => (shape.numel(), op.aux_len(shape, &self.nodes)),
        };
        self.values[index].resize(value_len, 0.0);
        self.grads[index].resize(if needs_grad { value_len } else { 0 }, 0.0);
        self.aux[index].resize(aux_len, 0.0);
        let index_len = match op {
            Op::Param(_) => 0,
            _ => op.index_len(shape),
        };
        self.indices[index].resize(index_len, 0);
        self.nodes.push(Node {
            op,
            shape,
            needs_grad,
        });
        Var(u32::try_from(index).expect("fewer than 2³² tape nodes"))
    }

    /// A value the caller fills before each forward pass (a batch of inputs or targets).
    pub fn input(&mut self, shape: Shape) -> Var {
        self.push(Op::Input, shape)
    }

    /// Class-index labels for [`Tape::softmax_cross_entropy`], one per row; filled with
    /// [`Tape::set_labels`], which checks every label is below `classes`.
    pub fn labels(&mut self, rows: usize, classes: usize) -> Result<Var, TapeError> {
        Ok(self.push(Op::Labels { classes }, Shape::vector(rows)?))
    }

    /// A parameter (trainable, or a buffer); its value is read from `params` at each
    /// forward pass.
    pub fn param(&mut self, params: &Params, id: ParamId) -> Var {
        let var = self.push(Op::Param(id), params.shape(id));
        if !params.is_trainable(id) {
            // A buffer (a statistic the op keeps) has no gradient, so a node that reads
            // only buffers and inputs needs none either: backward skips it.
            self.nodes[var.index()].needs_grad = false;
        }
        var
    }

    /// The buffer of an [`Tape::input`] node, to fill before [`Tape::forward`].
    pub fn value_mut(&mut self, var: Var) -> Result<&mut [f32], TapeError> {
        match self.nodes.get(var.index()).map(|n| &n.op) {
            Some(Op::Input) => Ok(&mut self.values[var.index()]),
            _ => Err(TapeError::Invalid {
                op: "value_mut",
                why: "only input nodes are written by the caller".into(),
            }),
        }
    }

    /// Writes class labels into a [`Tape::labels`] node.
    pub fn set_labels(&mut self, var: Var, labels: &[u32]) -> Result<(), TapeError> {
        let node = self.nodes.get(var.index());
        let Some(&Op::Labels { classes }) = node.map(|n| &n.op) else {
            return Err(TapeError::Invalid {
                op: "set_labels",
                why: "not a labels node".into(),
            });
        };
        let slot = &mut self.values[var.index()];
        if labels.len() != slot.len() {
            return Err(TapeError::Length {
                what: "labels",
                expected: slot.len(),
                got: labels.len(),
            });
        }
        for (row, (&label, out)) in labels.iter().zip(slot.iter_mut()).enumerate() {
            if label as usize >= classes {
                return Err(TapeError::Label {
                    label,
                    row,
                    classes,
                });
            }
            *out = label as f32; // exact: classes ≤ 2²⁴ is checked at recording
        }
        Ok(())
    }

    /// A node's value after [`Tape::forward`] (empty for parameter nodes: read those
    /// from [`Params`]).
    pub fn value(&self, var: Var) -> &[f32] {
        &self.values[var.index()]
    }

    /// A node's gradient after [`Tape::backward`] (empty when no parameter is upstream).
    pub fn grad(&self, var: Var) -> &[f32] {
        &self.grads[var.index()]
    }

    /// Runs every recorded node in order.
    pub fn forward(&mut self, params: &Params) {
        for index in 0..self.nodes.len() {
            self.forward_node(index, params);
        }
    }

    /// Runs one node (the caller goes in order): used to time or check node by node.
    pub fn forward_node(&mut self, index: usize, params: &Params) {
        let (earlier, rest) = self.values.split_at_mut(index);
        let cx = ops::Values {
            values: earlier,
            params: &params.values,
            nodes: &self.nodes,
            edges: &self.edges,
        };
        let node = &self.nodes[index];
        node.op.forward(
            &cx,
            node.shape,
            &mut rest[0],
            ops::Scratch {
                aux: &mut self.aux[index],
                indices: &mut self.indices[index],
            },
            &mut self.rng,
            self.training,
        );
    }

    /// Sends `d loss / d node` back through the tape, accumulating into the gradients of
    /// `params` (which the caller zeroes between steps). `loss` must be a scalar node.
    pub fn backward(&mut self, loss: Var, params: &mut Params) {
        self.backward_prepare(loss);
        for index in (0..=loss.index()).rev() {
            self.backward_node(index, params);
        }
    }

    /// Zeroes the tape's gradients and seeds `d loss / d loss = 1`.
    pub fn backward_prepare(&mut self, loss: Var) {
        self.grads.iter_mut().for_each(|g| g.fill(0.0));
        if let Some(seed) = self.grads[loss.index()].first_mut() {
            *seed = 1.0;
        }
    }

    /// Runs one node's backward rule (the caller goes in reverse order).
    pub fn backward_node(&mut self, index: usize, params: &mut Params) {
        self.backward_node_with(index, params, None);
    }

    /// Whether [`Tape::backward_sgd`] can fuse the update: every parameter node is read by
    /// exactly one node, as that op's [`Op::fusable_operand`], whose other operands are not
    /// parameters; and no parameter has two nodes. Decided once per recording.
    pub fn sgd_fusable(&self) -> bool {
        if let Some(known) = self.fusable.get() {
            return known;
        }
        let fusable = self.decide_sgd_fusable();
        self.fusable.set(Some(fusable));
        fusable
    }

    fn decide_sgd_fusable(&self) -> bool {
        let param = |v: Var| match self.nodes[v.index()].op {
            Op::Param(id) => Some(id),
            _ => None,
        };
        (0..self.nodes.len()).map(Var::from_index).all(|var| {
            let Some(id) = param(var) else { return true };
            let duplicate = (0..var.index()).any(|i| param(Var::from_index(i)) == Some(id));
            let mut consumers = self
                .nodes
                .iter()
                .filter(|n| n.op.inputs(&self.edges).any(|v| v == var));
            let (Some(consumer), None) = (consumers.next(), consumers.next()) else {
                return false;
            };
            let others_are_not_params = consumer
                .op
                .inputs(&self.edges)
                .all(|v| v == var || param(v).is_none());
            !duplicate && consumer.op.fusable_operand() == Some(var) && others_are_not_params
        })
    }

    /// Backward with plain SGD fused in: each parameter is updated in place,
    /// `w ← w − lr·∂L/∂w`, by its only consumer's rule, so no gradient buffer is written
    /// or read and no separate update pass runs. Leaves `params`' gradients untouched.
    /// Returns `false`, doing nothing, unless [`Tape::sgd_fusable`].
    pub fn backward_sgd(&mut self, loss: Var, params: &mut Params, lr: f32) -> bool {
        if !self.sgd_fusable() {
            return false;
        }
        self.backward_prepare(loss);
        for index in (0..=loss.index()).rev() {
            self.backward_node_with(index, params, Some(lr));
        }
        true
    }

    /// One node's backward rule; with `sgd = Some(lr)`, parameters get the SGD update
    /// instead of a gradient (after the rule has read them for its other operand): the
    /// node-by-node form of [`Tape::backward_sgd`], valid only when [`Tape::sgd_fusable`].
    pub fn backward_node_with(&mut self, index: usize, params: &mut Params, sgd: Option<f32>) {
        let node = &self.nodes[index];
        if !node.needs_grad || matches!(node.op, Op::Param(_)) {
            return;
        }
        let (earlier, rest) = self.grads.split_at_mut(index);
        let cx = ops::Values {
            values: &self.values,
            params: &params.values,
            nodes: &self.nodes,
            edges: &self.edges,
        };
        let mut grads = ops::Grads {
            nodes: earlier,
            params: &mut params.grads,
            tape: &self.nodes,
            skip_params: sgd.is_some(),
        };
        node.op.backward(
            &cx,
            node.shape,
            &self.values[index],
            &rest[0],
            ops::Scratch {
                aux: &mut self.aux[index],
                indices: &mut self.indices[index],
            },
            &mut grads,
        );
        if let Some(lr) = sgd
            && let Some(operand) = node.op.fusable_operand()
            && let Op::Param(id) = self.nodes[operand.index()].op
        {
            node.op.apply_sgd(
                &self.values,
                &self.nodes,
                &rest[0],
                lr,
                &mut params.values[id.index()],
            );
        }
    }

    /// The computed node (not an input, label or parameter) among the first `upto` that
    /// holds the value of largest magnitude, with that magnitude. For a loss that grew
    /// huge while staying finite there is no first non-finite node to blame; the largest
    /// value shows where the magnitudes went. `None` when no computed node has a value.
    pub fn largest_value(&self, upto: usize) -> Option<(Var, f32)> {
        let mut largest: Option<(Var, f32)> = None;
        for (i, node) in self.nodes.iter().enumerate().take(upto) {
            if matches!(node.op, Op::Input | Op::Labels { .. } | Op::Param(_)) {
                continue;
            }
            let magnitude = self.values[i].iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if largest.is_none_or(|(_, m)| magnitude > m) {
                largest = Some((Var(i as u32), magnitude));
            }
        }
        largest
    }

    /// The first node, in evaluation order, whose value holds a NaN or infinity.
    pub fn first_non_finite_value(&self, params: &Params) -> Option<Var> {
        (0..self.nodes.len()).find_map(|i| {
            let values = match self.nodes[i].op {
                Op::Param(id) => params.value(id),
                _ => &self.values[i],
            };
            (!crate::kernels::simd::all_finite(values)).then_some(Var(i as u32))
        })
    }

    /// The first node, in backward order, whose gradient holds a NaN or infinity.
    pub fn first_non_finite_grad(&self, params: &Params) -> Option<Var> {
        (0..self.nodes.len()).rev().find_map(|i| {
            let grads = match self.nodes[i].op {
                Op::Param(id) => params.grad(id),
                _ => &self.grads[i],
            };
            (!crate::kernels::simd::all_finite(grads)).then_some(Var(i as u32))
        })
    }
}
