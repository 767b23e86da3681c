//! Naming the nodes a line creates (see the module docs of `build` for the rule), the
//! prefix of the tensors each node owns, and the default initialiser of `dense` layers.

use std::collections::HashMap;

use super::{Builder, Created};
use crate::graph::NodeId;

impl Builder<'_> {
    /// Names the nodes the current line created; see the module docs for the rule. A
    /// block call the line made is named like a node of its kind, and its nodes (named
    /// within the block already) go below that name.
    pub(super) fn name_nodes(&mut self, bound: &str, value: NodeId) {
        let created = std::mem::take(&mut self.created);
        let kind_of = |b: &Self, c: &Created| match c {
            Created::Node(id) => b.nodes[id.index()].op.kind().to_owned(),
            Created::Call { kind, .. } => kind.clone(),
        };
        let is_value = |c: &Created| match c {
            Created::Node(id) => *id == value,
            Created::Call { value: v, .. } => *v == value,
        };
        // A block call takes the binding's name when it is the line's value and its only
        // call (`s1 = x |> repeat(2, residual, 16)`); with several calls on a line, each
        // is named by its kind (`s2.residual_down`, `s2.repeat`).
        let calls = created
            .iter()
            .filter(|c| matches!(c, Created::Call { .. }))
            .count();
        let is_value = |c: &Created| is_value(c) && (calls < 2 || matches!(c, Created::Node(_)));
        let mut per_kind: HashMap<String, usize> = HashMap::new();
        for c in created.iter().filter(|c| !is_value(c)) {
            *per_kind.entry(kind_of(self, c)).or_default() += 1;
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut names = Vec::with_capacity(created.len());
        for c in &created {
            let kind = kind_of(self, c);
            let name = if is_value(c) {
                bound.to_owned()
            } else if per_kind[&kind] == 1 {
                format!("{bound}.{kind}")
            } else {
                let n = seen.entry(kind.clone()).or_default();
                *n += 1;
                format!("{bound}.{kind}{}", *n - 1)
            };
            names.push(name);
        }
        // The tensors' prefix: the binding's name when this line made one tensor owner
        // (a block's own tensors are named within it).
        let owners: Vec<NodeId> = created
            .iter()
            .filter_map(|c| match c {
                Created::Node(id) if self.owns_tensors(*id) => Some(*id),
                _ => None,
            })
            .collect();
        for (c, name) in created.iter().zip(names) {
            match c {
                Created::Node(id) => {
                    let node = &mut self.nodes[id.index()];
                    node.param_prefix = match owners.as_slice() {
                        [only] if only == id => bound.to_owned(),
                        _ => name.clone(),
                    };
                    node.name = name;
                }
                Created::Call { nodes, calls, .. } => self.place_call(&name, nodes, calls),
            }
        }
        self.created = created;
    }

    /// Puts the nodes of a block call (`nodes`, named within the block) and the calls it
    /// made itself below `name`.
    pub(super) fn place_call(
        &mut self,
        name: &str,
        nodes: &std::ops::Range<usize>,
        calls: &std::ops::Range<usize>,
    ) {
        for node in &mut self.nodes[nodes.clone()] {
            node.name = format!("{name}.{}", node.name);
            node.param_prefix = format!("{name}.{}", node.param_prefix);
        }
        for call in &mut self.calls[calls.clone()] {
            // The call's own record is first, nameless until now.
            call.name = if call.name.is_empty() {
                name.to_owned()
            } else {
                format!("{name}.{}", call.name)
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
