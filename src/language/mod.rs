//! The `.nn` language: grammar, syntax tree, parsing and diagnostics.
//!
//! STUB: the language issue replaces this with the real front end
//! (`grammar.rs`, `ast.rs`, `parse.rs`, `diagnostic.rs`, `suggest.rs`).

/// A `.nn` file's text and the path it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// A byte range in a [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One problem in a model file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
}

impl Diagnostic {
    /// Renders in the rustc layout of the language contract.
    pub fn render(&self, source: &Source, _color: bool) -> String {
        format!(
            "error: {}\n --> {}:{}",
            self.message, source.path, self.span.start
        )
    }
}

/// Every problem found in one file, already rendered for the terminal.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
    pub rendered: String,
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for Diagnostics {}
