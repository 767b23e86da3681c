//! Semantic analysis: syntax tree + `let`s + `--set` overrides → [`Graph`].
//!
//! `build_graph` parses the file, evaluates the `let`s (overrides first), evaluates each
//! model line into graph nodes, then hands the train block and the whole-graph checks to
//! `validate.rs`. Errors are collected, not thrown: a line that fails is remembered as
//! failed, so later uses of its name stay quiet instead of piling up follow-on errors.
//!
//! # Node names
//!
//! Node names name the weight tensors in saved files, so they follow one fixed rule (a
//! dense node's tensors are `{name}.weight` and `{name}.bias`, with a line's single
//! `{binding}.dense` shortened to the binding: `h.weight`; see `lower::param_base_name`):
//!
//! - the node that is the value of a binding gets the bound name: in
//!   `h = x |> dense(256) |> sigmoid`, the sigmoid is `h`;
//! - every other node created by that line is `{binding}.{kind}`: the dense is `h.dense`;
//! - when a line creates several inner nodes of one kind, they are numbered in the order
//!   written: `h = x |> dense(256) |> relu |> dense(128) |> relu` gives `h.dense0`,
//!   `h.relu`, `h.dense1` and `h`.
//!
//! Kinds are `input`, `dense`, the activation's name, `dropout`, `concat`, `add`, `sub`,
//! `mul`, `scale` and `add_scalar`. Bound names are identifiers and derived names contain
//! a dot, so the two never collide, and the names depend only on the file's text.
//!
//! # Default initialisation
//!
//! A `dense` without `init =` uses He (`N(0, 2/n_in)`) when its output feeds a `relu` or
//! `leaky_relu`, which halve the variance He makes up for; Xavier otherwise, which suits
//! sigmoid, tanh, softmax and plain linear layers.

use std::collections::{HashMap, HashSet};

use super::validate;
use super::{Activation, Graph, Init, Loss, Node, NodeId, Op};
use crate::language::ast::{BinOp, Expr, ExprKind, File, Ident, Model};
use crate::language::suggest::{closest, did_you_mean};
use crate::language::{Diagnostic, Diagnostics, Source, Span, parse_file};

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

/// Activations, by the name the language gives them.
pub const ACTIVATIONS: [&str; 7] = [
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softmax",
    "log_softmax",
    "identity",
];

/// Every built-in function of the model body.
pub const FUNCTIONS: [&str; 11] = [
    "input",
    "dense",
    "dropout",
    "concat",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "softmax",
    "log_softmax",
    "identity",
];

const INITS: [&str; 4] = ["xavier", "he", "uniform", "normal"];
const LOSSES: [&str; 2] = ["cross_entropy", "mse"];

/// The short name of an op, as used in derived node names and by `nnc show`.
pub fn op_kind(op: &Op) -> &'static str {
    match op {
        Op::Input => "input",
        Op::Dense { .. } => "dense",
        Op::Activation(activation) => match activation {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::Identity => "identity",
        },
        Op::Dropout { .. } => "dropout",
        Op::Concat => "concat",
        Op::Add => "add",
        Op::Sub => "sub",
        Op::Mul => "mul",
        Op::Scale(_) => "scale",
        Op::AddScalar(_) => "add_scalar",
    }
}

