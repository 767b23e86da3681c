//! Per-sample shapes and the size arithmetic behind them.
//!
//! Every shape in v1 is a vector `[width]`; the batch dimension is implicit. Sizes come
//! from a user's file, so every product and sum is checked and capped: a model too large
//! to allocate is a diagnostic, never an abort.

/// The widest vector a node may have (2^24 features).
pub const MAX_WIDTH: usize = 1 << 24;

/// The most trainable parameters a model may have (2^31, 8 GiB of `f32`s).
pub const MAX_PARAMS: usize = 1 << 31;

/// The most `f32` activations one batch may hold across all nodes (2^31).
pub const MAX_ACTIVATIONS: usize = 1 << 31;

/// `dense(x, units)` on `[n_in]`: `units × n_in` weights plus `units` biases, or `None`
/// if that overflows.
pub fn dense_params(n_in: usize, units: usize, bias: bool) -> Option<usize> {
    n_in.checked_mul(units)?
        .checked_add(if bias { units } else { 0 })
}

/// `concat` of vectors: the sum of their widths, or `None` above [`MAX_WIDTH`].
pub fn concat_width(widths: impl IntoIterator<Item = usize>) -> Option<usize> {
    widths
        .into_iter()
        .try_fold(0usize, |sum, width| sum.checked_add(width))
        .filter(|&w| w <= MAX_WIDTH)
}

/// Floats one batch of `batch` samples needs for the activations of nodes of these
/// widths, or `None` if that overflows.
pub fn batch_activations(batch: usize, widths: impl IntoIterator<Item = usize>) -> Option<usize> {
    let per_sample = widths
        .into_iter()
        .try_fold(0usize, |sum, width| sum.checked_add(width))?;
    per_sample.checked_mul(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_overflow_is_none() {
        assert_eq!(dense_params(784, 256, true), Some(784 * 256 + 256));
        assert_eq!(dense_params(784, 256, false), Some(784 * 256));
        assert_eq!(dense_params(usize::MAX, 2, true), None);
        assert_eq!(concat_width([3, 4]), Some(7));
        assert_eq!(concat_width([MAX_WIDTH, 1]), None);
        assert_eq!(batch_activations(usize::MAX, [2]), None);
    }
}
