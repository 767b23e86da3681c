//! Dense products through `matrixmultiply::sgemm`, cut into bands of output rows or
//! columns on the worker pool; where a band may start so that the bits stay those of one
//! call is [`BAND_ALIGN`]'s argument.

use rayon::prelude::*;

use super::MatRef;
use crate::kernels::workers::worker_threads;

/// Products at least this large (multiply-adds) are split across the worker threads.
const DENSE_PARALLEL_WORK: usize = 1 << 19;

/// Where a product may be cut into bands without changing a bit of it: band boundaries
/// (in output rows, or columns) are multiples of this.
///
/// Why this is exact. `matrixmultiply::sgemm` (0.3.11, pinned in `Cargo.toml` for this
/// reason) sums every output element over `k` in the same `KC = 256` blocks, in order, with
/// one multiply-add per term, whatever part of the output it is given; packing only copies.
/// The one thing that depends on where an element sits is its tile: the output is tiled
/// from the first row and column of the call in `MR × NR` micro-tiles (inside `MC = 64`
/// row blocks and `NC = 1024` column blocks), and a tile cut short by the edge of the
/// call goes through a masked path that rounds `α·AB` before adding `β·C`, where a full
/// tile does one fused `α·AB + β·C`. So an element gets the bits of one call exactly when
/// its tile in the band is the tile it has in the whole product and is cut short by the
/// same edge. Both hold when every band starts on a tile boundary of the whole product
/// (a multiple of `MR` for rows, `NR` for columns): then the band's tiles are the
/// product's tiles, and a band's last tile ends at the next band's start (a full tile, as
/// in the whole product) or at the product's own edge (masked in both). The kernels pick
/// `MR`, `NR` ∈ {4, 8, 16} at run time (8 × 8 with AVX2 + FMA, 16 × 16 with AVX-512), all
/// dividing 64, so a multiple of 64 is a tile boundary on every CPU. (Cuts at multiples
/// of 8 were exact on AVX2 machines and wrong on AVX-512 ones, where the tile is 16.)
const BAND_ALIGN: usize = 64;

/// `c ← α·a·b + β·c` through `matrixmultiply::sgemm`. A large product is cut into bands,
/// one single-threaded sgemm per band on the worker pool (see [`dense_in_bands`]).
pub(super) fn dense(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    let threads = if a.rows * a.cols * b.cols < DENSE_PARALLEL_WORK {
        1
    } else {
        worker_threads()
    };
    dense_in_bands(alpha, a, b, beta, c, threads);
}

/// [`dense`] cut into at most `bands` bands (fewer when the product is too small to cut
/// at [`BAND_ALIGN`]): bands of output rows when `a` is the larger operand, else bands of
/// output columns (each band packs the whole of the other operand, so that one should be
/// the smaller). The bits are those of one call, whatever `bands` is.
fn dense_in_bands(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut [f32],
    bands: usize,
) {
    let (m, n) = (a.rows, b.cols);
    let can_cut = |len: usize| bands > 1 && len > BAND_ALIGN;
    let by_rows = if m >= n {
        can_cut(m)
    } else {
        !can_cut(n) && can_cut(m)
    };
    if by_rows {
        let band = band_length(m, bands);
        c.par_chunks_mut(band * n)
            .enumerate()
            .for_each(|(t, c_band)| {
                let rows = t * band..t * band + c_band.len() / n;
                sgemm(alpha, a.row_band(rows), b, beta, c_band);
            });
        return;
    }
    if !can_cut(n) {
        sgemm(alpha, a, b, beta, c);
        return;
    }
    let band = band_length(n, bands);
    let out = OutputPtr(c.as_mut_ptr());
    (0..n.div_ceil(band)).into_par_iter().for_each(|t| {
        let cols = t * band..((t + 1) * band).min(n);
        let start = cols.start;
        // SAFETY: `c` is `[m, n]` row-major and exclusively borrowed for this call; band
        // `t` writes only the elements of columns `cols` (row stride n from column
        // `start`), which no other band touches, and all of them lie inside `c`.
        unsafe { sgemm_into(alpha, a, b.col_band(cols), beta, out.at(start), n) };
    });
}

/// The length of each band (the last may be shorter) when `len` rows or columns are cut
/// into at most `bands` bands whose boundaries are multiples of [`BAND_ALIGN`].
fn band_length(len: usize, bands: usize) -> usize {
    len.div_ceil(bands.max(1)).next_multiple_of(BAND_ALIGN)
}

/// The output of a product split into column bands, shared by the bands' threads.
struct OutputPtr(*mut f32);

// SAFETY: the bands write disjoint elements through it (see `dense`), and the call waits
// for every band before the `&mut` it came from is used again.
unsafe impl Send for OutputPtr {}
// SAFETY: as above.
unsafe impl Sync for OutputPtr {}

