//! Checking bound arguments against their parameters' kinds and ranges (defaults filled
//! in): layers, sizes, numbers and fractions, paddings, flags, initialisers, paths and
//! text, each refusal a diagnostic at the argument.

use super::calls::Given;
use super::{Builder, Value};
use crate::graph::{Init, NodeId};
use crate::kernels::conv::Padding;
use crate::language::{Diagnostic, Span};
use crate::ops::function::FractionOrFile;
use crate::ops::limits::MAX_WIDTH;
use crate::ops::{Arg, ArgKind, Default, ParamDef};
use crate::suggest::did_you_mean;

impl Builder<'_> {
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
            let layers: Result<Vec<u32>, ()> = values
                .iter()
                .map(|given| self.layer(given, function, param.name).map(|id| id.0))
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
            ArgKind::Layer => self
                .layer(&given, function, param.name)
                .map(|id| Arg::Layer(id.0)),
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
                return Ok(Arg::FractionOrFile(FractionOrFile::File(s.clone())));
            }
            (ArgKind::FractionOrFile, Value::Number { value, .. })
                if *value > 0.0 && *value < 1.0 =>
            {
                return Ok(Arg::FractionOrFile(FractionOrFile::Fraction(*value)));
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
