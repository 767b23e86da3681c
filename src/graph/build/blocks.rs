//! Blocks (language version 3): `block NAME(x, params...) { ... out = ... }` declared once
//! and expanded at every call into the nodes the rest of the engine knows, and
//! `repeat(x, n, BLOCK, args...)`.
//!
//! A call evaluates the block's lines in a scope of their own (its parameters, its
//! bindings, the file's `let`s, the built-ins), with the call's values, so the shapes are
//! checked at each call. The nodes are named within the block as a model's lines name
//! theirs (`y.conv2d`, `out`); the line holding the call then puts them below the call's
//! own name (`s1.1.y.conv2d`, see `naming.rs`). A problem inside a block is reported at
//! its line there, with a note at each call that led to it, innermost first.

use std::collections::{HashMap, HashSet};

use super::{Builder, Created, Frame, Mode, Value};
use crate::graph::{BlockCall, NodeId};
use crate::language::ast::{Arg as AstArg, Block, Expr, ExprKind, File, Ident};
use crate::language::{Diagnostic, Span};
use crate::ops as builtins;
use crate::suggest::did_you_mean;

/// Most nodes a model may expand into: far beyond any real network, it keeps a `repeat`
/// of blocks of repeats from exhausting memory.
pub const MAX_NODES: usize = 100_000;

/// Names a block's lines may not bind: they belong to the model.
const MODEL_ONLY: [&str; 3] = ["input", "output", "loss"];