/// A value during analysis. `Err(())` in results means "already reported".
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
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
    pub(super) fn describe(&self, nodes: &[Node]) -> String {
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

pub(super) struct Builder<'s> {
    pub(super) source: &'s Source,
    pub(super) errors: Vec<Diagnostic>,
    lets: HashMap<String, LetEntry>,
    /// Model bindings so far: `None` when the line failed (already reported).
    bound: HashMap<String, (Option<NodeId>, Span)>,
    /// Every name the model binds, to tell "used before bound" from "undefined".
    all_bound: HashSet<String>,
    pub(super) nodes: Vec<Node>,
    /// Dense nodes without `init =`, to get the default once consumers are known.
    default_init: HashSet<NodeId>,
    /// Nodes created by the line being evaluated, in order.
    created: Vec<NodeId>,
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
            input: None,
            input_attempted: false,
        }
    }

    pub(super) fn error(&mut self, diagnostic: Diagnostic) {
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
        let train = validate::train_settings(self, file.trains.first());
        let (input, output) = self.require_input_output(model, output)?;
        let graph = Graph {
            name: model.name.name.clone(),
            nodes: std::mem::take(&mut self.nodes),
            input,
            output,
            loss,
            train,
        };
        validate::whole_graph(self, &graph);
        Some(graph)
    }

    /// Evaluates the `let`s in order, `--set` values replacing what the file says.
    fn lets(&mut self, file: &File, overrides: &[(String, String)]) {
        let overrides: HashMap<&str, &str> = overrides
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        for item in &file.lets {
            let name = &item.name;
            if let Some(first) = self.lets.get(&name.name) {
                let line = self.line_of(first.span.start);
                self.error(bound_twice(name, line));
                continue;
            }
            let value = match overrides.get(name.name.as_str()) {
                Some(text) => parse_override(text),
                None => match &item.value.kind {
                    ExprKind::Number { value, text } => Value::Number {
                        value: *value,
                        text: text.clone(),
                    },
                    ExprKind::Str(s) => Value::Str(s.clone()),
                    ExprKind::Bool(b) => Value::Bool(*b),
                    ExprKind::Name(other) => match self.lets.get(other) {
                        Some(entry) => entry.value.clone(),
                        None => Value::Symbol(other.clone()),
                    },
                    ExprKind::Call { .. } | ExprKind::Binary { .. } => {
                        self.error(
                            Diagnostic::new(
                                format!("`let {}` must be a number, a name or a string", name.name),
                                item.value.span,
                                "not a plain value",
                            )
                            .with_help("compute layers inside the `model` block"),
                        );
                        continue;
                    }
                },
            };
            self.lets.insert(
                name.name.clone(),
                LetEntry {
                    value,
                    span: name.span,
                },
            );
        }
        let mut unknown: Vec<&str> = overrides
            .keys()
            .copied()
            .filter(|n| !self.lets.contains_key(*n))
            .collect();
        unknown.sort_unstable();
        for name in unknown {
            let declared: Vec<&str> = file.lets.iter().map(|l| l.name.name.as_str()).collect();
            let message = format!("`--set {name}=...` names no `let` in this file");
            // The span is the file's, not `self.lets`'s: a `let` whose value was refused
            // (`let hidden = 2 * 96`) is declared but was never entered there. See: #11
            let declaration = |near: &str| file.lets.iter().find(|l| l.name.name == near);
            let diagnostic = match closest(name, declared.iter().copied()).and_then(declaration) {
                Some(near) => Diagnostic::new(
                    message,
                    near.name.span,
                    format!("did you mean `{}`?", near.name.name),
                ),
                None => Diagnostic::new(message, Span::default(), "no such parameter").with_help(
                    match declared.as_slice() {
                        [] => "this file declares no `let` parameters".to_owned(),
                        names => format!("the parameters are: {}", names.join(", ")),
                    },
                ),
            };
            self.error(diagnostic);
        }
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

    /// Names the nodes the current line created; see the module docs for the rule.
    fn name_nodes(&mut self, bound: &str, value: NodeId) {
        let inner: Vec<NodeId> = self
            .created
            .iter()
            .copied()
            .filter(|&id| id != value)
            .collect();
        let mut per_kind: HashMap<&str, usize> = HashMap::new();
        for &id in &inner {
            *per_kind
                .entry(op_kind(&self.nodes[id.index()].op))
                .or_default() += 1;
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for id in inner {
            let kind = op_kind(&self.nodes[id.index()].op);
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

    fn apply_default_inits(&mut self) {
        let he: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|node| {
                matches!(
                    node.op,
                    Op::Activation(Activation::Relu | Activation::LeakyRelu { .. })
                )
            })
            .map(|node| node.inputs[0])
            .filter(|input| self.default_init.contains(input))
            .collect();
        for id in he {
            if let Op::Dense { init, .. } = &mut self.nodes[id.index()].op {
                *init = Init::He;
            }
        }
    }

    fn push_node(&mut self, op: Op, inputs: Vec<NodeId>, width: usize, span: Span) -> NodeId {
        let id = NodeId(
            u32::try_from(self.nodes.len()).expect("node count is bounded by the file's length"),
        );
        self.nodes.push(Node {
            name: String::new(),
            op,
            inputs,
            width,
            span,
        });
        self.created.push(id);
        id
    }

    /// Evaluates an option or setting: `let`s resolved, other names kept as symbols.
    pub(super) fn constant(&mut self, expr: &Expr) -> Result<Value, ()> {
        self.eval(expr, Mode::Constant)
    }

    fn eval(&mut self, expr: &Expr, mode: Mode) -> Result<Value, ()> {
        match &expr.kind {
            ExprKind::Number { value, text } => Ok(Value::Number {
                value: *value,
                text: text.clone(),
            }),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Name(name) => self.name(name, expr.span, mode),
            ExprKind::Call { func, args, piped } => {
                if mode == Mode::Constant {
                    self.error(Diagnostic::new(
                        format!(
                            "expected a number, a name or a string, found a call to `{}`",
                            func.name
                        ),
                        expr.span,
                        "a call cannot stand here",
                    ));
                    return Err(());
                }
                self.call(expr, func, args, *piped)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (lhs_value, rhs_value) = (self.eval(lhs, mode), self.eval(rhs, mode));
                self.binary(expr, *op, (lhs_value?, lhs.span), (rhs_value?, rhs.span))
            }
        }
    }

    fn name(&mut self, name: &str, span: Span, mode: Mode) -> Result<Value, ()> {
        if mode == Mode::Layer
            && let Some((node, _)) = self.bound.get(name)
        {
            return node.map(Value::Node).ok_or(());
        }
        if let Some(entry) = self.lets.get(name) {
            return Ok(entry.value.clone());
        }
        if mode == Mode::Constant {
            return Ok(Value::Symbol(name.to_owned()));
        }
        if self.all_bound.contains(name) {
            self.error(
                Diagnostic::new(
                    format!("`{name}` is used before it is bound"),
                    span,
                    "not bound yet",
                )
                .with_help(
                    "model lines are evaluated in order; move this line below the one binding it",
                ),
            );
        } else if FUNCTIONS.contains(&name) {
            self.error(
                Diagnostic::new(
                    format!("`{name}` is a function, not a layer"),
                    span,
                    "a function",
                )
                .with_help(format!("apply it to a layer: `x |> {name}`")),
            );
        } else {
            let candidates: Vec<&str> = self
                .bound
                .keys()
                .chain(self.lets.keys())
                .map(String::as_str)
                .collect();
            let label = did_you_mean(name, candidates, "not found");
            self.error(Diagnostic::new(
                format!("undefined name `{name}`"),
                span,
                label,
            ));
        }
        Err(())
    }

    fn binary(
        &mut self,
        expr: &Expr,
        op: BinOp,
        lhs: (Value, Span),
        rhs: (Value, Span),
    ) -> Result<Value, ()> {
        let span = expr.span;
        let symbol = op.symbol();
        match (lhs.0, rhs.0) {
            (Value::Number { value: a, .. }, Value::Number { value: b, .. }) => {
                let value = match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                };
                if !value.is_finite() {
                    self.error(Diagnostic::new(
                        "this number is too large",
                        span,
                        "too large",
                    ));
                    return Err(());
                }
                Ok(Value::Number {
                    value,
                    text: format_number(value),
                })
            }
            (Value::Node(a), Value::Node(b)) => {
                let (wa, wb) = (self.nodes[a.index()].width, self.nodes[b.index()].width);
                if wa != wb {
                    self.error(
                        Diagnostic::new(format!("`{symbol}` needs two layers of the same size, found {wa} and {wb}"), span, format!("[{wa}] {symbol} [{wb}]"))
                            .with_help("element-wise operations need equal widths; add a `dense` to match them"),
                    );
                    return Err(());
                }
                let op = match op {
                    BinOp::Add => Op::Add,
                    BinOp::Sub => Op::Sub,
                    BinOp::Mul => Op::Mul,
                };
                Ok(Value::Node(self.push_node(op, vec![a, b], wa, span)))
            }
            (Value::Node(a), Value::Number { value: c, .. }) => {
                let c = self.float32(c, rhs.1)?;
                let op = match op {
                    BinOp::Add => Op::AddScalar(c),
                    BinOp::Sub => Op::AddScalar(-c),
                    BinOp::Mul => Op::Scale(c),
                };
                let width = self.nodes[a.index()].width;
                Ok(Value::Node(self.push_node(op, vec![a], width, span)))
            }
            (Value::Number { value: c, .. }, Value::Node(a)) => {
                let c = self.float32(c, lhs.1)?;
                let width = self.nodes[a.index()].width;
                let id = match op {
                    BinOp::Add => self.push_node(Op::AddScalar(c), vec![a], width, span),
                    BinOp::Mul => self.push_node(Op::Scale(c), vec![a], width, span),
                    BinOp::Sub => {
                        let negated = self.push_node(Op::Scale(-1.0), vec![a], width, span);
                        self.push_node(Op::AddScalar(c), vec![negated], width, span)
                    }
                };
                Ok(Value::Node(id))
            }
            (a, b) => {
                let (a, b) = (a.describe(&self.nodes), b.describe(&self.nodes));
                self.error(Diagnostic::new(
                    format!("`{symbol}` works on layers and numbers, not on {a} and {b}"),
                    span,
                    "cannot combine these",
                ));
                Err(())
            }
        }
    }

    /// A number as an `f32` scalar of the graph.
    pub(super) fn float32(&mut self, value: f64, span: Span) -> Result<f32, ()> {
        let single = value as f32;
        if single.is_finite() {
            Ok(single)
        } else {
            self.error(Diagnostic::new(
                format!("{value} is out of range for a 32-bit float"),
                span,
                "out of range",
            ));
            Err(())
        }
    }
}

/// "`h` is bound twice" at the second binding.
fn bound_twice(name: &Ident, first_line: usize) -> Diagnostic {
    Diagnostic::new(
        format!("`{}` is bound twice", name.name),
        name.span,
        "bound again here",
    )
    .with_help(format!(
        "`{}` was first bound on line {first_line}; each name is bound once",
        name.name
    ))
}

/// A `--set` value: a number, `true`/`false`, a name, or else a string (quotes optional).
fn parse_override(text: &str) -> Value {
    let text = text.trim();
    if let Ok(value) = text.parse::<f64>()
        && value.is_finite()
        && text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.')
    {
        return Value::Number {
            value,
            text: text.to_owned(),
        };
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if is_identifier(text) => Value::Symbol(text.to_owned()),
        _ => Value::Str(
            text.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text)
                .to_owned(),
        ),
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn format_number(value: f64) -> String {
    format!("{value}")
}

// Function calls: argument binding and the built-ins.
mod calls;

#[cfg(test)]
mod tests;
