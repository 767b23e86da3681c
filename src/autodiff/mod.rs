//! Reverse-mode automatic differentiation on a tape. STUB.

/// Misuse of the tape API: shapes that do not fit an operation.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    #[error("{op}: shapes {left} and {right} do not fit: {why}")]
    Shape {
        op: &'static str,
        left: String,
        right: String,
        why: &'static str,
    },
}
