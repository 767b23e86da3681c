//! Calls in model lines: resolving the function's name (possibly through a `let`),
//! binding positional and named arguments to a built-in's parameters (the table in
//! `graph::builtins`), checking each argument against its parameter's kind and range, and
//! handing the checked arguments to the row's builder as a [`Call`]. The train block's
//! optimizers bind their arguments with the same binder.

use super::{Builder, Mode, Value};
use crate::autodiff::Shape;
use crate::autodiff::ops::{Padding, Pooling};
use crate::data::Holdout;
use crate::graph::builtins::{self, Arg, ArgKind, Builtin, Default, ParamDef, signature};
use crate::graph::shape::MAX_WIDTH;
use crate::graph::{Activation, Init, NodeId, Op};
use crate::language::ast::{Arg as AstArg, Expr, Ident};
use crate::language::suggest::did_you_mean;
use crate::language::{Diagnostic, Span};

/// An evaluated argument and where it was written.
type Given = (Value, Span);

/// A call being built: the checked arguments of one built-in and the builder to add its
/// node to. Accessors take a parameter's name; the table guarantees it exists with the
/// kind asked for (the table's test runs every row).
pub struct Call<'b, 's> {
    builder: &'b mut Builder<'s>,
    builtin: &'static Builtin,
    args: Vec<Arg>,
    /// The whole call, where its node's diagnostics point.
    span: Span,
    /// The function's name as written.
    func_span: Span,
}

