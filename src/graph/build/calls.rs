//! Calls in model lines: resolving the function's name (possibly through a `let`),
//! binding positional and named arguments to a built-in's parameters (the table in
//! `crate::ops`), checking each argument against its parameter's kind and range, and
//! handing the checked arguments to the row's builder, whose layer becomes the call's
//! node. The train block's optimizers bind their arguments with the same binder.

use super::{Builder, Mode, Value};
use crate::graph::NodeId;
use crate::language::ast::{Arg as AstArg, Expr, Ident};
use crate::language::{Diagnostic, Span};
use crate::ops::{self as builtins, Arg, ArgKind, Args, Default, ParamDef, signature};
use crate::suggest::did_you_mean;

/// An evaluated argument and where it was written.
pub(super) type Given = (Value, Span);

impl Builder<'_> {
    pub(super) fn call(
        &mut self,
        expr: &Expr,
        func: &Ident,
        args: &[AstArg],
        piped: bool,
    ) -> Result<Value, ()> {
        let function = self.function_name(func)?;
        if function == "repeat" {
            return self.repeat(expr, func, args);
        }
        if self.blocks.contains_key(&function) {
            return self.call_block(&function, expr, func, args, piped);
        }
        let Some(builtin) = builtins::find(&function) else {
            self.unknown_function(&function, func, args);
            return Err(());
        };
        if builtin.name == "input" {
            // Even a failed `input(...)` is an input: "no input" would only be noise.
            self.input_attempted = true;
        }
        let given = self.bind_arguments(builtin.name, func, args, builtin.params, piped)?;
        let values = self.check_arguments(builtin.name, builtin.params, given, func.span)?;
        let span = expr.node_span();
        let mut layer = match (builtin.build)(&Args {
            builtin,
            values: &values,
        }) {
            Ok(layer) => layer,
            Err(refused) => {
                let at = if refused.at_function { func.span } else { span };
                let mut diagnostic = Diagnostic::new(refused.message, at, refused.label);
                if let Some(help) = refused.help {
                    diagnostic = diagnostic.with_help(help);
                }
                self.error(diagnostic);
                return Err(());
            }
        };
        // The call's layer arguments, in order, are the node's operands.
        let inputs: Vec<NodeId> = values
            .iter()
            .flat_map(|arg| match arg {
                Arg::Layer(id) => vec![NodeId(*id)],
                Arg::Layers(ids) => ids.iter().map(|&id| NodeId(id)).collect(),
                _ => Vec::new(),
            })
            .collect();
        let is_input = layer.is_input();
        if is_input && let Some(first) = self.input {
            let line = self.line_of(self.nodes[first.index()].span.start);
            self.error(
                Diagnostic::new("a model has exactly one `input`", span, "a second input")
                    .with_help(format!("the input is declared on line {line}")),
            );
            return Err(());
        }
        // A file that names no initialiser gets the builder's, once consumers are known.
        let default_init = layer.weight_init().is_some_and(|choice| !choice.given);
        let id = self.add_node(layer, inputs, span)?;
        if default_init {
            self.default_init.insert(id);
        }
        if is_input {
            self.input = Some(id);
        }
        Ok(Value::Node(id))
    }

    fn unknown_function(&mut self, function: &str, func: &Ident, args: &[AstArg]) {
        let activation_like = args.len() == 1 && args[0].name.is_none();
        let what = if activation_like {
            "activation"
        } else {
            "function"
        };
        let lets_naming_functions = self
            .lets
            .iter()
            .filter(|(_, l)| matches!(l.value, Value::Symbol(_)))
            .map(|(n, _)| n.as_str());
        let mut candidates: Vec<&str> = builtins::names().collect();
        candidates.extend(lets_naming_functions);
        candidates.extend(self.blocks.keys().map(String::as_str));
        candidates.push("repeat");
        let mut diagnostic = Diagnostic::new(
            format!("unknown {what} `{function}`"),
            func.span,
            did_you_mean(function, candidates, "not a built-in"),
        );
        if function != func.name {
            diagnostic = diagnostic.with_help(format!(
                "`{}` is `{function}` (a `let` parameter)",
                func.name
            ));
        } else if did_you_mean(function, builtins::names(), "").is_empty() {
            let all: Vec<&str> = builtins::names().collect();
            diagnostic =
                diagnostic.with_help(format!("the built-in functions are {}", all.join(", ")));
        }
        self.error(diagnostic);
    }

    /// The built-in or block a call names: its own name, or the function a `let` or a
    /// block's parameter stands for.
    fn function_name(&mut self, func: &Ident) -> Result<String, ()> {
        if let Some(value) = self.params.get(&func.name) {
            return match value {
                Value::Symbol(function) => Ok(function.clone()),
                other => {
                    let found = other.describe(&self.nodes);
                    self.error(Diagnostic::new(
                        format!("the parameter `{}` is {found}, not a function", func.name),
                        func.span,
                        "not a function",
                    ));
                    Err(())
                }
            };
        }
        let Some(entry) = self.lets.get(&func.name) else {
            return Ok(func.name.clone());
        };
        match &entry.value {
            Value::Symbol(function) => Ok(function.clone()),
            other => {
                let (found, line) = (other.describe(&self.nodes), self.line_of(entry.span.start));
                self.error(
                    Diagnostic::new(
                        format!("`{}` is {found}, not a function", func.name),
                        func.span,
                        "not a function",
                    )
                    .with_help(format!(
                        "`let {}` on line {line} must name a function, e.g. `relu`",
                        func.name
                    )),
                );
                Err(())
            }
        }
    }

    /// Matches arguments to parameters (positional in order, then by name) and evaluates
    /// them: layers as model expressions, the rest as constants. A [`ArgKind::Layers`]
    /// parameter takes every positional argument. Reports every problem among the
    /// arguments before giving up.
    pub(in crate::graph) fn bind_arguments(
        &mut self,
        function: &str,
        func: &Ident,
        args: &[AstArg],
        params: &[ParamDef],
        piped: bool,
    ) -> Result<Vec<Vec<Given>>, ()> {
        let shown = signature(function, params);
        let variadic = params.iter().position(|p| p.kind == ArgKind::Layers);
        let mut given: Vec<Vec<Given>> = vec![Vec::new(); params.len()];
        let mut failed = false;
        let mut next_positional = 0;
        for arg in args {
            let slot = match (&arg.name, variadic) {
                (Some(name), Some(_)) => {
                    self.error(Diagnostic::new(
                        format!("unknown option `{}` for `{function}`", name.name),
                        name.span,
                        format!("`{function}` takes no options"),
                    ));
                    failed = true;
                    continue;
                }
                (None, Some(slot)) => slot,
                (None, None) => {
                    while next_positional < params.len() && !given[next_positional].is_empty() {
                        next_positional += 1;
                    }
                    if next_positional == params.len() {
                        let takes = params.len()
                            - usize::from(
                                piped && params.first().is_some_and(|p| p.kind == ArgKind::Layer),
                            );
                        self.error(
                            Diagnostic::new(
                                format!("too many arguments to `{function}`"),
                                arg.value.span,
                                "unexpected argument",
                            )
                            .with_help(format!("`{function}` takes {takes} here: `{shown}`")),
                        );
                        failed = true;
                        continue;
                    }
                    next_positional
                }
                (Some(name), None) => match params.iter().position(|p| p.name == name.name) {
                    Some(slot) if !given[slot].is_empty() => {
                        self.error(Diagnostic::new(
                            format!("`{}` is given twice", name.name),
                            name.span,
                            "given again here",
                        ));
                        failed = true;
                        continue;
                    }
                    Some(slot) => slot,
                    None => {
                        let names = params.iter().map(|p| p.name);
                        let label = did_you_mean(&name.name, names, "no such option");
                        self.error(
                            Diagnostic::new(
                                format!("unknown option `{}` for `{function}`", name.name),
                                name.span,
                                label,
                            )
                            .with_help(format!("`{shown}`")),
                        );
                        failed = true;
                        continue;
                    }
                },
            };
            let mode = match params[slot].kind {
                ArgKind::Layer | ArgKind::Layers => Mode::Layer,
                _ => Mode::Constant,
            };
            match self.eval(&arg.value, mode) {
                Ok(value) => given[slot].push((value, arg.value.span)),
                Err(()) => failed = true,
            }
        }
        for (param, value) in params.iter().zip(&given) {
            let required = param.default == Default::Required && param.kind != ArgKind::Layers;
            if required && value.is_empty() && !failed {
                let layer_first = params.first().is_some_and(|p| p.kind == ArgKind::Layer);
                let help = if !piped && layer_first {
                    format!("`{shown}`; a layer can also be piped in: `x |> {function}(...)`")
                } else {
                    format!("`{shown}`")
                };
                self.error(
                    Diagnostic::new(
                        format!("`{function}` needs `{}`", param.name),
                        func.span,
                        format!("`{}` missing", param.name),
                    )
                    .with_help(help),
                );
                failed = true;
            }
        }
        if failed { Err(()) } else { Ok(given) }
    }
}
