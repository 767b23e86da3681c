//! Semantic analysis: syntax tree + `let`s + `--set` overrides → [`Graph`].
//!
//! STUB: replaced by the language issue.

use super::Graph;
use crate::language::{Diagnostics, Source};

/// What the command line adds to a file before it is analysed.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--set NAME=VALUE`, in the order given; applied to `let`s before anything else.
    pub overrides: Vec<(String, String)>,
}

/// Parses and validates `source` into a graph, or reports every problem found.
pub fn build_graph(source: &Source, options: &BuildOptions) -> Result<Graph, Diagnostics> {
    let _ = (source, options);
    todo!("language issue")
}