impl Builder<'_> {
    pub(super) fn call(
        &mut self,
        expr: &Expr,
        func: &Ident,
        args: &[AstArg],
        piped: bool,
    ) -> Result<Value, ()> {
        let function = self.function_name(func)?;
        let Some(builtin) = builtins::find(&function) else {
            self.unknown_function(&function, func, args);
            return Err(());
        };
        if builtin.name == "input" {
            // Even a failed `input(...)` is an input: "no input" would only be noise.
            self.input_attempted = true;
        }
        let given = self.bind_arguments(builtin.name, func, args, builtin.params, piped)?;
        let args = self.check_arguments(builtin.name, builtin.params, given, func.span)?;
        let mut call = Call {
            builder: self,
            builtin,
            args,
            span: expr.node_span(),
            func_span: func.span,
        };
        (builtin.build)(&mut call).map(Value::Node)
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

    /// Checks every bound argument against its parameter (defaults filled in), reporting
    /// each one that does not fit.
    pub(in crate::graph) fn check_arguments(
        &mut self,
        function: &str,
        params: &[ParamDef],
        given: Vec<Vec<Given>>,
        func_span: Span,
    ) -> Result<Vec<Arg>, ()> {
        let mut checked = Vec::with_capacity(params.len());
        let mut failed = false;
        for (param, values) in params.iter().zip(given) {
            match self.check_argument(function, param, values, func_span) {
                Ok(arg) => checked.push(arg),
                Err(()) => failed = true,
            }
        }
        if failed { Err(()) } else { Ok(checked) }
    }

    fn check_argument(
        &mut self,
        function: &str,
        param: &ParamDef,
        mut values: Vec<Given>,
        func_span: Span,
    ) -> Result<Arg, ()> {
        if param.kind == ArgKind::Layers {
            let layers: Result<Vec<NodeId>, ()> = values
                .iter()
                .map(|given| self.layer(given, function, param.name))
                .collect();
            return layers.map(Arg::Layers);
        }
        let given = match (values.pop(), param.default) {
            (Some(given), _) => given,
            (None, Default::Auto) => return Ok(Arg::Auto),
            (None, Default::Bool(b)) => return Ok(Arg::Bool(b)),
            (None, Default::Number(value, text)) => (
                Value::Number {
                    value,
                    text: text.to_owned(),
                },
                func_span,
            ),
            (None, Default::Required) => unreachable!("binding reported a missing argument"),
        };
        let span = given.1;
        match param.kind {
            ArgKind::Layer => self.layer(&given, function, param.name).map(Arg::Layer),
            ArgKind::Layers => unreachable!("handled above"),
            ArgKind::Size => self.count(&given, function, param.name).map(Arg::Size),
            ArgKind::Bool => self.boolean(&given, function, param.name).map(Arg::Bool),
            ArgKind::Init => self.init(&given).map(Arg::Init),
            ArgKind::Number => {
                let value = self.number(&given, function, param.name)?;
                self.float32(value, span).map(Arg::Number)
            }
            ArgKind::Pad => self.pad(&given, function, param).map(Arg::Pad),
            ArgKind::Path | ArgKind::Text | ArgKind::FractionOrFile => {
                self.text_or_holdout(&given, function, param)
            }
            ArgKind::Fraction | ArgKind::Positive | ArgKind::OpenFraction => {
                let value = self.number(&given, function, param.name)?;
                let (fits, range) = match param.kind {
                    ArgKind::Fraction => ((0.0..1.0).contains(&value), "be in [0, 1)"),
                    ArgKind::OpenFraction => (value > 0.0 && value < 1.0, "be in (0, 1)"),
                    _ => (value > 0.0 && value.is_finite(), "be positive"),
                };
                if !fits {
                    let mut diagnostic = Diagnostic::new(
                        format!("{} must {range}, found {value}", param.what()),
                        span,
                        "out of range",
                    );
                    if !param.help.is_empty() {
                        diagnostic = diagnostic.with_help(param.help);
                    }
                    self.error(diagnostic);
                    return Err(());
                }
                self.float32(value, span).map(Arg::Number)
            }
        }
    }

    /// A path (a string), a text (a string or a bare name), or which rows to test on (a
    /// fraction in (0, 1) or a path).
    fn text_or_holdout(
        &mut self,
        (value, span): &Given,
        function: &str,
        param: &ParamDef,
    ) -> Result<Arg, ()> {
        let name = param.name;
        match (param.kind, value) {
            (ArgKind::Path | ArgKind::Text, Value::Str(s)) => return Ok(Arg::Text(s.clone())),
            (ArgKind::Text, Value::Symbol(s)) => return Ok(Arg::Text(s.clone())),
            (ArgKind::FractionOrFile, Value::Str(s)) => {
                return Ok(Arg::Holdout(Holdout::File(s.clone())));
            }
            (ArgKind::FractionOrFile, Value::Number { value, .. })
                if *value > 0.0 && *value < 1.0 =>
            {
                return Ok(Arg::Holdout(Holdout::Fraction(*value)));
            }
            _ => {}
        }
        let found = value.describe(&self.nodes);
        let (expected, label) = match param.kind {
            ArgKind::Path => ("a file's path in double quotes", "expected a string"),
            ArgKind::Text => ("a column's name in double quotes", "expected a string"),
            _ => (
                "a fraction in (0, 1) or a test file's path in double quotes",
                "expected a fraction or a string",
            ),
        };
        let mut diagnostic = Diagnostic::new(
            format!("`{name}` of `{function}` must be {expected}, found {found}"),
            *span,
            label,
        );
        if !param.help.is_empty() {
            diagnostic = diagnostic.with_help(param.help);
        }
        self.error(diagnostic);
        Err(())
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

    /// A padding: a whole number of pixels (0 to [`MAX_WIDTH`]) or `same`.
    fn pad(
        &mut self,
        (value, span): &Given,
        function: &str,
        param: &ParamDef,
    ) -> Result<Padding, ()> {
        let name = param.name;
        let pixels = match value {
            Value::Symbol(s) if s == "same" => return Ok(Padding::Same),
            Value::Number { value, .. } => Some(*value),
            _ => None,
        };
        match pixels {
            Some(n) if n.fract() == 0.0 && (0.0..=MAX_WIDTH as f64).contains(&n) => {
                Ok(Padding::Each(n as usize))
            }
            _ => {
                let found = value.describe(&self.nodes);
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{name}` of `{function}` must be a whole number of pixels or `same`, found {found}"
                        ),
                        *span,
                        "not a padding",
                    )
                    .with_help(param.help),
                );
                Err(())
            }
        }
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
        let names = Init::NAMES.map(|(name, _)| name);
        let expected = format!(
            "{} or {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        );
        match value {
            Value::Symbol(s) => match Init::NAMES.iter().find(|(name, _)| name == s) {
                Some(&(_, init)) => Ok(init),
                None => {
                    let label = did_you_mean(s, names, &format!("expected {expected}"));
                    self.error(Diagnostic::new(format!("unknown init `{s}`"), *span, label));
                    Err(())
                }
            },
            other => {
                let found = other.describe(&self.nodes);
                self.error(Diagnostic::new(
                    format!("`init` must be {expected}, found {found}"),
                    *span,
                    "not an init",
                ));
                Err(())
            }
        }
    }
}

impl Call<'_, '_> {
    fn arg(&self, name: &str) -> &Arg {
        let at = self
            .builtin
            .params
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("builtins: `{}` has no `{name}`", self.builtin.name));
        &self.args[at]
    }

    pub fn layer(&self, name: &str) -> NodeId {
        match self.arg(name) {
            Arg::Layer(id) => *id,
            other => panic!("builtins: `{name}` is {other:?}, not a layer"),
        }
    }

    pub fn size(&self, name: &str) -> usize {
        match self.arg(name) {
            Arg::Size(n) => *n,
            other => panic!("builtins: `{name}` is {other:?}, not a size"),
        }
    }

    /// A size, or `None` when the call left it to the function.
    pub fn size_if_given(&self, name: &str) -> Option<usize> {
        match self.arg(name) {
            Arg::Size(n) => Some(*n),
            Arg::Auto => None,
            other => panic!("builtins: `{name}` is {other:?}, not a size"),
        }
    }

    pub fn pad(&self, name: &str) -> Padding {
        match self.arg(name) {
            Arg::Pad(padding) => *padding,
            other => panic!("builtins: `{name}` is {other:?}, not a padding"),
        }
    }

    pub fn number(&self, name: &str) -> f32 {
        match self.arg(name) {
            Arg::Number(x) => *x,
            other => panic!("builtins: `{name}` is {other:?}, not a number"),
        }
    }

    pub fn boolean(&self, name: &str) -> bool {
        match self.arg(name) {
            Arg::Bool(b) => *b,
            other => panic!("builtins: `{name}` is {other:?}, not a bool"),
        }
    }

    /// The initialiser written, or `None` for the default the builder decides.
    pub fn init(&self, name: &str) -> Option<Init> {
        match self.arg(name) {
            Arg::Init(init) => Some(*init),
            Arg::Auto => None,
            other => panic!("builtins: `{name}` is {other:?}, not an init"),
        }
    }

    /// Adds the call's node, its shape from the op's rule (a refusal is a diagnostic at
    /// the call).
    pub fn push(&mut self, op: Op, inputs: Vec<NodeId>) -> Result<NodeId, ()> {
        self.builder.add_node(op, inputs, self.span)
    }

    /// Adds the activation `which` of the call's `x`.
    pub fn activation(&mut self, which: Activation) -> Result<NodeId, ()> {
        let x = self.layer("x");
        self.push(Op::Activation(which), vec![x])
    }

    /// Pushes a layer with weights on `x`. When the file named no `init`, its
    /// initialiser is decided once its consumers are known.
    pub fn push_weighted(&mut self, op: Op, x: NodeId, init_given: bool) -> Result<NodeId, ()> {
        let node = self.push(op, vec![x])?;
        if !init_given {
            self.builder.default_init.insert(node);
        }
        Ok(node)
    }

    /// `maxpool(x, size, stride = size)` or `avgpool(...)`.
    pub fn pool(&mut self, kind: Pooling) -> Result<NodeId, ()> {
        let (x, size) = (self.layer("x"), self.size("size"));
        let stride = self.size_if_given("stride").unwrap_or(size);
        self.push(Op::Pool { kind, size, stride }, vec![x])
    }

    /// `input(n)` (a vector) or `input(c, h, w)` (an image): the model's one input.
    pub fn input(&mut self) -> Result<NodeId, ()> {
        let n = self.size("n");
        let dims = match (self.size_if_given("h"), self.size_if_given("w")) {
            (None, None) => vec![n],
            (Some(h), Some(w)) => vec![n, h, w],
            _ => {
                self.builder.error(
                    Diagnostic::new(
                        "`input` takes one size (a vector) or three (channels, height, width)",
                        self.span,
                        "two sizes",
                    )
                    .with_help("e.g. `input(784)` or `input(1, 28, 28)`"),
                );
                return Err(());
            }
        };
        if let Some(first) = self.builder.input {
            let line = self
                .builder
                .line_of(self.builder.nodes[first.index()].span.start);
            self.builder.error(
                Diagnostic::new(
                    "a model has exactly one `input`",
                    self.span,
                    "a second input",
                )
                .with_help(format!("the input is declared on line {line}")),
            );
            return Err(());
        }
        let shape = match Shape::new(&dims) {
            Ok(shape) if shape.numel() <= MAX_WIDTH => shape,
            _ => {
                self.builder.error(
                    Diagnostic::new(
                        "this input is too large to allocate",
                        self.span,
                        format!("more than {MAX_WIDTH} values per sample"),
                    )
                    .with_help("layers are limited to 2^24 values per sample"),
                );
                return Err(());
            }
        };
        let id = self
            .builder
            .push_node(Op::Input, Vec::new(), shape, self.span);
        self.builder.input = Some(id);
        Ok(id)
    }

    /// `concat(a, b, ...)`: two or more layers, their shapes joined by the op's rule.
    pub fn concat(&mut self, name: &str) -> Result<NodeId, ()> {
        let Arg::Layers(inputs) = self.arg(name).clone() else {
            panic!("builtins: `{name}` of `concat` is not a list of layers");
        };
        if inputs.len() < 2 {
            let shown = self.builtin.signature();
            self.builder.error(
                Diagnostic::new(
                    format!("`concat` joins two or more layers, found {}", inputs.len()),
                    self.func_span,
                    "too few layers",
                )
                .with_help(format!("`{shown}`")),
            );
            return Err(());
        }
        let shapes: Vec<Shape> = inputs
            .iter()
            .map(|id| self.builder.nodes[id.index()].shape)
            .collect();
        let total = shapes
            .iter()
            .try_fold(0usize, |sum, s| sum.checked_add(s.numel()));
        if total.is_none_or(|t| t > MAX_WIDTH) {
            self.builder.error(Diagnostic::new(
                "`concat` would be too large to allocate",
                self.span,
                format!("more than {MAX_WIDTH} values"),
            ));
            return Err(());
        }
        self.push(Op::Concat, inputs)
    }
}
