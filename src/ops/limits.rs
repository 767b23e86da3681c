//! The size limits of a graph and the arithmetic behind them (shapes themselves are the
//! autodiff layer's [`crate::autodiff::Shape`], per sample here). Sizes come from a
//! user's file, so every product and sum is checked and capped: a model too large to
//! allocate is a diagnostic, never an abort.

/// The widest vector a node may have (2^24 features).
pub const MAX_WIDTH: usize = 1 << 24;

/// The most trainable parameters a model may have (2^31, 8 GiB of `f32`s).
pub const MAX_PARAMS: usize = 1 << 31;

/// The most `f32` activations one batch may hold across all nodes (2^31).
pub const MAX_ACTIVATIONS: usize = 1 << 31;

/// Floats one batch of `batch` samples needs for the activations of nodes of these
/// sizes (values per sample), or `None` if that overflows.
pub fn batch_activations(batch: usize, sizes: impl IntoIterator<Item = usize>) -> Option<usize> {
    let per_sample = sizes
        .into_iter()
        .try_fold(0usize, |sum, width| sum.checked_add(width))?;
    per_sample.checked_mul(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_overflow_is_none() {
        assert_eq!(batch_activations(2, [3, 4]), Some(14));
        assert_eq!(batch_activations(usize::MAX, [2]), None);
    }
}
