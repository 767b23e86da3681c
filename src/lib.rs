//! `nnc`: write, train and benchmark neural networks from a declarative `.nn` file.
//!
//! The crate is layered; imports point one way:
//!
//! ```text
//! graph (building, validation, lowering) → language (grammar, syntax tree, diagnostics)
//! graph → ops (one file per operation: its function, shape, tensors, rules, ONNX)
//! ops → autodiff (tape, rules, gradient checks) → kernels
//! cli → training / data → graph → ops
//! cli → export (ONNX) → training / graph / ops
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
pub mod ops;
pub mod rng;
pub mod suggest;
pub mod training;

pub mod atomic_file;
/// The error every command returns, with its exit status (see `cli/error.rs`).
pub use cli::Error;