impl OutputPtr {
    /// The element `offset` past the start (a method, so closures capture the whole
    /// wrapper rather than its raw pointer).
    fn at(&self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// One call of `matrixmultiply::sgemm` for all of `c` (row-major `[a.rows, b.cols]`).
pub(super) fn sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    assert_eq!(c.len(), a.rows * b.cols, "sgemm: output has the wrong size");
    // SAFETY: `c` is an exclusive slice of exactly a.rows*b.cols elements, row-major
    // with row stride b.cols.
    unsafe { sgemm_into(alpha, a, b, beta, c.as_mut_ptr(), b.cols) };
}

/// `matrixmultiply::sgemm` into the `[a.rows, b.cols]` matrix at `c` whose rows are
/// `c_row_stride` apart.
///
/// # Safety
/// Every `c + i·c_row_stride + j` for `i < a.rows`, `j < b.cols` must be valid for reads
/// and writes, and no other thread may access those elements during the call.
unsafe fn sgemm_into(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: *mut f32,
    c_row_stride: usize,
) {
    let c_row_stride = isize::try_from(c_row_stride).expect("gemm: cols fits in isize");
    // SAFETY: `MatRef::new` checked that each buffer holds rows*cols elements, `t()` only
    // swaps strides and `row_band`/`col_band` only drop leading rows or columns (keeping
    // the buffer's tail), so every element sgemm reads, `i*row_stride + j*col_stride` for
    // i < rows, j < cols, is in bounds. The caller vouches for the output, which being
    // written through an exclusive borrow cannot overlap `a` or `b`.
    #[rustfmt::skip]
    let () = unsafe {
        matrixmultiply::sgemm(
            a.rows, a.cols, b.cols,
            alpha,
            a.data.as_ptr(), a.row_stride, a.col_stride,
            b.data.as_ptr(), b.row_stride, b.col_stride,
            beta,
            c, c_row_stride, 1,
        );
    };
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// The bands of [`dense`] must not change a bit: every thread count gives the
        /// same weights, on every CPU's kernels (see [`BAND_ALIGN`]).
        #[test]
        fn dense_bands_give_the_bits_of_one_call(
            m in band_dims(), k in band_dims(), n in band_dims(), ta: bool, tb: bool,
            alpha in scalars(), beta in scalars(), bands in 1usize..=4, seed: u64,
        ) {
            let a = with_zeros(m * k, seed, 0.0);
            let b = with_zeros(k * n, seed ^ 0x9e37, 0.0);
            let c0 = with_zeros(m * n, seed ^ 0x51ed, 0.0);
            let (a_view, b_view) = views(&a, &b, (m, k, n), ta, tb);
            let mut one = c0.clone();
            sgemm(alpha, a_view, b_view, beta, &mut one);
            let mut banded = c0.clone();
            dense_in_bands(alpha, a_view, b_view, beta, &mut banded, bands);
            prop_assert!(same_bits(&one, &banded), "{m}x{k}x{n} ta {ta} tb {tb}: {bands} bands differ from one call");
            // The transposed product cuts the other dimension.
            let (mut one_t, mut banded_t) = (c0.clone(), c0.clone());
            sgemm(alpha, b_view.t(), a_view.t(), beta, &mut one_t);
            dense_in_bands(alpha, b_view.t(), a_view.t(), beta, &mut banded_t, bands);
            prop_assert!(same_bits(&one_t, &banded_t), "{n}x{k}x{m} (transposed): {bands} bands differ from one call");
        }
    }

    /// Why [`BAND_ALIGN`] exists: a cut inside a kernel tile (every x86 kernel's tiles
    /// are at least 8 rows) sends rows through the masked edge path, which rounds
    /// `α·AB + β·C` differently. If this ever stops failing to match, the alignment rule
    /// is no longer what makes bands exact: read matrixmultiply's loop again.
    #[test]
    fn a_cut_inside_a_kernel_tile_changes_bits() {
        let (m, k, n) = (100, 300, 90);
        let a = with_zeros(m * k, 1, 0.0);
        let b = with_zeros(k * n, 2, 0.0);
        let c0 = with_zeros(m * n, 3, 0.0);
        let (a_view, b_view) = views(&a, &b, (m, k, n), false, false);
        let mut one = c0.clone();
        sgemm(-0.1, a_view, b_view, 1.0, &mut one);
        let mut cut = c0.clone();
        let (top, bottom) = cut.split_at_mut(52 * n);
        sgemm(-0.1, a_view.row_band(0..52), b_view, 1.0, top);
        sgemm(-0.1, a_view.row_band(52..m), b_view, 1.0, bottom);
        assert!(!same_bits(&one, &cut), "a cut at row 52 kept every bit");
    }
}
