//! Reverse-mode automatic differentiation on a tape.
//!
//! A [`Tape`] records operations in evaluation order (each node's inputs come before it),
//! checks their shapes as they are recorded, and then runs [`Tape::forward`] and
//! [`Tape::backward`] over the recording as often as needed. Walking the recording
//! backwards *is* reverse topological order, so no sort is needed. Trainable values live
//! outside the tape in [`Params`] and persist across steps; the tape's value, gradient and
//! scratch buffers are sized once and reused, so a warmed-up step allocates nothing.
//!
//! The engine knows no operation: a computing node is a [`Rule`], and each operation's
//! rules live in its own file under `crate::ops`, beside everything else it knows.
//! [`gradcheck`] checks every backward rule against central differences.

pub mod gradcheck;
mod params;
mod rule;
mod shape;
mod tape;

pub use params::{ParamId, Params};
pub use rule::{FusedSgd, Grads, Kinks, Operand, OperandParams, Rule, Run, Scratch, Values};
pub use shape::{Shape, ShapeError, describe as describe_shape};
pub use tape::{Tape, Var};

/// Misuse of the tape API. Shape errors name the operation and both shapes.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    #[error("{op}: shapes {left} and {right} do not fit: {why}")]
    Shape {
        op: &'static str,
        left: Shape,
        right: Shape,
        why: &'static str,
    },
    #[error("{op}: expected {expected}, got shape {got}")]
    Rank {
        op: &'static str,
        expected: &'static str,
        got: Shape,
    },
    #[error("{what} has {elements} elements, more than nnc allocates ({limit})")]
    TooLarge {
        what: String,
        elements: u128,
        limit: usize,
    },
    #[error("label {label} at row {row} is not below the class count {classes}")]
    Label {
        label: u32,
        row: usize,
        classes: usize,
    },
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{op}: {why}")]
    Invalid { op: &'static str, why: String },
}
