//! Looking for where values went wrong: the largest value and the first non-finite value
//! or gradient, for the divergence diagnostics.

use super::{Step, Tape};
use crate::autodiff::{Params, Var};

impl Tape {
    /// The computed node (not an input, label or parameter) among the first `upto` that
    /// holds the value of largest magnitude, with that magnitude. For a loss that grew
    /// huge while staying finite there is no first non-finite node to blame; the largest
    /// value shows where the magnitudes went. `None` when no computed node has a value.
    pub fn largest_value(&self, upto: usize) -> Option<(Var, f32)> {
        let mut largest: Option<(Var, f32)> = None;
        for (i, node) in self.nodes.iter().enumerate().take(upto) {
            if !matches!(node.step, Step::Compute(_)) {
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
            let values = match self.nodes[i].step {
                Step::Param(id) => params.value(id),
                _ => &self.values[i],
            };
            (!crate::kernels::simd::all_finite(values)).then_some(Var(i as u32))
        })
    }

    /// The first node, in backward order, whose gradient holds a NaN or infinity.
    pub fn first_non_finite_grad(&self, params: &Params) -> Option<Var> {
        (0..self.nodes.len()).rev().find_map(|i| {
            let grads = match self.nodes[i].step {
                Step::Param(id) => params.grad(id),
                _ => &self.grads[i],
            };
            (!crate::kernels::simd::all_finite(grads)).then_some(Var(i as u32))
        })
    }
}
