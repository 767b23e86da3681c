//! Matrix–vector and outer products on `wide` kernels: the products of per-sample
//! training (batch 1), which `sgemm` would pack at the cost of copying a whole weight
//! matrix per call.

use super::{MatRef, scale_output};
use crate::kernels::{reduce, simd};

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
        // c = β·c + Σ_p a[p]·b[p, :] with b's rows contiguous.
        scale_output(beta, c);
        let (a_step, row) = (a.col_stride as usize, b.row_stride as usize);
        for p in 0..k {
            // Skipping exact zeros changes no result and, with pixel inputs (mostly 0) or
            // relu activations, most of the weight matrix is never read.
            let scale = alpha * a.data[p * a_step];
            if scale != 0.0 {
                simd::axpy(scale, &b.data[p * row..p * row + n], c);
            }
        }
        return Some(());
    }
    if k == 1 && b.col_stride == 1 {
        // c[i, :] = β·c[i, :] + a[i]·b[0, :].
        scale_output(beta, c);
        let a_step = a.row_stride as usize;
        for (i, c_row) in c.chunks_exact_mut(n).enumerate() {
            let scale = alpha * a.data[i * a_step];
            if scale != 0.0 {
                simd::axpy(scale, &b.data[..n], c_row); // as above: zero rows stay as they are
            }
        }
        return Some(());
    }
    None
}
