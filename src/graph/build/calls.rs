//! Calls in model lines: resolving the function's name (possibly through a `let`),
//! binding positional and named arguments to a built-in's parameters, checking their
//! types and ranges, and creating the node with its inferred width.

use super::{ACTIVATIONS, Builder, FUNCTIONS, INITS, Mode, Value};
use crate::graph::shape::{MAX_WIDTH, concat_width};
use crate::graph::{Activation, Init, NodeId, Op};
use crate::language::ast::{Arg, Expr, Ident};
use crate::language::suggest::did_you_mean;
use crate::language::{Diagnostic, Span};

/// One parameter of a built-in: a layer (evaluated as a model expression) or a constant.
struct Param {
    name: &'static str,
    layer: bool,
    required: bool,
}

const fn layer(name: &'static str) -> Param {
    Param {
        name,
        layer: true,
        required: true,
    }
}
const fn required(name: &'static str) -> Param {
    Param {
        name,
        layer: false,
        required: true,
    }
}
const fn option(name: &'static str) -> Param {
    Param {
        name,
        layer: false,
        required: false,
    }
}

/// A built-in's parameters and how its signature is shown in help text.
fn signature(function: &str) -> Option<(&'static [Param], &'static str)> {
    const INPUT: [Param; 1] = [required("n")];
    const DENSE: [Param; 4] = [
        layer("x"),
        required("units"),
        option("bias"),
        option("init"),
    ];
    const ACTIVATION: [Param; 1] = [layer("x")];
    const LEAKY: [Param; 2] = [layer("x"), option("slope")];
    const DROPOUT: [Param; 2] = [layer("x"), required("p")];
    Some(match function {
        "input" => (&INPUT, "input(n)"),
        "dense" => (
            &DENSE,
            "dense(x, units, bias = true|false, init = xavier|he|uniform|normal)",
        ),
        "leaky_relu" => (&LEAKY, "leaky_relu(x, slope = 0.01)"),
        "dropout" => (&DROPOUT, "dropout(x, p)"),
        "concat" => (&[], "concat(a, b, ...)"),
        "sigmoid" => (&ACTIVATION, "sigmoid(x)"),
        "tanh" => (&ACTIVATION, "tanh(x)"),
        "relu" => (&ACTIVATION, "relu(x)"),
        "softmax" => (&ACTIVATION, "softmax(x)"),
        "log_softmax" => (&ACTIVATION, "log_softmax(x)"),
        "identity" => (&ACTIVATION, "identity(x)"),
        _ => return None,
    })
}

/// An evaluated argument and where it was written.
type Given = (Value, Span);

