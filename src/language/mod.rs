//! The `.nn` language: grammar (`grammar.rs`, from `grammar/nn.pest`), syntax tree
//! (`ast.rs`), parsing (`parse.rs`), diagnostics (`diagnostic.rs`) and "did you mean"
//! suggestions (`suggest.rs`).
//!
//! This layer knows text and spans. Meaning (names, shapes, the `train` block) is given
//! in `graph::build`, which reports through the [`Diagnostic`] type defined here.

pub mod ast;
pub mod diagnostic;
pub mod grammar;
pub mod parse;
pub mod suggest;

pub use diagnostic::{Diagnostic, Diagnostics, render_at};
pub use parse::parse_file;

/// A `.nn` file's text and the path it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// A byte range in a [`Source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}
