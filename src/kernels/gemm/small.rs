//! Matrix–vector and outer products on `wide` kernels: the products of per-sample
//! training (batch 1), which `sgemm` would pack at the cost of copying a whole weight
//! matrix per call.

use super::{MatRef, SUM_BLOCK, scale_output};
use crate::kernels::{reduce, simd};

thread_local! {
    /// One block's sums of a batch-1 product: grows to the widest output seen, then is
    /// reused (no allocation in a warmed-up step).
    static BLOCK_SUM: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The products that dominate per-sample training (batch 1), done without sgemm's
/// packing, which would copy the whole weight matrix on every call:
/// - one row times a matrix (`m = 1`): dot products when `b`'s columns are contiguous
///   (the forward `x·Wᵀ`), row-wise `axpy` when its rows are (the backward `dy·W`);
/// - an outer product (`k = 1`, the weight gradient `dyᵀ·x`): row-wise `axpy`.
///
/// Returns `None` when the shape or layout is not one of these.
pub(super) fn gemv_or_outer(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut [f32],
) -> Option<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if m == 1 && a.col_stride == 1 && b.row_stride == 1 {
        // c[j] = β·c[j] + ⟨a, b[:, j]⟩ with b[:, j] contiguous.
        let col = b.col_stride as usize;
        for (j, out) in c.iter_mut().enumerate() {
            let dot = alpha * reduce::dot(&a.data[..k], &b.data[j * col..j * col + k]);
            *out = if beta == 0.0 { dot } else { beta * *out + dot };
        }
        return Some(());
    }
    if m == 1 && b.col_stride == 1 {
        // c = β·c + Σ_p a[p]·b[p, :] with b's rows contiguous, by the sum blocks of every
        // product path: each block's terms `axpy`ed into a zeroed buffer, then added.
        scale_output(beta, c);
        let (a_step, row) = (a.col_stride as usize, b.row_stride as usize);
        BLOCK_SUM.with_borrow_mut(|acc| {
            if acc.len() < n {
                acc.resize(n, 0.0);
            }
            let acc = &mut acc[..n];
            for block in (0..k).step_by(SUM_BLOCK) {
                acc.fill(0.0);
                for p in block..(block + SUM_BLOCK).min(k) {
                    // Skipping exact zeros changes no result and, with pixel inputs (mostly
                    // 0) or relu activations, most of the weight matrix is never read.
                    let scale = alpha * a.data[p * a_step];
                    if scale != 0.0 {
                        simd::axpy(scale, &b.data[p * row..p * row + n], acc);
                    }
                }
                simd::add_assign(acc, c);
            }
        });
        return Some(());
    }
    if k == 1 && b.col_stride == 1 {
        // c[i, :] = (β·c[i, :] + 0) + a[i]·b[0, :]: one block of one term, whose chain
        // from zero is the rounded product.
        scale_output(beta, c);
        let a_step = a.row_stride as usize;
        for (i, c_row) in c.chunks_exact_mut(n).enumerate() {
            let scale = alpha * a.data[i * a_step];
            if scale != 0.0 {
                simd::add_product(scale, &b.data[..n], c_row); // zero rows stay as they are
            }
        }
        return Some(());
    }
    None
}
