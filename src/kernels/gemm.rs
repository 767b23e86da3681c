//! Matrix products through `matrixmultiply::sgemm`, transposes expressed as strides;
//! matrix–vector and outer products through `wide` kernels (see [`gemv_or_outer`]).

use rayon::prelude::*;
use wide::f32x8;

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
    if b.col_stride == 1 && sparse_left(alpha, a, b, beta, c) {
        return;
    }
    dense(alpha, a, b, beta, c);
}

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
fn dense(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
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
fn sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
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

/// At most this fraction of nonzeros in `a` lets [`sparse_left`] take a product: it does
/// one multiply-add per nonzero of `a` and column of `b`, at a few times sgemm's cost per
/// operation, so it wins well below a density of one half.
const SPARSE_DENSITY: f32 = 0.3;

/// Output columns kept in registers: eight 8-lane accumulators, enough independent
/// multiply-adds per nonzero to hide the FMA latency (one chain per accumulator).
const COLUMN_BLOCK: usize = 64;

/// The nonzeros of one band of rows of `α·a` (compressed sparse rows), in a buffer that
/// grows to the largest product seen and is then reused: no allocation per step.
#[derive(Default)]
struct SparseRows {
    /// `starts[i]..starts[i + 1]` index the band's row `i`'s entries.
    starts: Vec<usize>,
    /// The selected row `p` of `b` and the scaled value; only
    /// the first [`SparseRows::count`] are meaningful (the buffers only grow, so a step
    /// never clears or reallocates them).
    offsets: Vec<usize>,
    scales: Vec<f32>,
    /// Scratch of the column gather: the next free entry of each row, and the transposed
    /// operand's nonzeros row by row (column, value, where each row ends).
    cursor: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f32>,
    row_ends: Vec<usize>,
    /// One block of columns of `b`, copied row after row (see [`accumulate_rows`]).
    packed: Vec<f32>,
}

impl SparseRows {
    /// Entries gathered.
    fn count(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }
}

/// Makes `buffer` at least `n` long, keeping what it holds: the gather buffers only grow,
/// so a warmed-up step never clears or reallocates them.
fn grow_to<T: Clone + Default>(buffer: &mut Vec<T>, n: usize) {
    if buffer.len() < n {
        buffer.resize(n, T::default());
    }
}

thread_local! {
    /// One [`SparseRows`] per band, owned by the thread that calls the product (bands
    /// are lent to the pool's threads for the duration of one product).
    static SPARSE_BANDS: std::cell::RefCell<Vec<SparseRows>> = std::cell::RefCell::default();
}

/// `c ← α·a·b + β·c` for a mostly-zero `a`, `b`'s rows contiguous. The nonzeros of `a`
/// are gathered once; then, one block of 64 output columns at a time (so that block of
/// `b`, 64 columns by `k` rows, stays in cache for every row of `a`), each output row's
/// block is accumulated in registers over its row's nonzeros, reading only the rows of
/// `b` they select. Used for a first layer's input batch (forward) and its weight
/// gradient `xᵀ·dy`, where a pixel that is 0 in every sample skips a whole weight row.
///
/// Large products are split into bands of output rows, one per worker thread; each band
/// gathers and accumulates its own rows, in two parallel phases (all gathers finish before
/// any output is written, so a dense `a` still leaves `c` untouched). Each output element
/// is summed in the order of `p` by one thread, so the result does not depend on the
/// number of bands.
///
/// Returns `false`, leaving `c` untouched, when more than [`SPARSE_DENSITY`] of `a` is
/// nonzero (found while gathering, so a dense `a` costs one partial read of itself).
fn sparse_left(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) -> bool {
    let (rs, cs) = (a.row_stride as usize, a.col_stride as usize);
    if cs != 1 && rs != 1 {
        return false;
    }
    if sampled_density(a) > SPARSE_DENSITY {
        return false;
    }
    let limit = (SPARSE_DENSITY * (a.rows * a.cols) as f32) as usize;
    // The work estimate assumes the density limit; a sparser `a` has less to share.
    let threads = if limit * b.cols >= PARALLEL_WORK {
        worker_threads()
    } else {
        1
    };
    sparse_left_in_bands(alpha, a, b, beta, c, threads)
}

/// [`sparse_left`] cut into at most `bands` bands of output rows, which may start
/// anywhere: each output row is accumulated by one thread over its own nonzeros in the
/// order of `p`, and its columns take the same path (full 64-column blocks, then the
/// tail) in every band, so the bits do not depend on `bands`. The density decision is
/// the whole product's for the same reason.
fn sparse_left_in_bands(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut [f32],
    bands: usize,
) -> bool {
    let n = b.cols;
    let cs = a.col_stride as usize;
    let limit = (SPARSE_DENSITY * (a.rows * a.cols) as f32) as usize;
    let band = a.rows.div_ceil(bands.clamp(1, a.rows.max(1)));
    // Every band holds at least one row.
    let threads = a.rows.div_ceil(band.max(1)).max(1);
    SPARSE_BANDS.with_borrow_mut(|all| {
        if all.len() < threads {
            all.resize_with(threads, SparseRows::default);
        }
        let bands = &mut all[..threads];
        let gather = |t: usize, sparse: &mut SparseRows| -> bool {
            let rows = t * band..((t + 1) * band).min(a.rows);
            if cs == 1 {
                gather_rows(alpha, a, rows, limit, sparse)
            } else {
                gather_columns(alpha, a, rows, limit, sparse)
            }
        };
        let accumulate = |(sparse, rows): (&mut SparseRows, &mut [f32])| {
            scale_output(beta, rows);
            accumulate_rows(sparse, b, rows);
        };
        if threads == 1 {
            if !gather(0, &mut bands[0]) {
                return false;
            }
            accumulate((&mut bands[0], c));
            return true;
        }
        let gathered = bands
            .par_iter_mut()
            .enumerate()
            .all(|(t, sparse)| gather(t, sparse));
        // Each band checked itself against the whole limit; the decision must be the
        // whole product's, or the thread count would choose between two summation orders.
        if !gathered || bands.iter().map(SparseRows::count).sum::<usize>() > limit {
            return false;
        }
        bands
            .par_iter_mut()
            .zip(c.par_chunks_mut(band * n))
            .for_each(accumulate);
        true
    })
}

/// Puts the nonzeros of `row` at entries `next..` through `put(entry, index, value)`,
/// in order, and returns the next free entry, or `None` once more than `limit` are found.
/// A group of eight zeros costs one comparison (most of an image is zero); in the other
/// groups every lane is put and the cursor only advances past nonzeros, so there is no
/// branch per value to mispredict. `put` therefore sees entries up to `limit + 15`, which
/// are overwritten or ignored when they held a zero.
#[inline]
fn compact_nonzeros(
    row: &[f32],
    mut next: usize,
    limit: usize,
    mut put: impl FnMut(usize, usize, f32),
) -> Option<usize> {
    let (groups, tail) = row.as_chunks::<8>();
    for (g, group) in groups.iter().enumerate() {
        if f32x8::new(*group).simd_eq(f32x8::ZERO).all() {
            continue;
        }
        if next > limit {
            return None;
        }
        for (lane, &v) in group.iter().enumerate() {
            put(next, g * 8 + lane, v);
            next += usize::from(v != 0.0);
        }
    }
    let base = groups.len() * 8;
    for (t, &v) in tail.iter().enumerate() {
        if v != 0.0 {
            put(next, base + t, v);
            next += 1;
        }
    }
    (next <= limit).then_some(next)
}

/// Fraction of nonzeros in the first few contiguous lines of `a` (rows, or columns when
/// `a` is a transpose): a dense operand is sent to sgemm after reading a few hundred
/// values instead of being gathered whole by every band. Depends only on `a`, never on the
/// thread count, so it cannot change which summation order a product uses.
fn sampled_density(a: MatRef<'_>) -> f32 {
    const LINES: usize = 16;
    let (lines, length, stride) = if a.col_stride == 1 {
        (a.rows, a.cols, a.row_stride as usize)
    } else {
        (a.cols, a.rows, a.col_stride as usize)
    };
    let lines = lines.min(LINES);
    if lines * length == 0 {
        return 0.0;
    }
    let nonzero: usize = (0..lines)
        .map(|l| {
            let line = &a.data[l * stride..l * stride + length];
            let (groups, tail) = line.as_chunks::<8>();
            let grouped: u32 = groups
                .iter()
                .map(|g| (!f32x8::new(*g).simd_eq(f32x8::ZERO).to_bitmask() & 0xff).count_ones())
                .sum();
            grouped as usize + tail.iter().filter(|&&v| v != 0.0).count()
        })
        .sum();
    nonzero as f32 / (lines * length) as f32
}

/// Room [`compact_nonzeros`] needs for at most `limit` entries out of `total` values.
fn compact_room(limit: usize, total: usize) -> usize {
    (limit + 16).min(total + 8)
}

/// Gathers the nonzeros of `a`'s rows `rows`, `a`'s rows contiguous (`col_stride == 1`).
/// `false` once more than `limit` are found.
fn gather_rows(
    alpha: f32,
    a: MatRef<'_>,
    rows: std::ops::Range<usize>,
    limit: usize,
    sparse: &mut SparseRows,
) -> bool {
    let rs = a.row_stride as usize;
    let room = compact_room(limit, rows.len() * a.cols);
    let SparseRows {
        starts,
        offsets,
        scales,
        ..
    } = sparse;
    grow_to(offsets, room);
    grow_to(scales, room);
    starts.clear();
    let mut next = 0;
    for i in rows {
        starts.push(next);
        let row = &a.data[i * rs..i * rs + a.cols];
        match compact_nonzeros(row, next, limit, |e, p, v| {
            offsets[e] = p;
            scales[e] = alpha * v;
        }) {
            Some(n) => next = n,
            None => return false,
        }
    }
    starts.push(next);
    true
}

/// Gathers the nonzeros of rows `rows` of `a = tᵀ`, where `t` (`a`'s transpose) has
/// contiguous rows (`a.row_stride == 1`): `t`'s nonzeros in those columns are compacted
/// row by row, then counted per column and placed (a counting sort), so the rows of `a`
/// (columns of `t`) come out in order and each keeps its entries in the order of `t`'s
/// rows. This is the weight gradient `xᵀ·dy` of a first layer. `false` once more than
/// `limit` are found.
fn gather_columns(
    alpha: f32,
    a: MatRef<'_>,
    rows: std::ops::Range<usize>,
    limit: usize,
    sparse: &mut SparseRows,
) -> bool {
    let t_stride = a.col_stride as usize; // t's row stride
    let t_rows = a.cols;
    let (first, width) = (rows.start, rows.len());
    let room = compact_room(limit, t_rows * width);
    let SparseRows {
        starts,
        offsets,
        scales,
        cursor,
        columns,
        values,
        row_ends,
        ..
    } = sparse;
    grow_to(columns, room);
    grow_to(values, room);
    row_ends.clear();
    let mut total = 0;
    for r in 0..t_rows {
        let row = &a.data[r * t_stride + first..r * t_stride + first + width];
        match compact_nonzeros(row, total, limit, |e, col, v| {
            columns[e] = col as u32; // col < width ≤ a.rows, which indexes memory
            values[e] = v;
        }) {
            Some(n) => total = n,
            None => return false,
        }
        row_ends.push(total);
    }
    starts.clear();
    starts.resize(width + 1, 0);
    for &col in &columns[..total] {
        starts[col as usize + 1] += 1;
    }
    for i in 0..width {
        starts[i + 1] += starts[i];
    }
    grow_to(offsets, total);
    grow_to(scales, total);
    cursor.clear();
    cursor.extend_from_slice(&starts[..width]);
    let mut entry = 0;
    for (r, &end) in row_ends.iter().enumerate() {
        for (&col, &v) in columns[entry..end].iter().zip(&values[entry..end]) {
            let at = &mut cursor[col as usize];
            offsets[*at] = r;
            scales[*at] = alpha * v;
            *at += 1;
        }
        entry = end;
    }
    true
}

/// Multiply-adds in one product (at the density limit) below which [`sparse_left`] stays
/// on one thread: handing a band to the pool costs a few microseconds.
const PARALLEL_WORK: usize = 1 << 18;

/// Bands a large product is cut into: the threads of the pool it runs on (`--threads`,
/// see [`super::on_worker_pool`]), else of rayon's global pool (all cores).
fn worker_threads() -> usize {
    rayon::current_num_threads().clamp(1, 64)
}

/// The block loops of [`sparse_left`] for one band: `c` holds the band's output rows
/// (whole rows of `b.cols`), `sparse` their nonzeros.
///
/// When the band reads `b` heavily, each 64-column block of `b` is first copied into one
/// contiguous buffer: in place, the block's rows sit a whole row of `b` apart (1 KiB for
/// 256 columns), a power of two that maps them onto a quarter of the cache's sets, so a
/// block that would fit in L2 keeps evicting itself; packed, it stays there.
fn accumulate_rows(sparse: &mut SparseRows, b: MatRef<'_>, c: &mut [f32]) {
    let (k, n, brs) = (b.rows, b.cols, b.row_stride as usize);
    let pack =
        brs != COLUMN_BLOCK && k * brs >= PACK_MIN_FLOATS && sparse.count() >= PACK_READS * k;
    let SparseRows {
        starts,
        offsets: b_rows,
        scales,
        packed,
        ..
    } = sparse;
    if pack {
        grow_to(packed, k * COLUMN_BLOCK);
    }
    let full_blocks = n / COLUMN_BLOCK * COLUMN_BLOCK;
    for start in (0..full_blocks).step_by(COLUMN_BLOCK) {
        let (src, stride, at) = if pack {
            for (p, dst) in packed.chunks_exact_mut(COLUMN_BLOCK).take(k).enumerate() {
                dst.copy_from_slice(&b.data[p * brs + start..p * brs + start + COLUMN_BLOCK]);
            }
            (&packed[..k * COLUMN_BLOCK], COLUMN_BLOCK, 0)
        } else {
            (b.data, brs, start)
        };
        for (r, c_row) in c.chunks_exact_mut(n).enumerate() {
            let entries = starts[r]..starts[r + 1];
            if entries.is_empty() {
                continue; // a pixel that is 0 in every sample leaves its weights alone
            }
            let block: &mut [f32; COLUMN_BLOCK] = (&mut c_row[start..start + COLUMN_BLOCK])
                .try_into()
                .expect("a full block");
            accumulate_block(
                &b_rows[entries.clone()],
                &scales[entries],
                src,
                stride,
                at,
                block,
            );
        }
    }
    if full_blocks < n {
        for (r, c_row) in c.chunks_exact_mut(n).enumerate() {
            let entries = starts[r]..starts[r + 1];
            for (&p, &scale) in b_rows[entries.clone()].iter().zip(&scales[entries]) {
                simd::axpy(
                    scale,
                    &b.data[p * brs + full_blocks..p * brs + n],
                    &mut c_row[full_blocks..],
                );
            }
        }
    }
}

/// A band packs `b`'s blocks when it has at least this many nonzeros per row of `b`: the
/// copy reads each row once, the products read each selected row once per nonzero.
const PACK_READS: usize = 8;

/// Smaller `b`s (64 KiB) stay in cache as they are: packing them only costs the copy.
const PACK_MIN_FLOATS: usize = 1 << 14;

/// `block += Σ_t scales[t]·b[rows[t]·stride + at ..][..64]`, in eight 8-lane registers.
#[inline]
fn accumulate_block(
    rows: &[usize],
    scales: &[f32],
    b: &[f32],
    stride: usize,
    at: usize,
    block: &mut [f32; COLUMN_BLOCK],
) {
    let (lanes, _) = block.as_chunks::<8>();
    let mut acc: [f32x8; COLUMN_BLOCK / 8] = std::array::from_fn(|j| f32x8::new(lanes[j]));
    for (&p, &scale) in rows.iter().zip(scales) {
        let s = f32x8::splat(scale);
        let from = p * stride + at;
        let (src, _) = b[from..from + COLUMN_BLOCK].as_chunks::<8>();
        for (acc, src) in acc.iter_mut().zip(src) {
            *acc = f32x8::new(*src).mul_add(s, *acc);
        }
    }
    let (out, _) = block.as_chunks_mut::<8>();
    for (out, acc) in out.iter_mut().zip(acc) {
        *out = acc.to_array();
    }
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
            1usize..200
        ]
    }

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

    /// Both gathers of the zero-skipping path (a plain and a transposed left operand), on
    /// one thread and in bands, scaled and accumulating as the fused SGD update uses them.
    #[test]
    fn sparse_paths_match_reference() {
        for (m, k, n) in [(5, 30, 70), (64, 784, 256), (300, 784, 136)] {
            for ta in [false, true] {
                let a: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                    .map(|v| if v < 0.85 { 0.0 } else { v - 0.9 })
                    .collect();
                let b: Vec<f32> = (0..k * n)
                    .map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5)
                    .collect();
                let c0: Vec<f32> = (0..m * n).map(|i| (i % 13) as f32 - 6.0).collect();
                let a_view = if ta {
                    MatRef::new(&a, k, m).t()
                } else {
                    MatRef::new(&a, m, k)
                };
                assert!(sampled_density(a_view) <= SPARSE_DENSITY);
                let mut c = c0.clone();
                gemm_scaled(-0.5, a_view, MatRef::new(&b, k, n), 1.0, &mut c);
                let expected = reference(&a, &b, m, k, n, ta, false);
                for ((got, want), c0) in c.iter().zip(&expected).zip(&c0) {
                    let want = -0.5 * want + *c0 as f64;
                    assert!(
                        (*got as f64 - want).abs() < 1e-3,
                        "{m}x{k}x{n} ta {ta}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_dense_sample_sends_a_product_to_sgemm() {
        let mut a = vec![0.0f32; 64 * 16];
        a[..16 * 16].fill(1.0); // the first rows dense, the rest zero
        let a = MatRef::new(&a, 64, 16);
        assert!(sampled_density(a) > SPARSE_DENSITY);
        let b = vec![1.0f32; 16 * 8];
        let mut c = vec![f32::NAN; 64 * 8];
        assert!(!sparse_left(1.0, a, MatRef::new(&b, 16, 8), 0.0, &mut c));
        assert!(
            c.iter().all(|v| v.is_nan()),
            "a declined product wrote its output"
        );
    }

    /// Values in [-1, 1) from a seed (xorshift), `zeros` of them replaced by 0.
    fn filled(len: usize, seed: u64, zeros: f32) -> Vec<f32> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let v = (state % 20_000) as f32 / 10_000.0 - 1.0;
                if (v + 1.0) / 2.0 < zeros { 0.0 } else { v }
            })
            .collect()
    }

    /// `a` (`[m, k]`) and `b` (`[k, n]`) viewed plainly or as transposes of their buffers.
    fn views<'a>(
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

    fn same_bits(x: &[f32], y: &[f32]) -> bool {
        x.len() == y.len() && x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Sizes that straddle the kernels' tiles (8, 16), the band alignment (64) and
    /// sgemm's `KC = 256` blocks of `k`.
    fn band_dims() -> impl Strategy<Value = usize> {
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

    fn scalars() -> impl Strategy<Value = f32> {
        prop_oneof![Just(0.0f32), Just(1.0), Just(-0.1), Just(0.5), -2.0f32..2.0]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// The bands of [`dense`] must not change a bit: every thread count gives the
        /// same weights, on every CPU's kernels (see [`BAND_ALIGN`]).
        #[test]
        fn dense_bands_give_the_bits_of_one_call(
            m in band_dims(), k in band_dims(), n in band_dims(), ta: bool, tb: bool,
            alpha in scalars(), beta in scalars(), bands in 1usize..=4, seed: u64,
        ) {
            let a = filled(m * k, seed, 0.0);
            let b = filled(k * n, seed ^ 0x9e37, 0.0);
            let c0 = filled(m * n, seed ^ 0x51ed, 0.0);
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

        /// The zero-skipping path's bands may start anywhere; the bits are those of one
        /// band, for a plain and a transposed left operand (forward, weight gradient).
        #[test]
        fn sparse_bands_give_the_bits_of_one_band(
            m in band_dims(), k in band_dims(), n in band_dims(), ta: bool,
            alpha in scalars(), beta in scalars(), bands in 2usize..=4, seed: u64,
        ) {
            let a = filled(m * k, seed, 0.85);
            let b = filled(k * n, seed ^ 0x9e37, 0.0);
            let c0 = filled(m * n, seed ^ 0x51ed, 0.0);
            let (a_view, b_view) = views(&a, &b, (m, k, n), ta, false);
            let mut one = c0.clone();
            let took = sparse_left_in_bands(alpha, a_view, b_view, beta, &mut one, 1);
            let mut banded = c0.clone();
            let took_banded = sparse_left_in_bands(alpha, a_view, b_view, beta, &mut banded, bands);
            prop_assert_eq!(took, took_banded, "the density decision depends on the bands");
            prop_assert!(same_bits(&one, &banded), "{m}x{k}x{n} ta {ta}: {bands} bands differ from one");
        }
    }

    /// Why [`BAND_ALIGN`] exists: a cut inside a kernel tile (every x86 kernel's tiles
    /// are at least 8 rows) sends rows through the masked edge path, which rounds
    /// `α·AB + β·C` differently. If this ever stops failing to match, the alignment rule
    /// is no longer what makes bands exact: read matrixmultiply's loop again.
    #[test]
    fn a_cut_inside_a_kernel_tile_changes_bits() {
        let (m, k, n) = (100, 300, 90);
        let a = filled(m * k, 1, 0.0);
        let b = filled(k * n, 2, 0.0);
        let c0 = filled(m * n, 3, 0.0);
        let (a_view, b_view) = views(&a, &b, (m, k, n), false, false);
        let mut one = c0.clone();
        sgemm(-0.1, a_view, b_view, 1.0, &mut one);
        let mut cut = c0.clone();
        let (top, bottom) = cut.split_at_mut(52 * n);
        sgemm(-0.1, a_view.row_band(0..52), b_view, 1.0, top);
        sgemm(-0.1, a_view.row_band(52..m), b_view, 1.0, bottom);
        assert!(!same_bits(&one, &cut), "a cut at row 52 kept every bit");
    }

    /// Through the public entry point, on whatever pool the test runs on.
    #[test]
    fn public_products_match_one_call() {
        for (m, k, n) in [
            (100, 300, 90),
            (256, 784, 64),
            (40, 300, 200),
            (300, 100, 136),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = filled(m * k, 7, 0.0);
                let b = filled(k * n, 8, 0.0);
                let c0 = filled(m * n, 9, 0.0);
                let (a_view, b_view) = views(&a, &b, (m, k, n), ta, tb);
                let mut one = c0.clone();
                sgemm(-0.1, a_view, b_view, 1.0, &mut one);
                for threads in [1, 2, 3] {
                    let mut public = c0.clone();
                    crate::kernels::on_worker_pool(Some(threads), || {
                        gemm_scaled(-0.1, a_view, b_view, 1.0, &mut public)
                    });
                    assert!(
                        same_bits(&one, &public),
                        "{m}x{k}x{n} ta {ta} tb {tb} threads {threads}"
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