impl Builder<'_> {
    /// Reads the file's block declarations, reporting what is wrong with each once (not
    /// at every call); a block with a problem is not expanded.
    pub(super) fn declare_blocks(&mut self, file: &File) {
        for block in &file.blocks {
            let name = &block.name;
            if let Some(first) = self.blocks.get(&name.name) {
                let line = self.line_of(first.name.span.start);
                self.error(
                    Diagnostic::new(
                        format!("two blocks are named `{}`", name.name),
                        name.span,
                        "declared again",
                    )
                    .with_help(format!("the first is on line {line}")),
                );
                continue;
            }
            let clashes = builtins::find(&name.name).is_some() || name.name == "repeat";
            if clashes {
                self.error(
                    Diagnostic::new(
                        format!(
                            "a block may not be named `{}`: that is a built-in function",
                            name.name
                        ),
                        name.span,
                        "a built-in's name",
                    )
                    .with_help("give the block a name of its own"),
                );
            }
            if !self.block_is_well_formed(block) || clashes {
                self.broken_blocks.insert(name.name.clone());
            }
            self.blocks.insert(name.name.clone(), block.clone());
        }
    }

    fn block_is_well_formed(&mut self, block: &Block) -> bool {
        let before = self.errors.len();
        let mut params = HashSet::new();
        let mut defaulted = false;
        for (i, param) in block.params.iter().enumerate() {
            if !params.insert(param.name.name.as_str()) {
                self.error(Diagnostic::new(
                    format!(
                        "block `{}` has two parameters named `{}`",
                        block.name.name, param.name.name
                    ),
                    param.name.span,
                    "named again",
                ));
            }
            match (&param.default, i) {
                (Some(default), 0) => self.error(
                    Diagnostic::new(
                        format!(
                            "the first parameter of block `{}` is its input and takes no default",
                            block.name.name
                        ),
                        default.span,
                        "the input's default",
                    )
                    .with_help(format!(
                        "`block {}({}, ...)`: the input is the layer the block is applied to",
                        block.name.name, param.name.name
                    )),
                ),
                (Some(_), _) => defaulted = true,
                (None, _) if defaulted => self.error(
                    Diagnostic::new(
                        format!(
                            "parameter `{}` has no default but comes after one that has",
                            param.name.name
                        ),
                        param.name.span,
                        "needs a default here",
                    )
                    .with_help("parameters with defaults come after those without"),
                ),
                (None, _) => {}
            }
        }
        let mut bound: HashMap<&str, Span> = HashMap::new();
        for binding in &block.bindings {
            let name = &binding.name;
            if MODEL_ONLY.contains(&name.name.as_str()) {
                self.error(
                    Diagnostic::new(
                        format!("`{}` may not be bound inside a block", name.name),
                        name.span,
                        "belongs to the model",
                    )
                    .with_help("a block's value is its `out`; bind the model's input, output and loss in the `model`"),
                );
            } else if params.contains(name.name.as_str()) {
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` is a parameter of block `{}` and cannot be bound again",
                            name.name, block.name.name
                        ),
                        name.span,
                        "the parameter's name",
                    )
                    .with_help("give the line a name of its own"),
                );
            } else if let Some(first) = bound.get(name.name.as_str()) {
                let line = self.line_of(first.start);
                self.error(super::lets::bound_twice(name, line));
            } else {
                bound.insert(&name.name, name.span);
            }
            self.no_input_call(&binding.value);
        }
        if !bound.contains_key("out") {
            self.error(
                Diagnostic::new(
                    format!("block `{}` has no `out`", block.name.name),
                    block.name.span,
                    "no `out` line",
                )
                .with_help("bind the block's value to `out`, e.g. `out = y |> relu`"),
            );
        }
        self.errors.len() == before
    }

    /// `input(...)` belongs to the model: reported at its place in a block's line.
    fn no_input_call(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Call { func, args, .. } => {
                if func.name == "input" {
                    self.error(
                        Diagnostic::new(
                            "`input` may not appear in a block",
                            func.span,
                            "the model's input",
                        )
                        .with_help("declare the input in the `model` and pass it to the block"),
                    );
                }
                for arg in args {
                    self.no_input_call(&arg.value);
                }
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                self.no_input_call(lhs);
                self.no_input_call(rhs);
            }
            _ => {}
        }
    }

    /// A call of the block `block`: binds the arguments, then expands it.
    pub(super) fn call_block(
        &mut self,
        block: &str,
        expr: &Expr,
        func: &Ident,
        args: &[AstArg],
        piped: bool,
    ) -> Result<Value, ()> {
        let block = self.blocks.get(block).cloned().ok_or(())?;
        let (input, values) = self.bind_block_arguments(&block, func, args, piped)?;
        let node = self.expand(&block, input, values, expr.node_span())?;
        Ok(Value::Node(node))
    }

    /// Matches a block call's arguments to its parameters: the input (piped or first),
    /// then positional values in order and named ones by name; defaults fill the rest.
    /// Every problem is reported before giving up.
    fn bind_block_arguments(
        &mut self,
        block: &Block,
        func: &Ident,
        args: &[AstArg],
        piped: bool,
    ) -> Result<(NodeId, Vec<(String, Value)>), ()> {
        let name = &block.name.name;
        let shown = signature(block);
        let mut given: Vec<Option<(Value, Span)>> = vec![None; block.params.len()];
        let mut failed = false;
        let mut next = 0;
        for arg in args {
            let slot = match &arg.name {
                None => {
                    while next < given.len() && given[next].is_some() {
                        next += 1;
                    }
                    if next == given.len() {
                        self.error(
                            Diagnostic::new(
                                format!("too many arguments to block `{name}`"),
                                arg.value.span,
                                "unexpected argument",
                            )
                            .with_help(format!("`{shown}`")),
                        );
                        failed = true;
                        continue;
                    }
                    next
                }
                Some(named) => {
                    match block.params.iter().position(|p| p.name.name == named.name) {
                        Some(0) => {
                            self.error(
                            Diagnostic::new(
                                format!("`{}` is block `{name}`'s input: give it first, or pipe it in", named.name),
                                named.span,
                                "the input by name",
                            )
                            .with_help(format!("`x |> {name}(...)`")),
                        );
                            failed = true;
                            continue;
                        }
                        Some(slot) if given[slot].is_some() => {
                            self.error(Diagnostic::new(
                                format!("`{}` is given twice", named.name),
                                named.span,
                                "given again here",
                            ));
                            failed = true;
                            continue;
                        }
                        Some(slot) => slot,
                        None => {
                            let names = block.params.iter().skip(1).map(|p| p.name.name.as_str());
                            let label = did_you_mean(&named.name, names, "no such parameter");
                            self.error(
                                Diagnostic::new(
                                    format!("unknown argument `{}` for block `{name}`", named.name),
                                    named.span,
                                    label,
                                )
                                .with_help(format!("`{shown}`")),
                            );
                            failed = true;
                            continue;
                        }
                    }
                }
            };
            match self.argument_value(&arg.value, slot == 0) {
                Ok(value) => given[slot] = Some((value, arg.value.span)),
                Err(()) => failed = true,
            }
        }
        if failed {
            return Err(());
        }
        let mut values = Vec::with_capacity(block.params.len());
        for (param, value) in block.params.iter().zip(given) {
            let value = match (value, &param.default) {
                (Some((value, _)), _) => value,
                (None, Some(default)) => self.eval(default, Mode::Constant)?,
                (None, None) => {
                    let help = if piped || !values.is_empty() {
                        format!("`{shown}`")
                    } else {
                        format!("`{shown}`; the input can also be piped in: `x |> {name}(...)`")
                    };
                    self.error(
                        Diagnostic::new(
                            format!("block `{name}` needs `{}`", param.name.name),
                            func.span,
                            format!("`{}` missing", param.name.name),
                        )
                        .with_help(help),
                    );
                    failed = true;
                    continue;
                }
            };
            values.push((param.name.name.clone(), value));
        }
        if failed {
            return Err(());
        }
        let input = match values.remove(0) {
            (_, Value::Node(id)) => id,
            (param, other) => {
                let found = other.describe(&self.nodes);
                let span = args.first().map_or(func.span, |a| a.value.span);
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{param}`, the input of block `{name}`, must be a layer, not {found}"
                        ),
                        span,
                        "not a layer",
                    )
                    .with_help(format!(
                        "`x |> {name}(...)` applies the block to the layer `x`"
                    )),
                );
                return Err(());
            }
        };
        Ok((input, values))
    }

    /// An argument's value: a layer for the input; for the others a layer, a value, or
    /// a function or block named bare (`act = gelu`).
    fn argument_value(&mut self, expr: &Expr, input: bool) -> Result<Value, ()> {
        if !input
            && let ExprKind::Name(name) = &expr.kind
            && !self.bound.contains_key(name)
            && !self.params.contains_key(name)
            && !self.lets.contains_key(name)
            && (builtins::find(name).is_some() || self.blocks.contains_key(name))
        {
            return Ok(Value::Symbol(name.clone()));
        }
        self.eval(expr, Mode::Layer)
    }

    /// The nodes of `block` applied to `input` with `values` for its other parameters:
    /// the block's lines evaluated in a scope of their own. Returns the `out` node.
    pub(super) fn expand(
        &mut self,
        block: &Block,
        input: NodeId,
        values: Vec<(String, Value)>,
        at: Span,
    ) -> Result<NodeId, ()> {
        let name = &block.name.name;
        if self.broken_blocks.contains(name) {
            return Err(());
        }
        if let Some(first) = self.frames.iter().position(|f| &f.block == name) {
            let mut cycle: Vec<&str> = self.frames[first..]
                .iter()
                .map(|f| f.block.as_str())
                .collect();
            cycle.push(name);
            self.error(
                Diagnostic::new(
                    format!("block `{name}` calls itself: {}", cycle.join(" → ")),
                    at,
                    "a call of a block already being expanded",
                )
                .with_help("a block cannot contain itself, directly or through other blocks"),
            );
            return Err(());
        }
        if self.nodes.len() > MAX_NODES {
            if !self.too_many_nodes {
                self.too_many_nodes = true;
                self.error(Diagnostic::new(
                    format!("the model expands into more than {MAX_NODES} nodes"),
                    at,
                    "expanded here",
                ));
            }
            return Err(());
        }
        let shown_args: Vec<String> = values
            .iter()
            .map(|(param, value)| format!("{param} = {}", short(value, &self.nodes)))
            .collect();
        self.frames.push(Frame {
            block: name.clone(),
            at,
            args: shown_args.join(", "),
        });
        let saved = (
            std::mem::take(&mut self.bound),
            std::mem::take(&mut self.all_bound),
            std::mem::replace(&mut self.params, values.into_iter().collect()),
            std::mem::take(&mut self.created),
        );
        let (nodes_start, calls_start) = (self.nodes.len(), self.calls.len());
        // The call's own record first; named when the calling line names its nodes.
        self.calls.push(BlockCall {
            name: String::new(),
            kind: format!(
                "{name}({})",
                self.frames.last().map_or("", |f| f.args.as_str())
            ),
            depth: self.frames.len() + self.repeats,
        });
        self.bound.insert(
            block.params[0].name.name.clone(),
            (Some(input), block.params[0].name.span),
        );
        self.all_bound = block.bindings.iter().map(|b| b.name.name.clone()).collect();
        let mut failed = false;
        for binding in &block.bindings {
            self.created.clear();
            let node = match self.eval(&binding.value, Mode::Layer) {
                Ok(Value::Node(id)) => Some(id),
                Ok(other) => {
                    let found = other.describe(&self.nodes);
                    self.error(Diagnostic::new(
                        format!("`{}` must be a layer, not {found}", binding.name.name),
                        binding.value.span,
                        "not a layer",
                    ));
                    None
                }
                Err(()) => None,
            };
            match node {
                Some(id) => self.name_nodes(&binding.name.name, id),
                None => failed = true,
            }
            self.bound
                .insert(binding.name.name.clone(), (node, binding.name.span));
        }
        let out = self.bound.get("out").and_then(|(node, _)| *node);
        (self.bound, self.all_bound, self.params, self.created) = saved;
        self.frames.pop();
        let out = match out {
            Some(out) if !failed => out,
            _ => return Err(()),
        };
        self.created.push(Created::Call {
            kind: name.clone(),
            value: out,
            nodes: nodes_start..self.nodes.len(),
            calls: calls_start..self.calls.len(),
        });
        Ok(out)
    }

    /// `repeat(x, n, BLOCK, args...)`: `BLOCK(·, args...)` applied `n` times in a row,
    /// numbered from 0 as `nn.Sequential` numbers its modules.
    pub(super) fn repeat(
        &mut self,
        expr: &Expr,
        func: &Ident,
        args: &[AstArg],
    ) -> Result<Value, ()> {
        let usage = "`repeat(x, n, BLOCK, args...)`, e.g. `x |> repeat(3, residual, 16)`";
        let positional: Vec<&AstArg> = args.iter().take_while(|a| a.name.is_none()).collect();
        if positional.len() < 3 {
            self.error(
                Diagnostic::new(
                    "`repeat` needs a layer, a count and a block",
                    func.span,
                    "too few arguments",
                )
                .with_help(usage),
            );
            return Err(());
        }
        let input = match self.eval(&positional[0].value, Mode::Layer)? {
            Value::Node(id) => id,
            other => {
                let found = other.describe(&self.nodes);
                self.error(
                    Diagnostic::new(
                        format!("`repeat` applies a block to a layer, not {found}"),
                        positional[0].value.span,
                        "not a layer",
                    )
                    .with_help(usage),
                );
                return Err(());
            }
        };
        let count_expr = &positional[1].value;
        let count = match self.eval(count_expr, Mode::Constant)? {
            Value::Number { value, .. }
                if value.fract() == 0.0 && value >= 1.0 && value <= MAX_NODES as f64 =>
            {
                value as usize
            }
            other => {
                let found = other.describe(&self.nodes);
                self.error(
                    Diagnostic::new(
                        format!(
                            "`repeat`'s count must be a whole number of at least 1, not {found}"
                        ),
                        count_expr.span,
                        "not a count",
                    )
                    .with_help(usage),
                );
                return Err(());
            }
        };
        let block_expr = &positional[2].value;
        let block = match &block_expr.kind {
            ExprKind::Name(name) => self.resolve_function(name),
            _ => None,
        };
        let Some(block) = block.and_then(|name| self.blocks.get(&name).cloned()) else {
            let blocks: Vec<&str> = self.blocks.keys().map(String::as_str).collect();
            let label = match &block_expr.kind {
                ExprKind::Name(name) => did_you_mean(name, blocks, "not a block"),
                _ => "not a block".to_owned(),
            };
            let what = match &block_expr.kind {
                ExprKind::Name(name) => format!("`{name}` is not one"),
                _ => "this is not one".to_owned(),
            };
            self.error(
                Diagnostic::new(
                    format!("`repeat` repeats a block: {what}"),
                    block_expr.span,
                    label,
                )
                .with_help(usage),
            );
            return Err(());
        };
        let rest = &args[3..];
        let nodes_start = self.nodes.len();
        let calls_start = self.calls.len();
        self.calls.push(BlockCall {
            name: String::new(),
            kind: format!("repeat({count}, {})", block.name.name),
            depth: self.frames.len() + self.repeats + 1,
        });
        let outer = std::mem::take(&mut self.created);
        self.repeats += 1;
        let mut x = input;
        let mut result = Ok(());
        for i in 0..count {
            self.created.clear();
            let step = self
                .bind_block_arguments_for(&block, func, rest, x)
                .and_then(|values| self.expand(&block, x, values, expr.node_span()));
            match (step, self.created.pop()) {
                (Ok(out), Some(Created::Call { nodes, calls, .. })) => {
                    self.place_call(&i.to_string(), &nodes, &calls);
                    x = out;
                }
                _ => {
                    result = Err(());
                    break;
                }
            }
        }
        self.repeats -= 1;
        self.created = outer;
        result?;
        self.created.push(Created::Call {
            kind: "repeat".to_owned(),
            value: x,
            nodes: nodes_start..self.nodes.len(),
            calls: calls_start..self.calls.len(),
        });
        Ok(Value::Node(x))
    }

    /// [`Self::bind_block_arguments`] for a call whose input is given (`repeat`'s).
    fn bind_block_arguments_for(
        &mut self,
        block: &Block,
        func: &Ident,
        args: &[AstArg],
        input: NodeId,
    ) -> Result<Vec<(String, Value)>, ()> {
        // The input as a bound name the arguments cannot collide with.
        let key = "\u{0}repeat input".to_owned();
        self.bound.insert(key.clone(), (Some(input), func.span));
        let mut with_input = vec![AstArg {
            name: None,
            value: Expr {
                kind: ExprKind::Name(key.clone()),
                span: func.span,
            },
        }];
        with_input.extend(args.iter().cloned());
        let bound = self.bind_block_arguments(block, func, &with_input, true);
        self.bound.remove(&key);
        let (_, values) = bound?;
        Ok(values)
    }

    /// The function or block a name stands for: itself, or what a `let` or a block
    /// parameter holding a function names.
    pub(super) fn resolve_function(&self, name: &str) -> Option<String> {
        let held = self
            .params
            .get(name)
            .or_else(|| self.lets.get(name).map(|l| &l.value));
        match held {
            Some(Value::Symbol(f)) => Some(f.clone()),
            Some(_) => None,
            None => Some(name.to_owned()),
        }
    }

    /// The notes of the calls being expanded, innermost first: "in block `residual`,
    /// called here with filters = 32".
    pub(super) fn call_notes(&self) -> Vec<(String, Span)> {
        self.frames
            .iter()
            .rev()
            .map(|frame| {
                let with = if frame.args.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", frame.args)
                };
                (
                    format!("in block `{}`, called here{with}", frame.block),
                    frame.at,
                )
            })
            .collect()
    }
}

/// `residual(x, filters, act = relu)`, for help lines.
fn signature(block: &Block) -> String {
    let params: Vec<String> = block
        .params
        .iter()
        .map(|p| match &p.default {
            Some(default) => format!("{} = {}", p.name.name, expression_text(default)),
            None => p.name.name.clone(),
        })
        .collect();
    format!("{}({})", block.name.name, params.join(", "))
}

fn expression_text(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Number { text, .. } => text.clone(),
        ExprKind::Str(s) => format!("\"{s}\""),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.clone(),
        _ => "...".to_owned(),
    }
}

/// A value as a call note shows it: `32`, `relu`, `the layer `s1``.
fn short(value: &Value, nodes: &[crate::graph::Node]) -> String {
    match value {
        Value::Number { text, .. } => text.clone(),
        Value::Str(s) => format!("\"{s}\""),
        Value::Bool(b) => b.to_string(),
        Value::Symbol(s) => s.clone(),
        Value::Node(_) => value.describe(nodes),
    }
}
