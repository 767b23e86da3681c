//! Tensor shapes: up to four dimensions, row-major, stored inline (`Copy`, no allocation).

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
