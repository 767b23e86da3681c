//! A table's features are standardised inside the model: with `data = csv(...,
//! normalize = true)` the builder puts a `standardize` node right after the input, so
//! the training rows' mean and deviation are buffers of the model (`{input}.mean`,
//! `{input}.std`), saved and loaded with its weights. `nnc eval`, and anything else that
//! runs the saved model, then feed raw features and see what training saw.

use super::{Graph, Node, NodeId};
use crate::ops::standardize::Standardize;

/// Inserts a `standardize` node after `graph`'s input, which every reader of the input
/// (and the output, for `output = x`) reads instead. Ids after it shift by one, so every
/// node's inputs still come before it.
pub(super) fn after_input(graph: &mut Graph) {
    let input = graph.input;
    let at = NodeId(input.0 + 1);
    let moved = |id: NodeId| match id {
        id if id == input => at,
        id if id >= at => NodeId(id.0 + 1),
        id => id,
    };
    for node in &mut graph.nodes {
        for operand in &mut node.inputs {
            *operand = moved(*operand);
        }
    }
    graph.output = moved(graph.output);
    let source = graph.node(input);
    let node = Node {
        name: format!("{}.standardize", source.name),
        op: Box::new(Standardize),
        inputs: vec![input],
        shape: source.shape,
        span: source.span,
        param_prefix: source.name.clone(),
    };
    graph.nodes.insert(at.index(), node);
}
