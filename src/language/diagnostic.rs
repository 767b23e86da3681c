//! Model problems and how they are printed: the rustc layout of the language contract
//! (`error: msg`, ` --> file:line:col`, the line, a caret, the label, then any help),
//! drawn by `annotate-snippets`.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::{Source, Span};

/// One problem in a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// What is wrong, lowercase, naming the thing: "unknown activation `sigmod`".
    pub message: String,
    /// Where; a zero-width span points just before a character.
    pub span: Span,
    /// Printed beside the caret: "did you mean `sigmoid`?".
    pub label: String,
    /// A separate `= help:` line, when there is a fix worth spelling out.
    pub help: Option<String>,
    /// Further places that explain it, each with its words: for a problem inside a
    /// block, every call that led there, innermost first.
    pub notes: Vec<(String, Span)>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders in the rustc layout of the language contract; `color` adds ANSI styles.
    pub fn render(&self, source: &Source, color: bool) -> String {
        let span = caret_range(&source.text, self.span);
        let snippet = Snippet::source(source.text.as_str())
            .path(source.path.as_str())
            .annotation(
                AnnotationKind::Primary
                    .span(span)
                    .label(self.label.as_str()),
            );
        let mut report = vec![
            Level::ERROR
                .primary_title(self.message.as_str())
                .element(snippet),
        ];
        if let Some(help) = &self.help {
            report.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        for (note, at) in &self.notes {
            report.push(
                Group::with_title(Level::NOTE.secondary_title(note.as_str())).element(
                    Snippet::source(source.text.as_str())
                        .path(source.path.as_str())
                        .annotation(
                            AnnotationKind::Context
                                .span(caret_range(&source.text, *at))
                                .label("called here"),
                        ),
                ),
            );
        }
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        renderer.render(&report)
    }
}

/// Widens an empty span to the character it sits before, so a caret is drawn, and keeps
/// every span inside the text and on character boundaries.
fn caret_range(text: &str, span: Span) -> std::ops::Range<usize> {
    let clamp = |mut at: usize| {
        at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let (start, end) = (clamp(span.start), clamp(span.end.max(span.start)));
    if start < end {
        return start..end;
    }
    match text[start..].chars().next() {
        Some(c) if c != '\n' && c != '\r' => start..start + c.len_utf8(),
        _ => start..start,
    }
}

/// Renders one problem found after the graph was built (e.g. by the training code, at a
/// node's or setting's span), in the same layout as every other diagnostic.
pub fn render_at(
    source: &Source,
    span: Span,
    message: &str,
    label: &str,
    help: Option<&str>,
) -> String {
    let mut diagnostic = Diagnostic::new(message, span, label);
    diagnostic.help = help.map(str::to_owned);
    diagnostic.render(source, false)
}

/// Every problem found in one file, already rendered for the terminal.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    pub rendered: String,
}

impl Diagnostics {
    /// Sorts the problems by position and renders them, separated by blank lines.
    pub fn new(source: &Source, mut items: Vec<Diagnostic>, color: bool) -> Self {
        items.sort_by_key(|item| (item.span.start, item.span.end));
        items.dedup();
        let rendered = items
            .iter()
            .map(|item| item.render(source, color) + "\n")
            .collect::<Vec<_>>()
            .join("\n");
        Diagnostics { items, rendered }
    }

    /// One problem.
    pub fn single(source: &Source, item: Diagnostic, color: bool) -> Self {
        Diagnostics::new(source, vec![item], color)
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_layout_of_the_contract() {
        let text = "model m {\n    x = input(784)\n    h = x |> dense(hidden) |> sigmod\n}\n";
        let source = Source {
            path: "models/broken.nn".into(),
            text: text.into(),
        };
        let start = text.find("sigmod").unwrap();
        let diagnostic = Diagnostic::new(
            "unknown activation `sigmod`",
            Span {
                start,
                end: start + 6,
            },
            "did you mean `sigmoid`?",
        );
        let rendered = diagnostic.render(&source, false);
        let expected = "\
error: unknown activation `sigmod`
 --> models/broken.nn:3:31
  |
3 |     h = x |> dense(hidden) |> sigmod
  |                               ^^^^^^ did you mean `sigmoid`?
";
        assert_eq!(rendered.trim_end(), expected.trim_end());
    }

    #[test]
    fn help_and_end_of_file_spans_render() {
        let source = Source {
            path: "a.nn".into(),
            text: "let a = ".into(),
        };
        let d = Diagnostic::new("expected a value", Span { start: 8, end: 8 }, "here")
            .with_help("write a number");
        let rendered = d.render(&source, false);
        assert!(rendered.contains("a.nn:1:9"), "{rendered}");
        assert!(rendered.contains("help: write a number"), "{rendered}");
    }
}
