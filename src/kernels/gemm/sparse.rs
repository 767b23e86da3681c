//! Products whose left operand is mostly zeros (a batch of images, its transpose in a
//! first layer's weight gradient): gathered by nonzeros, accumulated in registers one
//! block of output columns at a time (64 or 128), in bands of output rows on the worker
//! pool.
//!
//! Its length (484 lines of code, 144 of tests) is the kernel with the tests that pin
//! its bits, which reach its private helpers: kept in one file on purpose.

use rayon::prelude::*;
use wide::{f32x8, f32x16};

use super::{MatRef, SUM_BLOCK, scale_output};
use crate::kernels::simd;
use crate::kernels::workers::worker_threads;

/// At most this fraction of nonzeros in `a` lets [`sparse_left`] take a product: it does
/// one multiply-add per nonzero of `a` and column of `b`, at a few times sgemm's cost per
/// operation, so it wins well below a density of one half.
const SPARSE_DENSITY: f32 = 0.3;

/// The accumulator of [`accumulate_block`]: one register of the widest vectors the build
/// targets. Eight of them, the output columns of one block, are enough independent
/// multiply-adds per nonzero to hide the FMA latency (one chain each) and leave registers
/// for the broadcast scale: 64 columns in `ymm` registers on AVX2, 128 in `zmm` on
/// AVX-512. An output element's sum runs over the same nonzeros in the same order
/// whatever the block width, so the width changes speed, never a bit (tested).
#[cfg(target_feature = "avx512f")]
type Accumulator = f32x16;
#[cfg(not(target_feature = "avx512f"))]
type Accumulator = f32x8;

/// A vector register [`accumulate_block`] can sum into.
trait Register: Copy {
    const LANES: usize;
    fn load(from: &[f32]) -> Self;
    fn splat(value: f32) -> Self;
    /// `self·s + acc`, fused.
    fn mul_add(self, s: Self, acc: Self) -> Self;
    fn add(self, other: Self) -> Self;
    fn store(self, to: &mut [f32]);
}

macro_rules! register {
    ($vector:ty, $n:literal) => {
        impl Register for $vector {
            const LANES: usize = $n;
            #[inline(always)]
            fn load(from: &[f32]) -> Self {
                <$vector>::new(*from.first_chunk::<$n>().expect("a whole vector"))
            }
            #[inline(always)]
            fn splat(value: f32) -> Self {
                <$vector>::splat(value)
            }
            #[inline(always)]
            fn mul_add(self, s: Self, acc: Self) -> Self {
                <$vector>::mul_add(self, s, acc)
            }
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self + other
            }
            #[inline(always)]
            fn store(self, to: &mut [f32]) {
                *to.first_chunk_mut::<$n>().expect("a whole vector") = self.to_array();
            }
        }
    };
}
register!(f32x8, 8);
register!(f32x16, 16);

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
/// are gathered once; then, one block of output columns at a time (so that block of
/// `b`, 64 or 128 columns by `k` rows, stays in cache for every row of `a`), each output
/// row's block is accumulated in registers over its row's nonzeros, reading only the rows of
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
pub(super) fn sparse_left(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut [f32],
) -> bool {
    if !sparse_candidate(a) {
        return false;
    }
    let limit = (SPARSE_DENSITY * (a.rows * a.cols) as f32) as usize;
    // The work estimate assumes the density limit; a sparser `a` has less to share.
    let threads = if limit * b.cols >= PARALLEL_WORK {
        worker_threads()
    } else {
        1
    };
    sparse_left_in_bands::<Accumulator>(alpha, a, b, beta, c, threads)
}

/// Whether [`sparse_left`] may take a product with this left operand: a layout it reads
/// and few enough nonzeros in a sample of it.
pub(super) fn sparse_candidate(a: MatRef<'_>) -> bool {
    (a.col_stride == 1 || a.row_stride == 1) && sampled_density(a) <= SPARSE_DENSITY
}

