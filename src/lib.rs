//! `nnc`: write, train and benchmark neural networks from a declarative `.nn` file.
//!
//! The crate is layered; imports point one way:
//!
//! ```text
//! language (grammar, syntax tree, diagnostics) → graph (shapes, validation) → autodiff (tape, ops) → kernels
//! cli → training / data → autodiff → kernels
//! cli → export (ONNX) → training / graph / autodiff
//! ```
//!
//! The `nnc` binary (`src/main.rs`) only parses flags, dispatches and picks the exit code;
//! every behaviour lives here so it can be tested through the library.

pub mod autodiff;
pub mod cli;
pub mod data;
pub mod export;
pub mod graph;
pub mod kernels;
pub mod language;
pub mod training;

pub mod atomic_file;
mod error;
pub use error::Error;
