//! `let`s and `--set` overrides: evaluated first, in file order, an override replacing
//! what the file says.

use std::collections::HashMap;

use super::{Builder, LetEntry, Value};
use crate::language::ast::{ExprKind, File, Ident};
use crate::language::{Diagnostic, Span};
use crate::suggest::closest;

impl Builder<'_> {
    /// Evaluates the `let`s in order, `--set` values replacing what the file says.
    pub(super) fn lets(&mut self, file: &File, overrides: &[(String, String)]) {
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
            // (`let hidden = 2 * 96`) is declared but was never entered there.
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
}

/// "`h` is bound twice" at the second binding.
pub(super) fn bound_twice(name: &Ident, first_line: usize) -> Diagnostic {
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
