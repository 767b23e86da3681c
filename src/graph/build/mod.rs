//! Semantic analysis: syntax tree + `let`s + `--set` overrides → [`Graph`].
//!
//! `build_graph` parses the file, evaluates the `let`s (overrides first, `lets.rs`),
//! evaluates each model line into graph nodes (`eval.rs`, `arithmetic.rs`, and `calls.rs`
//! for the built-ins of `crate::ops`), names them (`naming.rs`), reads the train block
//! (`train.rs`), then adds the whole-graph checks of `graph::validate`. Errors are
//! collected, not thrown: a line that fails is remembered as failed, so later uses of its
//! name stay quiet instead of piling up follow-on errors.
//!
//! # Node names
//!
//! Node names name the weight tensors in saved files, so they follow one fixed rule:
//!
//! - the node that is the value of a binding gets the bound name: in
//!   `h = x |> dense(256) |> sigmoid`, the sigmoid is `h`;
//! - every other node created by that line is `{binding}.{kind}`: the dense is `h.dense`;
//! - when a line creates several inner nodes of one kind, they are numbered in the order
//!   written: `h = x |> dense(256) |> relu |> dense(128) |> relu` gives `h.dense0`,
//!   `h.relu`, `h.dense1` and `h`.
//!
//! Kinds are the built-in's name ([`Layer::kind`](crate::ops::Layer::kind)), or `add`, `sub`, `mul`, `scale` and
//! `add_scalar` for arithmetic. Bound names are identifiers and derived names contain a
//! dot, so the two never collide, and the names depend only on the file's text.
//!
//! A node's tensors are `{prefix}.weight`, `{prefix}.bias`, ...: the prefix is the
//! binding's name when the line creates one node that owns tensors (`h = x |>
//! dense(256) |> sigmoid` saves `h.weight`, as PyTorch names a layer's tensors), else the
//! node's own name (`h.dense0.weight`).
//!
//! # Default initialisation
//!
//! A `dense` without `init =` uses He (`N(0, 2/n_in)`) when its output feeds a `relu` or
//! `leaky_relu`, which halve the variance He makes up for; Xavier otherwise, which suits
//! sigmoid, tanh, softmax and plain linear layers.

use std::collections::{HashMap, HashSet};

use super::validate;
use super::{BlockCall, DataSource, Graph, Layer, Loss, Node, NodeId};
use crate::autodiff::Shape;
use crate::language::ast::{Block, Expr, File, Model};
use crate::language::{Diagnostic, Diagnostics, Source, Span, parse_file};
use crate::suggest::did_you_mean;
use lets::bound_twice;

/// What the command line adds to a file before it is analysed.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--set NAME=VALUE`, in the order given; applied to `let`s before anything else.
    pub overrides: Vec<(String, String)>,
    /// Render the diagnostics with ANSI colours (for a terminal).
    pub color: bool,
}

/// Parses and validates `source` into a graph, or reports every problem found.
pub fn build_graph(source: &Source, options: &BuildOptions) -> Result<Graph, Diagnostics> {
    let file =
        parse_file(&source.text).map_err(|d| Diagnostics::single(source, d, options.color))?;
    let mut builder = Builder::new(source);
    let graph = builder.build(&file, &options.overrides);
    match graph {
        Some(graph) if builder.errors.is_empty() => Ok(graph),
        _ => Err(Diagnostics::new(source, builder.errors, options.color)),
    }
}

const LOSSES: [&str; 2] = ["cross_entropy", "mse"];

/// A value during analysis. `Err(())` in results means "already reported".
#[derive(Debug, Clone, PartialEq)]
pub(in crate::graph) enum Value {
    Number {
        value: f64,
        text: String,
    },
    Str(String),
    Bool(bool),
    /// A bare name that is not a layer or a `let`: an activation, dataset, init, loss...
    Symbol(String),
    Node(NodeId),
}

impl Value {
    /// "a number (2.5)", "the layer `h`": for "expected X, found Y" messages.
    pub(in crate::graph) fn describe(&self, nodes: &[Node]) -> String {
        match self {
            Value::Number { text, .. } => format!("the number {text}"),
            Value::Str(s) => format!("the string \"{s}\""),
            Value::Bool(b) => format!("`{b}`"),
            Value::Symbol(s) => format!("the name `{s}`"),
            Value::Node(id) => match nodes.get(id.index()) {
                Some(node) => format!("the layer `{}`", node.name),
                None => "a layer".to_owned(),
            },
        }
    }
}

/// How a name in an expression is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Model lines: layers first, then `let`s.
    Layer,
    /// Options and settings: `let`s, else the name itself (`init = he`, `data = mnist`).
    Constant,
}

/// A `let`: its value (after `--set`) and where its name was written.
struct LetEntry {
    value: Value,
    span: Span,
}

