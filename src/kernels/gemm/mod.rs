//! Matrix products: the crate's one entry point for `c ← α·a·b + β·c`, on views whose
//! transposes are stride swaps ([`MatRef`]). Each product goes to the first path that
//! takes it: matrix–vector and outer products on `wide` kernels (`small.rs`, batch 1), a
//! mostly-zero left operand by its nonzeros (`sparse.rs`, a first layer's pixels) where
//! that measured faster on this machine than the dense product (`calibrate.rs`), else
//! nnc's packed product (`packed.rs`, AVX2 + FMA or AVX-512), or `matrixmultiply::sgemm`
//! in bands on CPUs with neither (`sgemm.rs`, the only `sgemm` call). Every path but the
//! last sums each element in the same order (`packed.rs` says which), so the choice
//! among them never changes a bit, on any CPU or thread count.

mod calibrate;
mod packed;
mod sgemm;
mod small;
mod sparse;

pub use packed::{Isa, detected_isa};
use packed::{Left, PackedLeft, chain_start, pack_left, packed, packed_with_left, tile_rows};
use sgemm::dense;
#[cfg(test)]
use sgemm::sgemm as one_sgemm;
use small::gemv_or_outer;
use sparse::{sparse_candidate, sparse_left};

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

    /// Rows `rows` of this matrix, as a view (the buffer from the first of them on).
    ///
    /// # Panics
    /// If `rows` is not within `0..self.rows()`.
    pub fn row_band(self, rows: std::ops::Range<usize>) -> Self {
        assert!(
            rows.start <= rows.end && rows.end <= self.rows,
            "MatRef::row_band: {rows:?} outside {} rows",
            self.rows
        );
        let offset = if rows.is_empty() {
            0
        } else {
            rows.start * self.row_stride as usize
        };
        MatRef {
            data: &self.data[offset..],
            rows: rows.len(),
            ..self
        }
    }

    /// Columns `cols` of this matrix, as a view.
    ///
    /// # Panics
    /// If `cols` is not within `0..self.cols()`.
    pub fn col_band(self, cols: std::ops::Range<usize>) -> Self {
        self.t().row_band(cols).t()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The element at row `i`, column `j`.
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.row_stride as usize + j * self.col_stride as usize]
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
    if b.col_stride == 1 && sparse_candidate(a) {
        if detected_isa().is_none() {
            // `matrixmultiply` sums in another order than the zero-skipping path, so the
            // choice must not rest on timings here: zero-skipping, as it always was.
            if sparse_left(alpha, a, b, beta, c) {
                return;
            }
        } else if sparse_or_dense(alpha, a, b, beta, c) {
            return;
        }
    }
    if packed(alpha, a, b, beta, c) {
        return;
    }
    dense(alpha, a, b, beta, c);
}

/// A mostly-zero product on the zero-skipping path or the packed dense one, whichever
/// [`calibrate`] measured faster for its shape on this machine (the same bits either
/// way). `false` when neither took it: the zero-skipping path declined a denser operand
/// than its sample showed, leaving `c` untouched.
fn sparse_or_dense(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) -> bool {
    let key = calibrate::Key {
        m: a.rows,
        k: a.cols,
        n: b.cols,
        a_transposed: a.col_stride != 1,
        threads: crate::kernels::workers::worker_threads(),
    };
    let run = |path, c: &mut [f32]| match path {
        calibrate::Path::Sparse => sparse_left(alpha, a, b, beta, c),
        calibrate::Path::Dense => packed(alpha, a, b, beta, c),
    };
    match calibrate::next(key) {
        calibrate::Next::Run(path) => run(path, c),
        calibrate::Next::Time(path) => {
            let start = std::time::Instant::now();
            let done = run(path, c);
            if done {
                calibrate::record(key, path, start.elapsed());
            }
            done
        }
    }
}

/// A left operand that many products share (a convolution's weights meet every sample's
/// patch matrix), packed once for nnc's kernels where they run ([`with_shared_left`]).
#[derive(Clone, Copy)]
pub struct SharedLeft<'a> {
    view: MatRef<'a>,
    packed: Option<(Isa, PackedLeft<'a>)>,
}

thread_local! {
    /// The packed shared operand of the calling thread: grows to the largest seen, then
    /// is reused (no allocation in a warmed-up step).
    static SHARED_LEFT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `work` with `a` packed once for all the products it does with [`gemm_shared`].
/// The results are the bits [`gemm`] gives: packing beforehand moves no arithmetic.
pub fn with_shared_left<R>(a: MatRef<'_>, work: impl FnOnce(&SharedLeft<'_>) -> R) -> R {
    let unpacked = SharedLeft {
        view: a,
        packed: None,
    };
    // One row or one step takes the batch-1 paths of `gemm`, not the packed kernel.
    let Some(isa) = detected_isa().filter(|_| a.rows > 1 && a.cols > 1) else {
        return work(&unpacked);
    };
    SHARED_LEFT.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            let packed = pack_left(a, tile_rows(isa), &mut buffer);
            work(&SharedLeft {
                view: a,
                packed: Some((isa, packed)),
            })
        }
        // Already lent out on this thread (a product inside another's work): unpacked.
        Err(_) => work(&unpacked),
    })
}