impl Builder<'_> {
    pub(super) fn call(
        &mut self,
        expr: &Expr,
        func: &Ident,
        args: &[Arg],
        piped: bool,
    ) -> Result<Value, ()> {
        let span = expr.node_span();
        let function = self.function_name(func)?;
        let Some((params, shown)) = signature(&function) else {
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
            let candidates: Vec<&str> =
                FUNCTIONS.into_iter().chain(lets_naming_functions).collect();
            let mut diagnostic = Diagnostic::new(
                format!("unknown {what} `{function}`"),
                func.span,
                did_you_mean(&function, candidates, "not a built-in"),
            );
            if function != func.name {
                diagnostic = diagnostic.with_help(format!(
                    "`{}` is `{function}` (a `let` parameter)",
                    func.name
                ));
            } else if did_you_mean(&function, FUNCTIONS, "").is_empty() {
                diagnostic = diagnostic.with_help(format!(
                    "the built-in functions are {}",
                    FUNCTIONS.join(", ")
                ));
            }
            self.error(diagnostic);
            return Err(());
        };
        if function == "input" {
            self.input_attempted = true;
        }
        if function == "concat" {
            return self.concat(args, span, func);
        }
        let given = self.bind_arguments(&function, func, args, params, shown, piped)?;
        let arg = |name: &str| {
            params
                .iter()
                .position(|p| p.name == name)
                .and_then(|i| given[i].clone())
        };
        let op = match function.as_str() {
            "input" => {
                let n = self.count(&arg("n").expect("bound: required"), "input", "n")?;
                if let Some(first) = self.input {
                    let line = self.line_of(self.nodes[first.index()].span.start);
                    self.error(
                        Diagnostic::new("a model has exactly one `input`", span, "a second input")
                            .with_help(format!("the input is declared on line {line}")),
                    );
                    return Err(());
                }
                let id = self.push_node(Op::Input, Vec::new(), n, span);
                self.input = Some(id);
                return Ok(Value::Node(id));
            }
            "dense" => {
                let x = self.layer(&arg("x").expect("bound: required"), "dense", "x");
                let units = self.count(&arg("units").expect("bound: required"), "dense", "units");
                let bias = arg("bias")
                    .map(|b| self.boolean(&b, "dense", "bias"))
                    .transpose();
                let init = arg("init").map(|i| self.init(&i)).transpose();
                let (x, units, bias, init) = (x?, units?, bias?, init?);
                let node = self.push_node(
                    Op::Dense {
                        units,
                        bias: bias.unwrap_or(true),
                        init: init.unwrap_or(Init::Xavier),
                    },
                    vec![x],
                    units,
                    span,
                );
                if init.is_none() {
                    self.default_init.insert(node);
                }
                return Ok(Value::Node(node));
            }
            "dropout" => {
                let x = self.layer(&arg("x").expect("bound: required"), "dropout", "x");
                let p = self.dropout_p(&arg("p").expect("bound: required"));
                return self.same_width(Op::Dropout { p: p? }, x?, span);
            }
            "leaky_relu" => {
                let x = self.layer(&arg("x").expect("bound: required"), "leaky_relu", "x");
                let slope = match arg("slope") {
                    Some(slope) => self
                        .number(&slope, "leaky_relu", "slope")
                        .and_then(|s| self.float32(s, slope.1)),
                    None => Ok(0.01),
                };
                return self.same_width(
                    Op::Activation(Activation::LeakyRelu { slope: slope? }),
                    x?,
                    span,
                );
            }
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "softmax" => Activation::Softmax,
            "log_softmax" => Activation::LogSoftmax,
            "identity" => Activation::Identity,
            other => unreachable!("`signature` knows `{other}`, so this match does too"),
        };
        debug_assert!(ACTIVATIONS.contains(&function.as_str()));
        let x = self.layer(&arg("x").expect("bound: required"), &function, "x")?;
        self.same_width(Op::Activation(op), x, span)
    }

    /// The built-in a call names: its own name, or the function a `let` stands for.
    fn function_name(&mut self, func: &Ident) -> Result<String, ()> {
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
    /// them. Reports every problem among the arguments before giving up.
    fn bind_arguments(
        &mut self,
        function: &str,
        func: &Ident,
        args: &[Arg],
        params: &[Param],
        shown: &str,
        piped: bool,
    ) -> Result<Vec<Option<Given>>, ()> {
        let mut given: Vec<Option<Given>> = vec![None; params.len()];
        let mut failed = false;
        let mut next_positional = 0;
        for arg in args {
            let slot = match &arg.name {
                None => {
                    while next_positional < params.len() && given[next_positional].is_some() {
                        next_positional += 1;
                    }
                    if next_positional == params.len() {
                        let takes = params.len()
                            - usize::from(piped && params.first().is_some_and(|p| p.layer));
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
                Some(name) => match params.iter().position(|p| p.name == name.name) {
                    Some(slot) if given[slot].is_some() => {
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
            let mode = if params[slot].layer {
                Mode::Layer
            } else {
                Mode::Constant
            };
            match self.eval(&arg.value, mode) {
                Ok(value) => given[slot] = Some((value, arg.value.span)),
                Err(()) => failed = true,
            }
        }
        for (param, value) in params.iter().zip(&given) {
            if param.required && value.is_none() && !failed {
                let mut diagnostic = Diagnostic::new(
                    format!("`{function}` needs `{}`", param.name),
                    func.span,
                    format!("`{}` missing", param.name),
                );
                diagnostic = if !piped && params.first().is_some_and(|p| p.layer) {
                    diagnostic.with_help(format!(
                        "`{shown}`; a layer can also be piped in: `x |> {function}(...)`"
                    ))
                } else {
                    diagnostic.with_help(format!("`{shown}`"))
                };
                self.error(diagnostic);
                failed = true;
            }
        }
        if failed { Err(()) } else { Ok(given) }
    }

    /// `concat(a, b, ...)`: two or more layers, widths summed.
    fn concat(&mut self, args: &[Arg], span: Span, func: &Ident) -> Result<Value, ()> {
        let mut inputs = Vec::new();
        let mut failed = false;
        for arg in args {
            if let Some(name) = &arg.name {
                self.error(Diagnostic::new(
                    format!("unknown option `{}` for `concat`", name.name),
                    name.span,
                    "`concat` takes no options",
                ));
                failed = true;
                continue;
            }
            let value = self.eval(&arg.value, Mode::Layer);
            match value.and_then(|v| self.layer(&(v, arg.value.span), "concat", "a")) {
                Ok(id) => inputs.push(id),
                Err(()) => failed = true,
            }
        }
        if failed {
            return Err(());
        }
        if inputs.len() < 2 {
            self.error(
                Diagnostic::new(
                    format!("`concat` joins two or more layers, found {}", inputs.len()),
                    func.span,
                    "too few layers",
                )
                .with_help("`concat(a, b, ...)`"),
            );
            return Err(());
        }
        let widths: Vec<usize> = inputs
            .iter()
            .map(|id| self.nodes[id.index()].width)
            .collect();
        let Some(width) = concat_width(widths.iter().copied()) else {
            self.error(Diagnostic::new(
                "`concat` would be too large to allocate",
                span,
                format!("more than {MAX_WIDTH} values"),
            ));
            return Err(());
        };
        Ok(Value::Node(self.push_node(Op::Concat, inputs, width, span)))
    }

    fn same_width(&mut self, op: Op, x: NodeId, span: Span) -> Result<Value, ()> {
        let width = self.nodes[x.index()].width;
        Ok(Value::Node(self.push_node(op, vec![x], width, span)))
    }

    fn layer(&mut self, (value, span): &Given, function: &str, param: &str) -> Result<NodeId, ()> {
        if let Value::Node(id) = value {
            return Ok(*id);
        }
        let found = value.describe(&self.nodes);
        self.error(Diagnostic::new(
            format!("`{function}` expects a layer as `{param}`, found {found}"),
            *span,
            "not a layer",
        ));
        Err(())
    }

    pub(in crate::graph) fn number(
        &mut self,
        (value, span): &Given,
        function: &str,
        param: &str,
    ) -> Result<f64, ()> {
        if let Value::Number { value, .. } = value {
            return Ok(*value);
        }
        let found = value.describe(&self.nodes);
        self.error(Diagnostic::new(
            format!("`{function}` expects a number as `{param}`, found {found}"),
            *span,
            "not a number",
        ));
        Err(())
    }

    /// A size: a whole number from 1 to [`MAX_WIDTH`].
    fn count(&mut self, given: &Given, function: &str, param: &str) -> Result<usize, ()> {
        let value = self.number(given, function, param)?;
        let span = given.1;
        if value.fract() != 0.0 {
            self.error(Diagnostic::new(
                format!("`{param}` of `{function}` must be a whole number, found {value}"),
                span,
                "not a whole number",
            ));
            return Err(());
        }
        if value < 1.0 {
            self.error(Diagnostic::new(
                format!("`{param}` of `{function}` must be at least 1, found {value}"),
                span,
                "too small",
            ));
            return Err(());
        }
        if value > MAX_WIDTH as f64 {
            self.error(
                Diagnostic::new(
                    format!("`{param}` of `{function}` is too large to allocate: {value}"),
                    span,
                    format!("at most {MAX_WIDTH}"),
                )
                .with_help("layers are limited to 2^24 values per sample"),
            );
            return Err(());
        }
        Ok(value as usize)
    }

    fn boolean(&mut self, (value, span): &Given, function: &str, param: &str) -> Result<bool, ()> {
        if let Value::Bool(b) = value {
            return Ok(*b);
        }
        let found = value.describe(&self.nodes);
        self.error(Diagnostic::new(
            format!("`{param}` of `{function}` must be `true` or `false`, found {found}"),
            *span,
            "expected `true` or `false`",
        ));
        Err(())
    }

    fn init(&mut self, (value, span): &Given) -> Result<Init, ()> {
        match value {
            Value::Symbol(s) if s == "xavier" => Ok(Init::Xavier),
            Value::Symbol(s) if s == "he" => Ok(Init::He),
            Value::Symbol(s) if s == "uniform" => Ok(Init::Uniform),
            Value::Symbol(s) if s == "normal" => Ok(Init::Normal),
            Value::Symbol(s) => {
                let label = did_you_mean(s, INITS, "expected xavier, he, uniform or normal");
                self.error(Diagnostic::new(format!("unknown init `{s}`"), *span, label));
                Err(())
            }
            other => {
                let found = other.describe(&self.nodes);
                self.error(Diagnostic::new(
                    format!("`init` must be xavier, he, uniform or normal, found {found}"),
                    *span,
                    "not an init",
                ));
                Err(())
            }
        }
    }

    fn dropout_p(&mut self, given: &Given) -> Result<f32, ()> {
        let p = self.number(given, "dropout", "p")?;
        if !(0.0..1.0).contains(&p) {
            self.error(
                Diagnostic::new(
                    format!("dropout probability must be in [0, 1), found {p}"),
                    given.1,
                    "out of range",
                )
                .with_help("`p` is the fraction of values zeroed in training, e.g. 0.5"),
            );
            return Err(());
        }
        Ok(p as f32)
    }
}