pub(in crate::graph) struct Builder<'s> {
    pub(super) source: &'s Source,
    pub(super) errors: Vec<Diagnostic>,
    lets: HashMap<String, LetEntry>,
    /// Model bindings so far: `None` when the line failed (already reported).
    bound: HashMap<String, (Option<NodeId>, Span)>,
    /// Every name the model binds, to tell "used before bound" from "undefined".
    all_bound: HashSet<String>,
    pub(super) nodes: Vec<Node>,
    /// Weighted nodes without `init =`, to get the default once consumers are known.
    default_init: HashSet<NodeId>,
    /// Nodes (and block calls) created by the line being evaluated, in order.
    created: Vec<Created>,
    /// The file's blocks by name, and those whose declaration has a problem.
    blocks: HashMap<String, Block>,
    broken_blocks: HashSet<String>,
    /// The value parameters of the block being expanded.
    params: HashMap<String, Value>,
    /// The block calls being expanded, outermost first.
    frames: Vec<Frame>,
    /// `repeat`s being expanded.
    repeats: usize,
    /// Every block call so far (see [`crate::graph::BlockCall`]).
    calls: Vec<BlockCall>,
    too_many_nodes: bool,
    input: Option<NodeId>,
    /// An `input(...)` was written, even if it failed: then "no input" would be noise.
    input_attempted: bool,
}

impl<'s> Builder<'s> {
    fn new(source: &'s Source) -> Self {
        Builder {
            source,
            errors: Vec::new(),
            lets: HashMap::new(),
            bound: HashMap::new(),
            all_bound: HashSet::new(),
            nodes: Vec::new(),
            default_init: HashSet::new(),
            created: Vec::new(),
            blocks: HashMap::new(),
            broken_blocks: HashSet::new(),
            params: HashMap::new(),
            frames: Vec::new(),
            repeats: 0,
            calls: Vec::new(),
            too_many_nodes: false,
            input: None,
            input_attempted: false,
        }
    }

    /// Reports a problem; inside a block, with a note at each call that led there.
    pub(super) fn error(&mut self, mut diagnostic: Diagnostic) {
        diagnostic.notes.extend(self.call_notes());
        self.errors.push(diagnostic);
    }

    /// 1-based line of a byte offset, for "first bound on line N".
    pub(super) fn line_of(&self, at: usize) -> usize {
        self.source
            .text
            .get(..at)
            .map_or(1, |before| before.matches('\n').count() + 1)
    }

    fn build(&mut self, file: &File, overrides: &[(String, String)]) -> Option<Graph> {
        self.lets(file, overrides);
        self.declare_blocks(file);
        let Some(model) = file.models.first() else {
            let end = self.source.text.len();
            self.error(
                Diagnostic::new(
                    "this file has no `model`",
                    Span { start: end, end },
                    "expected a model",
                )
                .with_help("declare the network with `model NAME { ... }`"),
            );
            return None;
        };
        for extra in &file.models[1..] {
            self.error(
                Diagnostic::new(
                    "a file declares exactly one `model`",
                    extra.name.span,
                    "a second model",
                )
                .with_help(format!(
                    "the first is `{}`, on line {}",
                    model.name.name,
                    self.line_of(model.name.span.start)
                )),
            );
        }
        for extra in file.trains.iter().skip(1) {
            self.error(Diagnostic::new(
                "a file has at most one `train` block",
                extra.keyword,
                "a second `train` block",
            ));
        }
        let (output, loss) = self.model(model);
        self.apply_default_inits();
        let train = self.train_settings(file.trains.first(), loss);
        let (input, output) = self.require_input_output(model, output)?;
        let mut graph = Graph {
            name: model.name.name.clone(),
            nodes: std::mem::take(&mut self.nodes),
            input,
            output,
            loss,
            train,
            calls: std::mem::take(&mut self.calls),
        };
        if matches!(&graph.train.data, DataSource::Csv(csv) if csv.normalize) {
            standardize::after_input(&mut graph);
        }
        self.errors.extend(validate::whole_graph(&graph));
        Some(graph)
    }

    /// Evaluates the model lines; returns the `output` node and the loss, if written.
    fn model(&mut self, model: &Model) -> (Option<NodeId>, Option<Loss>) {
        self.all_bound = model.bindings.iter().map(|b| b.name.name.clone()).collect();
        let (mut output, mut loss) = (None, None);
        for binding in &model.bindings {
            let name = &binding.name;
            let first = self
                .bound
                .get(&name.name)
                .map(|(_, span)| *span)
                .or_else(|| self.lets.get(&name.name).map(|l| l.span));
            if let Some(first) = first {
                let line = self.line_of(first.start);
                self.error(bound_twice(name, line));
                continue;
            }
            if name.name == "loss" {
                loss = self.loss(&binding.value);
                self.bound.insert(name.name.clone(), (None, name.span));
                continue;
            }
            self.created.clear();
            let node = match self.eval(&binding.value, Mode::Layer) {
                Ok(Value::Node(id)) => Some(id),
                Ok(other) => {
                    let found = other.describe(&self.nodes);
                    self.error(
                        Diagnostic::new(
                            format!(
                                "`{}` must be a layer of the network, not {found}",
                                name.name
                            ),
                            binding.value.span,
                            "not a layer",
                        )
                        .with_help("declare parameters at the top of the file: `let NAME = VALUE`"),
                    );
                    None
                }
                Err(()) => None,
            };
            if let Some(id) = node {
                self.name_nodes(&name.name, id);
            }
            if name.name == "output" {
                output = node;
            }
            self.bound.insert(name.name.clone(), (node, name.span));
        }
        (output, loss)
    }

