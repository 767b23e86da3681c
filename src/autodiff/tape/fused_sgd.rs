//! Plain SGD fused into backward: each parameter updated in place by its only consumer's
//! rule, so no gradient buffer is written, read or cleared.

use super::{Step, Tape};
use crate::autodiff::{Params, Var};

impl Tape {
    /// Whether [`Tape::backward_sgd`] can fuse the update: every parameter node is read by
    /// exactly one node, as the operand of its rule's [`Rule::fused_sgd`], whose other operands are not
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
        let param = |v: Var| self.param_of(v);
        (0..self.nodes.len()).map(Var::from_index).all(|var| {
            let Some(id) = param(var) else { return true };
            let duplicate = (0..var.index()).any(|i| param(Var::from_index(i)) == Some(id));
            let mut consumers = self
                .nodes
                .iter()
                .filter(|n| self.node_inputs(n).contains(&var));
            let (Some(consumer), None) = (consumers.next(), consumers.next()) else {
                return false;
            };
            let inputs = self.node_inputs(consumer);
            let others_are_not_params = inputs.iter().all(|&v| v == var || param(v).is_none());
            let fused_operand = match &consumer.step {
                Step::Compute(rule) => rule.fused_sgd().map(|f| inputs[f.operand()]),
                _ => None,
            };
            !duplicate && fused_operand == Some(var) && others_are_not_params
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
        self.backward_finish(params);
        true
    }
}
