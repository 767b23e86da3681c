//! The tape: a recording of operations in evaluation order, with a value and a gradient
//! buffer per node that are reused from one step to the next.

use std::cell::Cell;

use crate::rng::Generator;
use rand::SeedableRng;

use super::rule::{Grads, Kinks, Operand, OperandParams, Rule, Run, Scratch, Values};

mod fused_sgd;
mod inspect;
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

/// What a tape node is: a value the caller writes, a parameter, or a computation.
#[derive(Debug)]
pub(crate) enum Step {
    /// Filled by the caller before each forward pass.
    Input,
    /// Class indices (stored as exact `f32`), one per row, all below `classes`.
    Labels {
        classes: usize,
    },
    /// A parameter: its value and gradient live in `Params`.
    Param(ParamId),
    Compute(Box<dyn Rule>),
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) step: Step,
    pub(crate) shape: Shape,
    /// The operands: `edges[first..first + count]` of the tape.
    first: u32,
    count: u32,
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
    /// Every node's operands, end to end, referenced by range from its [`Node`].
    edges: Vec<Var>,
    training: bool,
    rng: Generator,
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
            rng: Generator::seed_from_u64(0),
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
        self.rng = Generator::seed_from_u64(seed);
    }

    /// The generator dropout draws from, where it is now (for a checkpoint).
    pub fn generator(&self) -> &Generator {
        &self.rng
    }

    /// Continues dropout's draws from `generator` (a checkpoint's).
    pub fn set_generator(&mut self, generator: Generator) {
        self.rng = generator;
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

    /// What a node computes, by name: `input`, `labels`, `param`, or its rule's name.
    pub fn node_name(&self, var: Var) -> &'static str {
        match &self.nodes[var.index()].step {
            Step::Input => "input",
            Step::Labels { .. } => "labels",
            Step::Param(_) => "param",
            Step::Compute(rule) => rule.name(),
        }
    }

    /// Whether the caller writes this node (an input or labels), rather than a parameter
    /// or a computation.
    pub fn is_written_by_caller(&self, var: Var) -> bool {
        matches!(
            self.nodes[var.index()].step,
            Step::Input | Step::Labels { .. }
        )
    }

    /// The parameter a node reads, when it is a parameter node.
    pub fn param_of(&self, var: Var) -> Option<ParamId> {
        match self.nodes[var.index()].step {
            Step::Param(id) => Some(id),
            _ => None,
        }
    }

    /// The class count of a labels node, `None` for any other node.
    pub fn labels_classes(&self, var: Var) -> Option<usize> {
        match self.nodes[var.index()].step {
            Step::Labels { classes } => Some(classes),
            _ => None,
        }
    }

    /// A node's operands, in order.
    pub fn inputs(&self, var: Var) -> &[Var] {
        self.node_inputs(&self.nodes[var.index()])
    }

    fn node_inputs(&self, node: &Node) -> &[Var] {
        &self.edges[node.first as usize..(node.first + node.count) as usize]
    }

    /// The kinks of a node, if it has any, and the operand they are in.
    pub fn kinks(&self, var: Var) -> Option<(Var, Kinks)> {
        match &self.nodes[var.index()].step {
            Step::Compute(rule) => rule.kinks().map(|k| (self.inputs(var)[k.input], k)),
            _ => None,
        }
    }

    /// The index scratch node `index` kept from its last forward pass (max pooling's
    /// choices).
    pub(crate) fn indices(&self, index: usize) -> &[u32] {
        &self.indices[index]
    }

    /// Records a computing node reading `inputs`, sizing its reused buffers.
    pub fn push(&mut self, rule: impl Rule + 'static, inputs: &[Var], shape: Shape) -> Var {
        self.push_step(Step::Compute(Box::new(rule)), inputs, shape)
    }

    fn push_step(&mut self, step: Step, inputs: &[Var], shape: Shape) -> Var {
        self.fusable.set(None);
        let index = self.nodes.len();
        let needs_grad = match step {
            Step::Param(_) => true,
            _ => inputs.iter().any(|v| self.nodes[v.index()].needs_grad),
        };
        if self.values.len() == index {
            self.values.push(Vec::new());
            self.grads.push(Vec::new());
            self.aux.push(Vec::new());
            self.indices.push(Vec::new());
        }
        let (value_len, aux_len, index_len) = match &step {
            // A parameter's value and gradient live in `Params`, not on the tape.
            Step::Param(_) => (0, 0, 0),
            Step::Input | Step::Labels { .. } => (shape.numel(), 0, 0),
            Step::Compute(rule) => {
                let operands: Vec<Operand> = inputs
                    .iter()
                    .map(|v| Operand {
                        shape: self.nodes[v.index()].shape,
                        needs_grad: self.nodes[v.index()].needs_grad,
                    })
                    .collect();
                (
                    shape.numel(),
                    rule.aux_len(shape, &operands),
                    rule.index_len(shape),
                )
            }
        };
        self.values[index].resize(value_len, 0.0);
        self.grads[index].resize(if needs_grad { value_len } else { 0 }, 0.0);
        self.aux[index].resize(aux_len, 0.0);
        self.indices[index].resize(index_len, 0);
        let first = u32::try_from(self.edges.len()).expect("fewer than 2³² operands");
        self.edges.extend_from_slice(inputs);
        self.nodes.push(Node {
            step,
            shape,
            first,
            count: inputs.len() as u32,
            needs_grad,
        });
        Var(u32::try_from(index).expect("fewer than 2³² tape nodes"))
    }

    /// A value the caller fills before each forward pass (a batch of inputs or targets).
    pub fn input(&mut self, shape: Shape) -> Var {
        self.push_step(Step::Input, &[], shape)
    }

    /// Class-index labels for [`Tape::softmax_cross_entropy`], one per row; filled with
    /// [`Tape::set_labels`], which checks every label is below `classes`.
    pub fn labels(&mut self, rows: usize, classes: usize) -> Result<Var, TapeError> {
        Ok(self.push_step(Step::Labels { classes }, &[], Shape::vector(rows)?))
    }

    /// A parameter (trainable, or a buffer); its value is read from `params` at each
    /// forward pass.
    pub fn param(&mut self, params: &Params, id: ParamId) -> Var {
        let var = self.push_step(Step::Param(id), &[], params.shape(id));
        if !params.is_trainable(id) {
            // A buffer (a statistic the op keeps) has no gradient, so a node that reads
            // only buffers and inputs needs none either: backward skips it.
            self.nodes[var.index()].needs_grad = false;
        }
        var
    }

    /// The buffer of an [`Tape::input`] node, to fill before [`Tape::forward`].
    pub fn value_mut(&mut self, var: Var) -> Result<&mut [f32], TapeError> {
        match self.nodes.get(var.index()).map(|n| &n.step) {
            Some(Step::Input) => Ok(&mut self.values[var.index()]),
            _ => Err(TapeError::Invalid {
                op: "value_mut",
                why: "only input nodes are written by the caller".into(),
            }),
        }
    }

    /// Writes class labels into a [`Tape::labels`] node.
    pub fn set_labels(&mut self, var: Var, labels: &[u32]) -> Result<(), TapeError> {
        let node = self.nodes.get(var.index());
        let Some(&Step::Labels { classes }) = node.map(|n| &n.step) else {
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
        let node = &self.nodes[index];
        let Step::Compute(rule) = &node.step else {
            return;
        };
        let (earlier, rest) = self.values.split_at_mut(index);
        let cx = Values {
            values: earlier,
            params: &params.values,
            nodes: &self.nodes,
            inputs: &self.edges[node.first as usize..(node.first + node.count) as usize],
            shape: node.shape,
        };
        rule.forward(
            &cx,
            &mut rest[0],
            Scratch {
                aux: &mut self.aux[index],
                indices: &mut self.indices[index],
            },
            Run {
                rng: &mut self.rng,
                training: self.training,
            },
        );
    }

    /// Sends `d loss / d node` back through the tape, accumulating into the gradients of
    /// `params` (which the caller zeroes between steps), then finishes the step
    /// ([`Tape::backward_finish`]). `loss` must be a scalar node.
    pub fn backward(&mut self, loss: Var, params: &mut Params) {
        self.backward_prepare(loss);
        for index in (0..=loss.index()).rev() {
            self.backward_node(index, params);
        }
        self.backward_finish(params);
    }

    /// The end of a training step's backward pass: every rule's work after a step (batch
    /// norm's running statistics move toward the batch's). Nothing in inference mode.
    /// [`Tape::backward`] and [`Tape::backward_sgd`] call it; a caller going node by node
    /// calls it after the last node.
    pub fn backward_finish(&mut self, params: &mut Params) {
        if !self.training {
            return;
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let Step::Compute(rule) = &node.step else {
                continue;
            };
            let operands = OperandParams {
                inputs: self.node_inputs(node),
                nodes: &self.nodes,
            };
            rule.after_training_step(&self.aux[index], operands, params);
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

    /// One node's backward rule; with `sgd = Some(lr)`, parameters get the SGD update
    /// instead of a gradient (after the rule has read them for its other operand): the
    /// node-by-node form of [`Tape::backward_sgd`], valid only when [`Tape::sgd_fusable`].
    pub fn backward_node_with(&mut self, index: usize, params: &mut Params, sgd: Option<f32>) {
        let node = &self.nodes[index];
        let Step::Compute(rule) = &node.step else {
            return;
        };
        if !node.needs_grad {
            return;
        }
        let inputs = &self.edges[node.first as usize..(node.first + node.count) as usize];
        let (earlier, rest) = self.grads.split_at_mut(index);
        let cx = Values {
            values: &self.values,
            params: &params.values,
            nodes: &self.nodes,
            inputs,
            shape: node.shape,
        };
        let mut grads = Grads {
            nodes: earlier,
            params: &mut params.grads,
            tape: &self.nodes,
            skip_params: sgd.is_some(),
        };
        rule.backward(
            &cx,
            &self.values[index],
            &rest[0],
            Scratch {
                aux: &mut self.aux[index],
                indices: &mut self.indices[index],
            },
            &mut grads,
        );
        if let Some(lr) = sgd
            && let Some(fused) = rule.fused_sgd()
            && let Step::Param(id) = self.nodes[inputs[fused.operand()].index()].step
        {
            // The other operands are not parameters (`sgd_fusable`): no parameter value is
            // read while this one is written.
            let cx = Values {
                values: &self.values,
                params: &[],
                nodes: &self.nodes,
                inputs,
                shape: node.shape,
            };
            fused.apply(&cx, &rest[0], lr, &mut params.values[id.index()]);
        }
    }
}