    /// `loss = cross_entropy` or `loss = mse` (directly or through a `let`).
    fn loss(&mut self, expr: &Expr) -> Option<Loss> {
        let value = self.eval(expr, Mode::Constant).ok()?;
        match &value {
            Value::Symbol(s) if s == "cross_entropy" => Some(Loss::CrossEntropy),
            Value::Symbol(s) if s == "mse" => Some(Loss::Mse),
            Value::Symbol(s) => {
                let label = did_you_mean(s, LOSSES, "expected `cross_entropy` or `mse`");
                self.error(Diagnostic::new(
                    format!("unknown loss `{s}`"),
                    expr.span,
                    label,
                ));
                None
            }
            other => {
                let found = other.describe(&self.nodes);
                self.error(Diagnostic::new(
                    format!("`loss` must be `cross_entropy` or `mse`, not {found}"),
                    expr.span,
                    "expected `cross_entropy` or `mse`",
                ));
                None
            }
        }
    }

    fn require_input_output(
        &mut self,
        model: &Model,
        output: Option<NodeId>,
    ) -> Option<(NodeId, NodeId)> {
        let failed = |b: &Self, name: &str| b.bound.get(name).is_some_and(|(id, _)| id.is_none());
        if self.input.is_none() && !self.input_attempted {
            self.error(
                Diagnostic::new(
                    format!("model `{}` has no `input`", model.name.name),
                    model.name.span,
                    "no input",
                )
                .with_help("declare the per-sample input, e.g. `x = input(784)`"),
            );
        }
        if output.is_none() && !failed(self, "output") {
            self.error(
                Diagnostic::new(
                    format!("model `{}` has no `output`", model.name.name),
                    model.name.span,
                    "no output",
                )
                .with_help(
                    "bind the prediction to `output`, e.g. `output = h |> dense(10) |> softmax`",
                ),
            );
        }
        Some((self.input?, output?))
    }

    /// Adds a node of `op` reading `inputs`, its shape from the op's own rule; a shape
    /// the rule refuses is reported at `span` (the "already reported" error).
    pub(super) fn add_node(
        &mut self,
        op: Box<dyn Layer>,
        inputs: Vec<NodeId>,
        span: Span,
    ) -> Result<NodeId, ()> {
        let shapes: Vec<Shape> = inputs
            .iter()
            .map(|id| self.nodes[id.index()].shape)
            .collect();
        match op.shape(&shapes) {
            Ok(shape) => Ok(self.push_node(op, inputs, shape, span)),
            Err(refused) => {
                let mut diagnostic = Diagnostic::new(refused.message, span, refused.label);
                if let Some(help) = refused.help {
                    diagnostic = diagnostic.with_help(help);
                }
                self.error(diagnostic);
                Err(())
            }
        }
    }

    /// Adds a node whose shape is known (an `input`).
    pub(super) fn push_node(
        &mut self,
        op: Box<dyn Layer>,
        inputs: Vec<NodeId>,
        shape: Shape,
        span: Span,
    ) -> NodeId {
        let id = NodeId(
            u32::try_from(self.nodes.len()).expect("node count is bounded by the file's length"),
        );
        self.nodes.push(Node {
            name: String::new(),
            op,
            inputs,
            shape,
            span,
            param_prefix: String::new(),
        });
        self.created.push(Created::Node(id));
        id
    }
}

/// What one line created: a node, or a block call (or `repeat`) with the nodes and the
/// calls it made, to be named below the call's own name.
pub(super) enum Created {
    Node(NodeId),
    Call {
        kind: String,
        value: NodeId,
        nodes: std::ops::Range<usize>,
        calls: std::ops::Range<usize>,
    },
}

/// A block call being expanded: the block, where it was called and with what, for the
/// notes of the problems found inside.
pub(super) struct Frame {
    block: String,
    at: Span,
    args: String,
}

mod arguments;
mod arithmetic;
mod blocks;
mod calls;
mod eval;
mod lets;
mod naming;
mod optimizer;
mod standardize;
mod train;

#[cfg(test)]
mod tests;
