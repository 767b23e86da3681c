//! Tensor shapes: up to four dimensions, row-major, stored inline (`Copy`, no allocation),
//! and [`ShapeError`], the words a shape rule refuses its operands with.
//!
//! Each op's shape rule lives in its own file under `ops/` and works on *per-sample*
//! shapes (`[n]` or `[c, h, w]`, the batch left out): the graph layer calls it to infer a
//! node's shape (its error becoming a diagnostic at the node), the tape calls it on the
//! sample part of a batched shape. An op therefore has one shape rule.

use std::fmt;

use super::TapeError;

/// The most elements one tensor may have (2³¹, 8 GiB of `f32`): larger requests are
/// user errors, reported, never attempted.
pub const MAX_ELEMENTS: usize = 1 << 31;

/// A shape of rank 0 (a scalar) to 4. The last dimension is the feature axis; every
/// leading dimension counts as rows for the matrix kernels.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// `u32` keeps errors that carry two shapes small; [`MAX_ELEMENTS`] bounds every
    /// dimension anyway.
    dims: [u32; 4],
    rank: u8,
}

impl Shape {
    /// A shape with these dimensions, refused when it has more than [`MAX_ELEMENTS`]
    /// elements or more than four dimensions.
    pub fn new(dims: &[usize]) -> Result<Self, TapeError> {
        if dims.len() > 4 {
            return Err(TapeError::Invalid {
                op: "shape",
                why: format!("{} dimensions, at most 4", dims.len()),
            });
        }
        let elements = dims
            .iter()
            .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
            .unwrap_or(u128::MAX);
        if elements > MAX_ELEMENTS as u128 || dims.iter().any(|&d| d > MAX_ELEMENTS) {
            return Err(TapeError::TooLarge {
                what: format!("a tensor of shape {dims:?}"),
                elements,
                limit: MAX_ELEMENTS,
            });
        }
        let mut all = [1; 4];
        for (slot, &d) in all.iter_mut().zip(dims) {
            *slot = d as u32; // ≤ MAX_ELEMENTS < 2³², checked above
        }
        Ok(Shape {
            dims: all,
            rank: dims.len() as u8,
        })
    }

    pub fn scalar() -> Self {
        Shape {
            dims: [1; 4],
            rank: 0,
        }
    }

    /// `[rows, cols]`.
    pub fn matrix(rows: usize, cols: usize) -> Result<Self, TapeError> {
        Shape::new(&[rows, cols])
    }

    /// `[n]`.
    pub fn vector(n: usize) -> Result<Self, TapeError> {
        Shape::new(&[n])
    }

    /// The dimensions, outermost first (empty for a scalar).
    pub fn dims(&self) -> Vec<usize> {
        self.dims[..self.rank as usize]
            .iter()
            .map(|&d| d as usize)
            .collect()
    }

    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// Dimension `i`, outermost first (without allocating, unlike [`Shape::dims`]).
    ///
    /// # Panics
    /// If `i` is not below the rank: callers check the rank first.
    pub fn dim(&self, i: usize) -> usize {
        assert!(i < self.rank as usize, "dimension {i} of {self}");
        self.dims[i] as usize
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.dims[..self.rank as usize]
            .iter()
            .map(|&d| d as usize)
            .product()
    }

    /// The last dimension (1 for a scalar).
    pub fn cols(&self) -> usize {
        self.dims[..self.rank as usize]
            .last()
            .map_or(1, |&d| d as usize)
    }

    /// Product of every dimension but the last.
    pub fn rows(&self) -> usize {
        match self.rank {
            0 => 1,
            r => self.dims[..r as usize - 1]
                .iter()
                .map(|&d| d as usize)
                .product(),
        }
    }

    /// The same shape with the last dimension replaced.
    pub fn with_cols(&self, cols: usize) -> Result<Self, TapeError> {
        let mut dims = self.dims();
        match dims.last_mut() {
            Some(last) => *last = cols,
            None => dims.push(cols),
        }
        Shape::new(&dims)
    }
}

impl Shape {
    /// This shape without its leading (batch) dimension: a tape shape's per-sample part.
    pub fn per_sample(&self) -> Shape {
        match self.rank {
            0 => *self,
            r => {
                let mut dims = [1; 4];
                dims[..r as usize - 1].copy_from_slice(&self.dims[1..r as usize]);
                Shape { dims, rank: r - 1 }
            }
        }
    }

    /// `[batch, ..self]`: a per-sample shape as the tape holds a batch of it.
    pub fn batched(&self, batch: usize) -> Result<Shape, TapeError> {
        let mut dims = vec![batch];
        dims.extend(self.dims());
        Shape::new(&dims)
    }

    /// Whether this per-sample shape is a vector `[n]` (not an image `[c, h, w]`).
    pub fn is_vector(&self) -> bool {
        self.rank == 1
    }
}

/// Why a shape rule refused its operands, in the words a diagnostic shows: what is wrong
/// (naming the shapes), a short label for the spot, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ShapeError {
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl ShapeError {
    pub fn new(message: impl Into<String>, label: impl Into<String>) -> Self {
        ShapeError {
            message: message.into(),
            label: label.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// "a vector [10]", "an image [16, 14, 14]": how a rule names a per-sample operand.
pub fn describe(shape: Shape) -> String {
    match shape.rank() {
        1 => format!("a vector {shape}"),
        3 => format!("an image {shape}"),
        _ => format!("a tensor {shape}"),
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_cols_fold_leading_dimensions() {
        let s = Shape::new(&[2, 3, 4]).unwrap();
        assert_eq!((s.rows(), s.cols(), s.numel()), (6, 4, 24));
        assert_eq!(Shape::scalar().numel(), 1);
        assert_eq!(s.to_string(), "[2, 3, 4]");
    }

    #[test]
    fn per_sample_and_batched_are_inverse() {
        let image = Shape::new(&[1, 28, 28]).unwrap();
        let batch = image.batched(64).unwrap();
        assert_eq!(batch.dims(), [64, 1, 28, 28]);
        assert_eq!(batch.per_sample(), image);
        assert!(Shape::vector(3).unwrap().is_vector() && !image.is_vector());
    }

    #[test]
    fn oversized_shapes_are_refused_not_allocated() {
        assert!(matches!(
            Shape::new(&[1 << 20, 1 << 20]),
            Err(TapeError::TooLarge { .. })
        ));
        assert!(matches!(
            Shape::new(&[usize::MAX, 3]),
            Err(TapeError::TooLarge { .. })
        ));
    }
}