/// [`sparse_left`] cut into at most `bands` bands of output rows, which may start
/// anywhere: each output row is accumulated by one thread over its own nonzeros in the
/// order of `p`, and its columns take the same path (full blocks, then the tail) in
/// every band, so the bits do not depend on `bands`. The density decision is
/// the whole product's for the same reason.
fn sparse_left_in_bands<V: Register>(
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
            accumulate_rows::<V>(sparse, b, rows);
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
/// The row is read 64 values at a time into a bitmask of its nonzeros (eight vector
/// compares), whose set bits are then visited in order: a run of 64 zeros (most of an
/// image) costs the compares, and the loop over a mask mispredicts once at its end rather
/// than once per value. The limit is checked per 64 values, so `put` sees entries up to
/// `limit + 63`.
#[inline]
fn compact_nonzeros(
    row: &[f32],
    mut next: usize,
    limit: usize,
    mut put: impl FnMut(usize, usize, f32),
) -> Option<usize> {
    let mut put_mask = |mut mask: u64, base: usize, values: &[f32], next: &mut usize| {
        while mask != 0 {
            let lane = mask.trailing_zeros() as usize;
            put(*next, base + lane, values[lane]);
            *next += 1;
            mask &= mask - 1;
        }
    };
    let (chunks, tail) = row.as_chunks::<64>();
    for (c, chunk) in chunks.iter().enumerate() {
        let (groups, _) = chunk.as_chunks::<8>();
        let mask = groups.iter().enumerate().fold(0u64, |mask, (g, group)| {
            let nonzero = !f32x8::new(*group).simd_eq(f32x8::ZERO).to_bitmask() & 0xff;
            mask | (u64::from(nonzero) << (8 * g))
        });
        if mask == 0 {
            continue;
        }
        if next > limit {
            return None;
        }
        put_mask(mask, c * 64, chunk, &mut next);
    }
    let mask =
        (tail.iter().enumerate()).fold(0u64, |mask, (t, &v)| mask | (u64::from(v != 0.0) << t));
    if mask != 0 && next > limit {
        return None;
    }
    put_mask(mask, chunks.len() * 64, tail, &mut next);
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
    (limit + 64).min(total)
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

/// The block loops of [`sparse_left`] for one band: `c` holds the band's output rows
/// (whole rows of `b.cols`), `sparse` their nonzeros.
///
/// When the band reads `b` heavily, each block of `b` is first copied into one
/// contiguous buffer: in place, the block's rows sit a whole row of `b` apart (1 KiB for
/// 256 columns), a power of two that maps them onto a quarter of the cache's sets, so a
/// block that would fit in L2 keeps evicting itself; packed, it stays there.
fn accumulate_rows<V: Register>(sparse: &mut SparseRows, b: MatRef<'_>, c: &mut [f32]) {
    let block_width = 8 * V::LANES;
    let (k, n, brs) = (b.rows, b.cols, b.row_stride as usize);
    let pack = brs != block_width && k * brs >= PACK_MIN_FLOATS && sparse.count() >= PACK_READS * k;
    let SparseRows {
        starts,
        offsets: b_rows,
        scales,
        packed,
        ..
    } = sparse;
    if pack {
        grow_to(packed, k * block_width);
    }
    let full_blocks = n / block_width * block_width;
    for start in (0..full_blocks).step_by(block_width) {
        let (src, stride, at) = if pack {
            for (p, dst) in packed.chunks_exact_mut(block_width).take(k).enumerate() {
                dst.copy_from_slice(&b.data[p * brs + start..p * brs + start + block_width]);
            }
            (&packed[..k * block_width], block_width, 0)
        } else {
            (b.data, brs, start)
        };
        for (r, c_row) in c.chunks_exact_mut(n).enumerate() {
            let entries = starts[r]..starts[r + 1];
            if entries.is_empty() {
                continue; // a pixel that is 0 in every sample leaves its weights alone
            }
            accumulate_block::<V>(
                &b_rows[entries.clone()],
                &scales[entries],
                src,
                stride,
                at,
                &mut c_row[start..start + block_width],
            );
        }
    }
    if full_blocks < n {
        // The last columns (fewer than a block): the same sums, a block's terms in `acc`.
        let mut acc = [0.0f32; 8 * 16];
        let acc = &mut acc[..n - full_blocks];
        for (r, c_row) in c.chunks_exact_mut(n).enumerate() {
            let (rows, scales) = (&b_rows[starts[r]..starts[r + 1]], &scales[starts[r]..]);
            for run in sum_block_runs(rows) {
                acc.fill(0.0);
                for (&p, &scale) in rows[run.clone()].iter().zip(&scales[run]) {
                    simd::axpy(scale, &b.data[p * brs + full_blocks..p * brs + n], acc);
                }
                simd::add_assign(acc, &mut c_row[full_blocks..]);
            }
        }
    }
}

/// A band packs `b`'s blocks when it has at least this many nonzeros per row of `b`: the
/// copy reads each row once, the products read each selected row once per nonzero.
const PACK_READS: usize = 8;

/// Smaller `b`s (64 KiB) stay in cache as they are: packing them only costs the copy.
const PACK_MIN_FLOATS: usize = 1 << 14;

/// `block += Σ_t scales[t]·b[rows[t]·stride + at ..][..8·V::LANES]`, in eight registers,
/// by the blocks of [`SUM_BLOCK`] steps every product path sums in: each block's terms
/// from zero, the block then added to `block`.
#[inline]
fn accumulate_block<V: Register>(
    rows: &[usize],
    scales: &[f32],
    b: &[f32],
    stride: usize,
    at: usize,
    block: &mut [f32],
) {
    let lanes = V::LANES;
    for run in sum_block_runs(rows) {
        let mut acc = [V::splat(0.0); 8];
        for (&p, &scale) in rows[run.clone()].iter().zip(&scales[run]) {
            let s = V::splat(scale);
            let from = p * stride + at;
            let src = &b[from..from + 8 * lanes];
            for (j, acc) in acc.iter_mut().enumerate() {
                *acc = V::load(&src[j * lanes..]).mul_add(s, *acc);
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            let sum = V::load(&block[j * lanes..]).add(*acc);
            sum.store(&mut block[j * lanes..]);
        }
    }
}

/// The runs of a row's entries (their rows `p` of `b`, in order) that fall in one block
/// of [`SUM_BLOCK`] steps: the sums every product path adds to the output one at a time.
fn sum_block_runs(rows: &[usize]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    rows.chunk_by(|p, q| p / SUM_BLOCK == q / SUM_BLOCK)
        .map(move |run| {
            start += run.len();
            start - run.len()..start
        })
}

#[cfg(test)]
mod tests {
    use super::super::gemm_scaled;
    use super::super::testing::*;
    use super::*;
    use proptest::prelude::*;

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

    /// A product that looks sparse in its first lines but is dense further on is found
    /// out while gathering, in a plain and a transposed left operand, on one band and on
    /// several, and leaves `c` untouched (the gather writes stay inside their room).
    #[test]
    fn dense_rows_after_sparse_ones_stop_the_gather_at_the_limit() {
        let (m, k, n) = (200, 130, 70);
        for ta in [false, true] {
            // In the order the gather reads (rows of `a`, or rows of its transpose): the
            // first 16 lines all zero but one value, every later line dense.
            let lines = if ta { k } else { m };
            let length = if ta { m } else { k };
            let stored: Vec<f32> = (0..lines * length)
                .map(|i| {
                    if i / length >= 16 || i % length == 3 {
                        1.5
                    } else {
                        0.0
                    }
                })
                .collect();
            let a = if ta {
                MatRef::new(&stored, k, m).t()
            } else {
                MatRef::new(&stored, m, k)
            };
            assert!(sampled_density(a) <= SPARSE_DENSITY);
            let b = vec![1.0f32; k * n];
            for bands in [1, 3] {
                let mut c = vec![f32::NAN; m * n];
                let took = sparse_left_in_bands::<Accumulator>(
                    1.0,
                    a,
                    MatRef::new(&b, k, n),
                    0.0,
                    &mut c,
                    bands,
                );
                assert!(!took, "ta {ta}, {bands} bands: a dense product was taken");
                assert!(
                    c.iter().all(|v| v.is_nan()),
                    "ta {ta}: a declined product wrote"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// The zero-skipping path's bands may start anywhere; the bits are those of one
        /// band, for a plain and a transposed left operand (forward, weight gradient).
        #[test]
        fn sparse_bands_give_the_bits_of_one_band(
            m in band_dims(), k in band_dims(), n in band_dims(), ta: bool,
            alpha in scalars(), beta in scalars(), bands in 2usize..=4, seed: u64,
        ) {
            let a = with_zeros(m * k, seed, 0.85);
            let b = with_zeros(k * n, seed ^ 0x9e37, 0.0);
            let c0 = with_zeros(m * n, seed ^ 0x51ed, 0.0);
            let (a_view, b_view) = views(&a, &b, (m, k, n), ta, false);
            let mut one = c0.clone();
            let took = sparse_left_in_bands::<Accumulator>(alpha, a_view, b_view, beta, &mut one, 1);
            let mut banded = c0.clone();
            let took_banded = sparse_left_in_bands::<Accumulator>(alpha, a_view, b_view, beta, &mut banded, bands);
            prop_assert_eq!(took, took_banded, "the density decision depends on the bands");
            prop_assert!(same_bits(&one, &banded), "{m}x{k}x{n} ta {ta}: {bands} bands differ from one");
        }

        /// 64-column blocks of 8-lane registers (AVX2) and 128-column blocks of 16-lane
        /// ones (AVX-512) give the same bits: the block width only groups the columns.
        #[test]
        fn block_width_does_not_change_the_bits(
            m in band_dims(), k in band_dims(), n in 1usize..300, ta: bool,
            alpha in scalars(), beta in scalars(), seed: u64,
        ) {
            let a = with_zeros(m * k, seed, 0.85);
            let b = with_zeros(k * n, seed ^ 0x9e37, 0.0);
            let c0 = with_zeros(m * n, seed ^ 0x51ed, 0.0);
            let (a_view, b_view) = views(&a, &b, (m, k, n), ta, false);
            let mut narrow = c0.clone();
            let took = sparse_left_in_bands::<f32x8>(alpha, a_view, b_view, beta, &mut narrow, 2);
            let mut wide = c0.clone();
            let took_wide = sparse_left_in_bands::<f32x16>(alpha, a_view, b_view, beta, &mut wide, 2);
            prop_assert_eq!(took, took_wide);
            prop_assert!(same_bits(&narrow, &wide), "{m}x{k}x{n} ta {ta}: 128-column blocks differ from 64");
        }
    }
}
