//! Naming the nodes a line creates (see the module docs of `build` for the rule), the
//! prefix of the tensors each node owns, and the default initialiser of `dense` layers.

use std::collections::HashMap;

use super::Builder;
use crate::graph::NodeId;

impl Builder<'_> {
    /// Names the nodes the current line created; see the module docs for the rule.
    pub(super) fn name_nodes(&mut self, bound: &str, value: NodeId) {
        let inner: Vec<NodeId> = self
            .created
            .iter()
            .copied()
            .filter(|&id| id != value)
            .collect();
        let mut per_kind: HashMap<&str, usize> = HashMap::new();
        for &id in &inner {
            *per_kind
                .entry(self.nodes[id.index()].op.kind())
                .or_default() += 1;
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for id in inner {
            let kind = self.nodes[id.index()].op.kind();
            let name = if per_kind[kind] == 1 {
                format!("{bound}.{kind}")
            } else {
                let n = seen.entry(kind).or_default();
                *n += 1;
                format!("{bound}.{kind}{}", *n - 1)
            };
            self.nodes[id.index()].name = name;
        }
        if self.created.contains(&value) {
            self.nodes[value.index()].name = bound.to_owned();
        }
        // The tensors' prefix: the binding's name when this line made one tensor owner.
        let owners: Vec<NodeId> = self
            .created
            .iter()
            .copied()
            .filter(|&id| self.owns_tensors(id))
            .collect();
        for &id in &self.created {
            let node = &mut self.nodes[id.index()];
            node.param_prefix = match owners.as_slice() {
                [only] if *only == id => bound.to_owned(),
                _ => node.name.clone(),
            };
        }
    }

    fn owns_tensors(&self, id: NodeId) -> bool {
        let node = &self.nodes[id.index()];
        let inputs: Vec<_> = node
            .inputs
            .iter()
            .map(|i| self.nodes[i.index()].shape)
            .collect();
        node.op
            .tensors(&inputs)
            .is_ok_and(|specs| !specs.is_empty())
    }

    /// Gives each weighted layer whose file named no initialiser the one its consumer
    /// prefers (He before `relu`), else leaves it Xavier.
    pub(super) fn apply_default_inits(&mut self) {
        let preferred: Vec<(NodeId, crate::graph::Init)> = self
            .nodes
            .iter()
            .filter_map(|node| Some((*node.inputs.first()?, node.op.init_for_inputs()?)))
            .filter(|(input, _)| self.default_init.contains(input))
            .collect();
        for (id, init) in preferred {
            if let Some(choice) = self.nodes[id.index()].op.weight_init() {
                choice.init = init;
            }
        }
    }
}