/// `c ← left·b + β·c`, as [`gemm`] computes it, with `left` packed beforehand.
///
/// # Panics
/// As [`gemm`].
pub fn gemm_shared(left: &SharedLeft<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    match left.packed {
        Some((isa, packed)) => packed_with_left(isa, Left::Packed(packed), b, beta, c),
        None => gemm(left.view, b, beta, c),
    }
}

/// Steps of `k` summed from zero before they are added to an output element, the same
/// in every product path and on every CPU (see `packed.rs`).
const SUM_BLOCK: usize = 256;

/// `c ← β·c + 0`, every element's chain start (see `packed.rs`), where `β = 0` clears `c`
/// even of NaN.
fn scale_output(beta: f32, c: &mut [f32]) {
    c.iter_mut().for_each(|x| *x = chain_start(beta, *x));
}

#[cfg(test)]
pub(super) mod testing {
    //! What the products' tests share: a reference in f64, seeded operands, views.

    use super::MatRef;
    use proptest::prelude::*;

    /// Plain triple loop in f64: the reference every product is checked against.
    pub fn reference(
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

    pub fn dims() -> impl Strategy<Value = usize> {
        prop_oneof![
            Just(0usize),
            Just(1),
            Just(1),
            Just(7),
            Just(8),
            Just(9),
            1usize..200
        ]
    }

    pub use crate::kernels::test_values::with_zeros;

    /// `a` (`[m, k]`) and `b` (`[k, n]`) viewed plainly or as transposes of their buffers.
    pub fn views<'a>(
        a: &'a [f32],
        b: &'a [f32],
        (m, k, n): (usize, usize, usize),
        ta: bool,
        tb: bool,
    ) -> (MatRef<'a>, MatRef<'a>) {
        let a = if ta {
            MatRef::new(a, k, m).t()
        } else {
            MatRef::new(a, m, k)
        };
        let b = if tb {
            MatRef::new(b, n, k).t()
        } else {
            MatRef::new(b, k, n)
        };
        (a, b)
    }

    pub fn same_bits(x: &[f32], y: &[f32]) -> bool {
        x.len() == y.len() && x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Sizes that straddle the kernels' tiles (8, 16), the band alignment (64) and
    /// sgemm's `KC = 256` blocks of `k`.
    pub fn band_dims() -> impl Strategy<Value = usize> {
        prop_oneof![
            Just(1usize),
            Just(63),
            Just(64),
            Just(65),
            Just(100),
            Just(129),
            1usize..400,
        ]
    }

    pub fn scalars() -> impl Strategy<Value = f32> {
        prop_oneof![Just(0.0f32), Just(1.0), Just(-0.1), Just(0.5), -2.0f32..2.0]
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn every_transpose_combination_matches_the_triple_loop(
            m in dims(), k in dims(), n in dims(), ta: bool, tb: bool, accumulate: bool, seed: u64, sparse: bool,
        ) {
            let mut state = seed | 1;
            let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state % 2000) as f32 / 1000.0 - 1.0 };
            // `sparse`: mostly zeros, as a batch of images, to take the sparse path.
            let a: Vec<f32> = (0..m * k).map(|_| next()).map(|v| if sparse && v < 0.7 { 0.0 } else { v }).collect();
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

    /// Through the public entry point, on whatever pool the test runs on: the packed
    /// kernels, the zero-skipping product and the batch-1 `axpy` products all give the
    /// bits of the scalar chain, for any thread count (on a CPU without a packed kernel,
    /// the portable path gives the bits of one `sgemm` call instead).
    #[test]
    fn every_path_gives_the_same_bits_for_any_thread_count() {
        for (m, k, n, zeros) in [
            (100, 300, 90, 0.0),
            (256, 784, 64, 0.0),
            (256, 784, 64, 0.8),
            (40, 300, 200, 0.0),
            (300, 100, 136, 0.0),
            (64, 784, 256, 0.85),
            (1, 300, 90, 0.5),
            (70, 1, 90, 0.0),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                if m == 1 && tb {
                    continue; // the batch-1 dot products: their own (fixed) order
                }
                let a = with_zeros(m * k, 7, zeros);
                let b = with_zeros(k * n, 8, 0.0);
                let c0 = with_zeros(m * n, 9, 0.0);
                let (a_view, b_view) = views(&a, &b, (m, k, n), ta, tb);
                let mut want = c0.clone();
                if detected_isa().is_some() {
                    packed::chain(-0.1, a_view, b_view, 1.0, &mut want);
                } else {
                    one_sgemm(-0.1, a_view, b_view, 1.0, &mut want);
                }
                for threads in [1, 2, 3] {
                    let mut public = c0.clone();
                    crate::kernels::on_worker_pool(Some(threads), || {
                        gemm_scaled(-0.1, a_view, b_view, 1.0, &mut public)
                    });
                    assert!(
                        same_bits(&want, &public),
                        "{m}x{k}x{n} zeros {zeros} ta {ta} tb {tb} threads {threads}"
                    );
                }
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
