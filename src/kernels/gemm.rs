//! Matrix products through `matrixmultiply::sgemm`, transposes expressed as strides;
//! matrix–vector and outer products through `wide` kernels (see [`gemv_or_outer`]).

use super::{reduce, simd};

/// A read-only row-major matrix view; [`MatRef::t`] swaps strides to view the transpose
/// without copying.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a> MatRef<'a> {
    /// Views `data` as a `[rows, cols]` row-major matrix.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`: callers size their buffers from shapes they checked.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "MatRef: buffer is not rows×cols"
        );
        let cols_stride = isize::try_from(cols).expect("MatRef: cols fits in isize");
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols_stride,
            col_stride: 1,
        }
    }

    /// The transpose, as a view.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// `c ← a·b + beta·c`, `c` row-major `[a.rows, b.cols]`. `beta = 1.0` accumulates into a
/// gradient; with `beta = 0.0` the old contents of `c` are ignored (even NaN).
///
/// # Panics
/// If the inner dimensions differ or `c` has the wrong length: the tape checks shapes
/// before it calls this, so a panic here is a broken invariant.
pub fn gemm(a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    gemm_scaled(1.0, a, b, beta, c);
}

/// `c ← alpha·a·b + beta·c`: with `alpha = −lr, beta = 1` a weight gradient is applied to
/// the weights directly, without a gradient buffer.
///
/// # Panics
/// As [`gemm`].
pub fn gemm_scaled(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
    assert_eq!(c.len(), a.rows * b.cols, "gemm: output has the wrong size");
    if c.is_empty() {
        return;
    }
    if a.cols == 0 {
        // An empty inner product: sgemm would leave c untouched rather than scale it.
        c.iter_mut().for_each(|x| *x *= beta);
        if beta == 0.0 {
            c.fill(0.0);
        }
        return;
    }
    if let Some(()) = gemv_or_outer(alpha, a, b, beta, c) {
        return;
    }
    let c_row_stride = isize::try_from(b.cols).expect("gemm: cols fits in isize");
    // SAFETY: `MatRef::new` checked that each buffer holds rows*cols elements and `t()`
    // only swaps strides, so every element sgemm reads, `i*row_stride + j*col_stride` for
    // i < rows, j < cols, is in bounds. `c` is an exclusive slice of exactly
    // a.rows*b.cols elements with row-major strides: no two outputs alias, and being a
    // `&mut` it cannot overlap `a` or `b`.
    #[rustfmt::skip]
    let () = unsafe {
        matrixmultiply::sgemm(
            a.rows, a.cols, b.cols,
            alpha,
            a.data.as_ptr(), a.row_stride, a.col_stride,
            b.data.as_ptr(), b.row_stride, b.col_stride,
            beta,
            c.as_mut_ptr(), c_row_stride, 1,
        );
    };
}

/// The products that dominate per-sample training (batch 1), done without sgemm's
/// packing, which would copy the whole weight matrix on every call:
/// - one row times a matrix (`m = 1`): dot products when `b`'s columns are contiguous
///   (the forward `x·Wᵀ`), row-wise `axpy` when its rows are (the backward `dy·W`);
/// - an outer product (`k = 1`, the weight gradient `dyᵀ·x`): row-wise `axpy`.
///
/// Returns `None` when the shape or layout is not one of these.
fn gemv_or_outer(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) -> Option<()> {
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

/// `c ← β·c`, where `β = 0` clears `c` even of NaN.
fn scale_output(beta: f32, c: &mut [f32]) {
    if beta == 0.0 {
        c.fill(0.0);
    } else if beta != 1.0 {
        c.iter_mut().for_each(|x| *x *= beta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plain triple loop in f64: the reference every product is checked against.
    fn reference(
        a: &[f32],
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
    ) -> Vec<f64> {
        let at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] } as f64;
        let bt = |p: usize, j: usize| if tb { b[j * k + p] } else { b[p * n + j] } as f64;
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        c
    }

    fn dims() -> impl Strategy<Value = usize> {
        prop_oneof![
            Just(0usize),
            Just(1),
            Just(1),
            Just(7),
            Just(8),
            Just(9),
            1usize..70
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_transpose_combination_matches_the_triple_loop(
            m in dims(), k in dims(), n in dims(), ta: bool, tb: bool, accumulate: bool, seed: u64,
        ) {
            let mut state = seed | 1;
            let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state % 2000) as f32 / 1000.0 - 1.0 };
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| next()).collect();
            let a_view = if ta { MatRef::new(&a, k, m).t() } else { MatRef::new(&a, m, k) };
            let b_view = if tb { MatRef::new(&b, n, k).t() } else { MatRef::new(&b, k, n) };
            let mut c = c0.clone();
            let beta = if accumulate { 1.0 } else { 0.0 };
            let alpha = if accumulate { -0.5 } else { 1.0 };
            gemm_scaled(alpha, a_view, b_view, beta, &mut c);
            let expected = reference(&a, &b, m, k, n, ta, tb);
            for (i, (&got, want)) in c.iter().zip(&expected).enumerate() {
                let want = alpha as f64 * want + if accumulate { c0[i] as f64 } else { 0.0 };
                prop_assert!((got as f64 - want).abs() <= 1e-4 * (1.0 + k as f64), "c[{i}] = {got}, want {want}");
            }
        }
    }

    #[test]
    fn beta_zero_ignores_garbage_in_the_output() {
        let a = [1.0, 2.0];
        let b = [3.0, 4.0];
        let mut c = [f32::NAN];
        gemm(MatRef::new(&a, 1, 2), MatRef::new(&b, 2, 1), 0.0, &mut c);
        assert_eq!(c, [11.0]);
    }

    #[test]
    fn large_product_matches_reference() {
        let (m, k, n) = (128, 784, 256);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let mut c = vec![0.0; m * n];
        gemm(MatRef::new(&a, m, k), MatRef::new(&b, k, n), 0.0, &mut c);
        let expected = reference(&a, &b, m, k, n, false, false);
        for (got, want) in c.iter().zip(&expected) {
            assert!((*got as f64 - want).abs() < 1e-3, "{got} vs {want}");
        }
    }
}
