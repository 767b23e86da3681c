//! Our own dense product, with the loop structure of BLIS (Van Zee & van de Geijn, "BLIS:
//! A Framework for Rapidly Instantiating BLAS Functionality", TOMS 2015, after Goto & van
//! de Geijn 2008): `b` packed `KC × NC` at a time into panels `NR` columns wide (one panel
//! stays in L1 while it meets every row panel of `a`), `a` packed `MC × KC` at a time into
//! panels `MR` rows tall (a block stays in L2), and an `MR × NR` micro-kernel that keeps
//! the whole output tile in registers: per step of `k`, `NR / LANES` vector loads of `b`,
//! `MR` broadcasts of `a` and `MR · NR / LANES` fused multiply-adds.
//!
//! **The order of operations is the same on every CPU.** Each output element is summed
//! along `k` in fixed blocks of [`SUM_BLOCK`] steps, each block one fused multiply-add
//! chain from zero, the blocks added in order:
//!
//! ```text
//! c = 0 when β = 0, else β·c + 0          (the + 0 turns −0 into +0, see below)
//! for each block of 256 steps of k, in order:
//!     acc = 0
//!     acc = fma(α·a[i, p], b[p, j], acc)   for each p of the block, in order
//!     c = c + acc
//! ```
//!
//! (Blocks, as BLAS libraries sum: one chain over the 9,216 inputs of a dense layer
//! after a convolution drifted from PyTorch's and JAX's losses in the fourth digit.)
//! Within a block an element lives in one lane of one accumulator from the first step to
//! the last, so the result depends on neither the vector width, nor the register tile,
//! nor the row and column blocks, nor where a thread's part of the output starts: the
//! AVX-512 and AVX2 kernels give the same bits, and both the bits of [`chain`], the
//! scalar loop they are tested against. The zero-skipping product (`sparse.rs`) and the
//! batch-1 `axpy` products (`small.rs`) run the same blocks over the nonzero terms only,
//! which gives the same bits for finite operands: a chain from +0 is never −0, nor is `c`,
//! and adding `±0` to a value that is not −0 leaves it unchanged. So which of them takes
//! a product changes its speed, never its result.
//!
//! The micro-kernel is written once, generic over the vector ([`Vector`]): `zmm` registers
//! for AVX-512 (a 12 × 32 tile: 24 accumulators of 32), `ymm` for AVX2 + FMA (6 × 16: 12
//! accumulators of 16, as BLIS's Haswell kernel). The AVX-512 tile's logic also runs on
//! AVX2, with each 16-lane vector as two `ymm` halves ([`YmmPair`]), so a machine without
//! AVX-512 tests it too.

use std::cell::RefCell;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use rayon::prelude::*;

use super::{MatRef, SUM_BLOCK};
use crate::kernels::workers::worker_threads;

/// The start of every output element's chain: `β·c + 0` (`0` when `β = 0`, whatever `c`
/// held, NaN included).
#[inline(always)]
pub(super) fn chain_start(beta: f32, c: f32) -> f32 {
    if beta == 0.0 {
        0.0
    } else {
        beta.mul_add(c, 0.0)
    }
}

/// The definition every product path follows, one element at a time in plain scalar
/// code: the reference the vector kernels are checked against, bit for bit.
#[cfg(test)]
pub(super) fn chain(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    for i in 0..m {
        for j in 0..n {
            let mut sum = chain_start(beta, c[i * n + j]);
            for block in (0..k).step_by(SUM_BLOCK) {
                let mut acc = 0.0f32;
                for p in block..(block + SUM_BLOCK).min(k) {
                    acc = (alpha * a.at(i, p)).mul_add(b.at(p, j), acc);
                }
                sum += acc;
            }
            c[i * n + j] = sum;
        }
    }
}

/// The instruction set [`packed`] runs on, chosen once from the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2Fma,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "AVX-512",
            Isa::Avx2Fma => "AVX2+FMA",
        }
    }
}

/// The best instruction set of this CPU that [`packed`] has a kernel for; `None` on
/// CPUs with neither (the portable path, `matrixmultiply`, takes their products).
///
/// `NNC_KERNELS=avx2` keeps an AVX-512 machine on the AVX2 kernel and
/// `NNC_KERNELS=matrixmultiply` sends every dense product to the portable path: both
/// are for measuring one kernel against another on the same machine (the AVX2 and AVX-512
/// kernels give the same bits; the portable path does not).
pub fn detected_isa() -> Option<Isa> {
    static ISA: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let wanted = std::env::var("NNC_KERNELS").unwrap_or_default();
        if wanted == "matrixmultiply" {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if wanted != "avx2" && std::arch::is_x86_feature_detected!("avx512f") {
                return Some(Isa::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Some(Isa::Avx2Fma);
            }
        }
        None
    })
}

/// Products at least this large (multiply-adds) are shared among the worker threads.
const PARALLEL_WORK: usize = 1 << 18;

/// `c ← α·a·b + β·c` (`c` row-major `[a.rows, b.cols]`) on this CPU's kernel, each element
/// by the chain the module describes. Returns `false`, leaving `c` alone, on a CPU with no
/// kernel here.
pub(super) fn packed(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) -> bool {
    let Some(isa) = detected_isa() else {
        return false;
    };
    packed_with_left(isa, Left::View(alpha, a), b, beta, c);
    true
}

/// [`packed`] on `isa` with either kind of left operand, on the worker threads when the
/// product is large.
pub(super) fn packed_with_left(isa: Isa, left: Left<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    let threads = if left.rows() * left.cols() * b.cols < PARALLEL_WORK {
        1
    } else {
        worker_threads()
    };
    packed_on(isa, left, b, beta, c, threads, Kernel::Native);
}

/// Which register tile runs: the instruction set's own, or (tests) the AVX-512 tile on
/// 16-lane vectors made of two AVX2 halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kernel {
    Native,
    #[cfg(test)]
    Avx512TileOnAvx2,
}

/// The left operand of a product: a view to pack as the product goes (scaled by `α`),
/// or one packed beforehand for many products ([`pack_left`]).
#[derive(Clone, Copy)]
pub(super) enum Left<'a> {
    View(f32, MatRef<'a>),
    Packed(PackedLeft<'a>),
}

/// A whole left operand `[m, k]` packed in the layout [`blocked`] reads: for each block of
/// [`SUM_BLOCK`] steps from `p`, at `p · m'` (`m'` = `m` rounded up to whole panels), its
/// panels of `mr` rows as [`pack_a`] writes them.
#[derive(Clone, Copy)]
pub(super) struct PackedLeft<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    mr: usize,
}

impl Left<'_> {
    fn rows(&self) -> usize {
        match self {
            Left::View(_, a) => a.rows,
            Left::Packed(p) => p.rows,
        }
    }

    fn cols(&self) -> usize {
        match self {
            Left::View(_, a) => a.cols,
            Left::Packed(p) => p.cols,
        }
    }
}

/// The rows of a panel of `isa`'s (first) tile: what [`pack_left`] packs for.
pub(super) fn tile_rows(isa: Isa) -> usize {
    match isa {
        Isa::Avx2Fma => 6,
        Isa::Avx512 => 12,
    }
}

/// Packs all of `a` (unscaled) into `buffer` for products on kernels with `mr`-row tiles.
pub(super) fn pack_left<'a>(a: MatRef<'_>, mr: usize, buffer: &'a mut Vec<f32>) -> PackedLeft<'a> {
    let (m, k) = (a.rows, a.cols);
    let m_pad = m.next_multiple_of(mr);
    let out = aligned(buffer, m_pad * k);
    for pc in (0..k).step_by(SUM_BLOCK) {
        let kc = SUM_BLOCK.min(k - pc);
        pack_a(
            1.0,
            a,
            0..m,
            pc..pc + kc,
            mr,
            &mut out[pc * m_pad..(pc + kc) * m_pad],
        );
    }
    PackedLeft {
        data: out,
        rows: m,
        cols: k,
        mr,
    }
}

/// [`packed`] on `isa`, its output cut into at most `parts` rectangles of whole tiles
/// along its longer side (along its columns only, for a packed left operand), one per
/// worker thread.
pub(super) fn packed_on(
    isa: Isa,
    left: Left<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: &mut [f32],
    parts: usize,
    kernel: Kernel,
) {
    assert_eq!(left.cols(), b.rows, "gemm: inner dimensions differ");
    assert_eq!(
        c.len(),
        left.rows() * b.cols,
        "gemm: output has the wrong size"
    );
    let (m, n) = (left.rows(), b.cols);
    if m == 0 || n == 0 {
        return;
    }
    // `gemm_scaled` answers an empty inner product itself; the kernels need a step.
    debug_assert!(
        left.cols() > 0,
        "gemm: an empty inner product reached the kernel"
    );
    let out = Output {
        c: c.as_mut_ptr(),
        row_stride: n,
    };
    let run = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
        let left = match left {
            Left::View(alpha, a) => Left::View(alpha, a.row_band(rows.clone())),
            packed => packed, // only ever cut along columns
        };
        let b = b.col_band(cols.clone());
        // SAFETY: the rectangle `rows × cols` lies inside `c` (`[m, n]`, exclusively
        // borrowed for this call), and the rectangles of different parts are disjoint.
        let c = unsafe { out.at(rows.start, cols.start) };
        // SAFETY: `dispatch` only runs kernels whose instructions `isa` says this CPU has.
        unsafe { dispatch(isa, kernel, left, b, beta, c) };
    };
    let parts = parts.max(1);
    // Cut along the longer side, in multiples of the larger tile of either kernel.
    let step = 32;
    if parts == 1 || m.max(n) <= step {
        run(0..m, 0..n);
        return;
    }
    let along_rows = m >= n && matches!(left, Left::View(..));
    let len = if along_rows { m } else { n };
    if len <= step {
        run(0..m, 0..n);
        return;
    }
    let part = len.div_ceil(parts).next_multiple_of(step);
    (0..len.div_ceil(part)).into_par_iter().for_each(|t| {
        let cut = t * part..((t + 1) * part).min(len);
        if along_rows {
            run(cut, 0..n);
        } else {
            run(0..m, cut);
        }
    });
}

/// A rectangle of the output: its first element and the distance between its rows.
#[derive(Clone, Copy)]
struct Output {
    c: *mut f32,
    row_stride: usize,
}

// SAFETY: the parts of one product write disjoint rectangles through it, and
// `packed_on` waits for all of them before the `&mut` it came from is used again.
unsafe impl Send for Output {}
// SAFETY: as above.
unsafe impl Sync for Output {}

impl Output {
    /// The rectangle starting at row `i`, column `j`.
    ///
    /// # Safety
    /// `(i, j)` must be inside the output.
    unsafe fn at(&self, i: usize, j: usize) -> Output {
        Output {
            // SAFETY: the caller keeps (i, j) inside the buffer.
            c: unsafe { self.c.add(i * self.row_stride + j) },
            row_stride: self.row_stride,
        }
    }
}

/// Runs the product of one rectangle on the kernel of `isa`.
///
/// # Safety
/// The CPU must have `isa`'s instructions; `c` must be valid for the whole
/// `[a.rows, b.cols]` rectangle with no other thread touching it.
unsafe fn dispatch(isa: Isa, kernel: Kernel, left: Left<'_>, b: MatRef<'_>, beta: f32, c: Output) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller checked the instructions and vouches for `c`.
    unsafe {
        match (isa, kernel) {
            (Isa::Avx512, Kernel::Native) => avx512(left, b, beta, c),
            (Isa::Avx2Fma, Kernel::Native) => avx2(left, b, beta, c),
            #[cfg(test)]
            (_, Kernel::Avx512TileOnAvx2) => avx512_tile_on_avx2(left, b, beta, c),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, kernel, left, b, beta, c);
        unreachable!("no packed kernel off x86-64: detected_isa is None there");
    }
}

/// The cache blocks of one instruction set's kernel: they change the speed, never a bit.
/// The steps of `k` per block are [`SUM_BLOCK`], the definition's blocks: an `NR`-wide
/// panel of `b`, `256 × NR` floats (16 or 32 KiB), stays in L1.
struct Blocks {
    /// Rows of `a` packed at a time (a multiple of the tile's rows): `MC × KC` in L2.
    mc: usize,
    /// Columns of `b` packed at a time: `KC × NC` in L3.
    nc: usize,
}

/// AVX2: BLIS's Haswell/Zen blocking for its 6 × 16 single-precision kernel, but for
/// `NC`: a 1 MiB block of `b` measured faster than BLIS's 4 MiB (which assumes a large
/// L3) at 64 × 288 × 4608, `cargo bench --bench kernels -- sgemm_one_core` on a Zen 3.
const AVX2_BLOCKS: Blocks = Blocks { mc: 144, nc: 1024 };

/// AVX-512: a 12 × 32 tile; `256 × 32` floats (32 KiB) in a 48 KiB L1, `MC × KC` (192 KiB)
/// well inside a 1–2 MiB L2.
const AVX512_BLOCKS: Blocks = Blocks { mc: 192, nc: 1024 };

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(left: Left<'_>, b: MatRef<'_>, beta: f32, c: Output) {
    // SAFETY: the caller checked AVX2 and FMA and vouches for `c`.
    unsafe { blocked::<Ymm, 6, 2>(&AVX2_BLOCKS, left, b, beta, c) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512(left: Left<'_>, b: MatRef<'_>, beta: f32, c: Output) {
    // SAFETY: the caller checked AVX-512F and vouches for `c`.
    unsafe { blocked::<Zmm, 12, 2>(&AVX512_BLOCKS, left, b, beta, c) }
}

#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx512_tile_on_avx2(left: Left<'_>, b: MatRef<'_>, beta: f32, c: Output) {
    // SAFETY: the caller checked AVX2 and FMA and vouches for `c`.
    unsafe { blocked::<YmmPair, 12, 2>(&AVX512_BLOCKS, left, b, beta, c) }
}

thread_local! {
    /// Each thread's packing buffers (panels of `a`, of `b`): they grow to the largest
    /// blocks seen and are then reused, so a warmed-up step allocates nothing.
    static PACKS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Makes `buffer` hold at least `len` floats from a 64-byte boundary, and returns that
/// part (whole cache lines for the kernel's loads).
fn aligned(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len + 16 {
        buffer.resize(len + 16, 0.0);
    }
    let skip = buffer.as_ptr().align_offset(64).min(16);
    &mut buffer[skip..skip + len]
}

/// The five loops around the micro-kernel (BLIS's order: columns of `NC`, steps of
/// `KC`, rows of `MC`, then the `NR` and `MR` panels) for one rectangle, on one thread.
///
/// # Safety
/// The CPU must have `V`'s instructions; `c` as in [`dispatch`].
#[inline(always)]
unsafe fn blocked<V: Vector, const MR: usize, const NV: usize>(
    blocks: &Blocks,
    left: Left<'_>,
    b: MatRef<'_>,
    beta: f32,
    c: Output,
) {
    let nr = NV * V::LANES;
    let (m, k, n) = (left.rows(), left.cols(), b.cols);
    if let Left::Packed(packed) = left {
        assert_eq!(
            packed.mr, MR,
            "gemm: a left operand packed for another tile"
        );
    }
    let mc = blocks.mc / MR * MR;
    let kc_max = SUM_BLOCK;
    let nc_max = blocks.nc / nr * nr;
    let direct = reads_b_in_place(b, nr);
    PACKS.with_borrow_mut(|(a_buffer, b_buffer)| {
        for jc in (0..n).step_by(nc_max) {
            let nc = nc_max.min(n - jc);
            let panels_b = nc.div_ceil(nr);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                let start = if pc == 0 {
                    Start::Beta(beta)
                } else {
                    Start::Load
                };
                // In place, only a last panel cut short by the edge is packed (padded).
                let packed_b = if direct {
                    let whole = nc / nr * nr;
                    let packed = aligned(b_buffer, (nc - whole).div_ceil(nr) * nr * kc);
                    pack_b(b, pc..pc + kc, jc + whole..jc + nc, nr, packed);
                    &*packed
                } else {
                    let packed = aligned(b_buffer, panels_b * nr * kc);
                    pack_b(b, pc..pc + kc, jc..jc + nc, nr, packed);
                    &*packed
                };
                for ic in (0..m).step_by(mc) {
                    let rows = mc.min(m - ic);
                    let panels_len = rows.div_ceil(MR) * MR * kc;
                    let packed_a: &[f32] = match left {
                        Left::View(alpha, a) => {
                            let packed_a = aligned(a_buffer, panels_len);
                            pack_a(alpha, a, ic..ic + rows, pc..pc + kc, MR, packed_a);
                            packed_a
                        }
                        Left::Packed(packed) => {
                            let at = pc * m.next_multiple_of(MR) + ic * kc;
                            &packed.data[at..at + panels_len]
                        }
                    };
                    for jp in 0..panels_b {
                        let j = jc + jp * nr;
                        let cols = nr.min(n - j);
                        let (b_panel, b_stride) = if !direct {
                            (packed_b[jp * nr * kc..].as_ptr(), nr)
                        } else if cols == nr {
                            let at = pc * b.row_stride as usize + j;
                            (b.data[at..].as_ptr(), b.row_stride as usize)
                        } else {
                            (packed_b.as_ptr(), nr)
                        };
                        for (ip, a_panel) in packed_a.chunks_exact(MR * kc).enumerate() {
                            let i = ic + ip * MR;
                            // SAFETY: (i, j) is inside the rectangle; the tile's
                            // `min(MR, m − i)` rows and `cols` columns are too.
                            let tile = unsafe { c.at(i, j) };
                            let tile_rows = MR.min(m - i);
                            // SAFETY: the A panel holds `kc` steps of `MR` floats; the B
                            // panel `kc` steps of `NR` at `b_stride` (packed, or `b`'s
                            // own rows: steps pc.. and columns j..j + NR, all inside
                            // `b`); the caller checked `V`'s instructions.
                            unsafe {
                                tile_product::<V, MR, NV>(
                                    kc, a_panel, b_panel, b_stride, tile, tile_rows, cols, start,
                                )
                            };
                        }
                    }
                }
            }
        }
    });
}

/// Whether the micro-kernel reads `b`'s panels where they are, without packing them:
/// when its rows are contiguous and the whole of it stays in L2 (a convolution's patch
/// matrix for one sample, which im2col has just written), unless its rows sit a multiple
/// of 1 KiB apart, which would map a panel's rows onto a few of L1's sets.
fn reads_b_in_place(b: MatRef<'_>, nr: usize) -> bool {
    const IN_PLACE_MAX_FLOATS: usize = 1 << 16;
    b.col_stride == 1
        && b.rows * b.cols <= IN_PLACE_MAX_FLOATS
        && b.cols >= nr
        && b.row_stride % 256 != 0
}

/// How a tile's block sums meet `c`: the first block of `k` is added to `β·c + 0`, each
/// later one to what the blocks before it left in `c`.
#[derive(Clone, Copy)]
enum Start {
    Beta(f32),
    Load,
}

/// Packs rows `rows` and steps `steps` of `α·a` into panels of `mr` rows: step `p` of
/// panel `t` holds `α·a[rows.start + t·mr + r, p]` at `(t·kc + p)·mr + r`, zeros past the
/// last row.
fn pack_a(
    alpha: f32,
    a: MatRef<'_>,
    rows: std::ops::Range<usize>,
    steps: std::ops::Range<usize>,
    mr: usize,
    out: &mut [f32],
) {
    let kc = steps.len();
    let (rs, cs) = (a.row_stride as usize, a.col_stride as usize);
    for (t, panel) in out.chunks_exact_mut(mr * kc).enumerate() {
        let first = rows.start + t * mr;
        let live = mr.min(rows.end - first);
        if rs == 1 {
            // `a` is a transpose: the panel's rows are contiguous at every step.
            for (q, dst) in panel.chunks_exact_mut(mr).enumerate() {
                let at = (steps.start + q) * cs + first;
                for (d, &v) in dst.iter_mut().zip(&a.data[at..at + live]) {
                    *d = alpha * v;
                }
                dst[live..].fill(0.0);
            }
            continue;
        }
        for r in 0..mr {
            if r >= live {
                panel.chunks_exact_mut(mr).for_each(|dst| dst[r] = 0.0);
                continue;
            }
            let i = first + r;
            if cs == 1 {
                let row = &a.data[i * rs + steps.start..i * rs + steps.end];
                for (dst, &v) in panel.chunks_exact_mut(mr).zip(row) {
                    dst[r] = alpha * v;
                }
            } else {
                for (q, dst) in panel.chunks_exact_mut(mr).enumerate() {
                    dst[r] = alpha * a.at(i, steps.start + q);
                }
            }
        }
    }
}

/// Packs steps `steps` and columns `cols` of `b` into panels of `nr` columns: step `p`
/// of panel `t` holds `b[p, cols.start + t·nr ..][..nr]` at `(t·kc + p)·nr`, zeros past
/// the last column.
fn pack_b(
    b: MatRef<'_>,
    steps: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    nr: usize,
    out: &mut [f32],
) {
    let kc = steps.len();
    let (rs, cs) = (b.row_stride as usize, b.col_stride as usize);
    for (t, panel) in out.chunks_exact_mut(nr * kc).enumerate() {
        let first = cols.start + t * nr;
        let live = nr.min(cols.end - first);
        if cs == 1 {
            for (q, dst) in panel.chunks_exact_mut(nr).enumerate() {
                let at = (steps.start + q) * rs + first;
                dst[..live].copy_from_slice(&b.data[at..at + live]);
                dst[live..].fill(0.0);
            }
            continue;
        }
        // `b` is a transpose (`x·Wᵀ`, a weight gradient's `patchesᵀ`): each column is
        // contiguous along `k`. Blocks of 8 columns × 8 steps are transposed in registers,
        // the rest copied one by one.
        let mut done = 0;
        if rs == 1 && live == nr {
            done = kc / 8 * 8;
            for g in 0..nr / 8 {
                let col = |jj: usize| (first + g * 8 + jj) * cs + steps.start;
                for q in (0..done).step_by(8) {
                    let block: [wide::f32x8; 8] = std::array::from_fn(|jj| {
                        let at = col(jj) + q;
                        wide::f32x8::new(*b.data[at..at + 8].first_chunk().expect("8 steps"))
                    });
                    for (r, row) in wide::f32x8::transpose(block).iter().enumerate() {
                        let at = (q + r) * nr + g * 8;
                        *panel[at..at + 8].first_chunk_mut().expect("8 columns") = row.to_array();
                    }
                }
            }
        }
        for j in 0..nr {
            if j >= live {
                panel.chunks_exact_mut(nr).for_each(|dst| dst[j] = 0.0);
                continue;
            }
            let col = first + j;
            if rs == 1 {
                let column = &b.data[col * cs + steps.start + done..col * cs + steps.end];
                for (dst, &v) in panel.chunks_exact_mut(nr).skip(done).zip(column) {
                    dst[j] = v;
                }
            } else {
                for (q, dst) in panel.chunks_exact_mut(nr).enumerate() {
                    dst[j] = b.at(steps.start + q, col);
                }
            }
        }
    }
}

/// One `MR × NV·LANES` tile of `c` over `kc` steps. A tile cut by the edge of the output
/// (`rows < MR` or `cols < NR`) runs in a full-size buffer and is copied out: the
/// arithmetic of every element is the same either way.
///
/// # Safety
/// `a` holds `kc` steps of `MR` floats, `b` `kc` steps of `NR` floats `b_stride` apart;
/// `c` is valid for `rows × cols` elements at its row stride; the CPU has `V`'s
/// instructions.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // two panels, a tile and how it starts
unsafe fn tile_product<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: &[f32],
    b: *const f32,
    b_stride: usize,
    c: Output,
    rows: usize,
    cols: usize,
    start: Start,
) {
    let nr = NV * V::LANES;
    debug_assert!(a.len() >= kc * MR);
    let a = a.as_ptr();
    if rows == MR && cols == nr {
        // SAFETY: the caller's guarantees, for a whole tile.
        unsafe { micro_kernel::<V, MR, NV>(kc, a, b, b_stride, c.c, c.row_stride, start) };
        return;
    }
    // Room for the largest tile (12 × 32).
    let mut buffer = [0.0f32; 12 * 32];
    debug_assert!(MR * nr <= buffer.len());
    for r in 0..rows {
        for j in 0..cols {
            // SAFETY: inside the caller's `rows × cols`.
            buffer[r * nr + j] = unsafe { *c.c.add(r * c.row_stride + j) };
        }
    }
    // SAFETY: the buffer is a whole tile at row stride `nr`.
    unsafe { micro_kernel::<V, MR, NV>(kc, a, b, b_stride, buffer.as_mut_ptr(), nr, start) };
    for r in 0..rows {
        for j in 0..cols {
            // SAFETY: as above.
            unsafe { *c.c.add(r * c.row_stride + j) = buffer[r * nr + j] };
        }
    }
}

/// The register tile: `MR × NV` accumulators of `V`, `kc` steps of one broadcast of `a`
/// per row and one load of `b` per vector.
///
/// # Safety
/// As [`tile_product`], for a whole tile.
#[inline(always)]
unsafe fn micro_kernel<V: Vector, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    b_stride: usize,
    c: *mut f32,
    row_stride: usize,
    start: Start,
) {
    let lanes = V::LANES;
    // SAFETY: every pointer offset stays inside the panels (`kc` steps of
    // MR and NV·lanes floats) or the tile (MR rows of NV·lanes at `row_stride`), which
    // the caller vouches for; the CPU has V's instructions.
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        for p in 0..kc {
            let b_step = b.add(p * b_stride);
            let bs: [V; NV] = std::array::from_fn(|v| V::load(b_step.add(v * lanes)));
            let a_step = a.add(p * MR);
            for (r, row) in acc.iter_mut().enumerate() {
                let ar = V::splat(*a_step.add(r));
                for (x, &bv) in row.iter_mut().zip(&bs) {
                    *x = V::fma(ar, bv, *x);
                }
            }
        }
        let zero = V::zero();
        for (r, row) in acc.iter().enumerate() {
            for (v, &x) in row.iter().enumerate() {
                let at = c.add(r * row_stride + v * lanes);
                let before = match start {
                    Start::Beta(0.0) => zero,
                    Start::Beta(beta) => V::fma(V::splat(beta), V::load(at), zero),
                    Start::Load => V::load(at),
                };
                V::add(before, x).store(at);
            }
        }
    }
}

/// One SIMD register of `f32` lanes, as the micro-kernel uses it. Every operation is
/// lane by lane and exactly rounded (`fma` is one rounding), so the lane count cannot
/// change a result.
///
/// # Safety
/// The methods use the type's instructions: call them only where the CPU has them.
trait Vector: Copy {
    const LANES: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(value: f32) -> Self;
    /// Loads `LANES` floats from `from` (any alignment).
    unsafe fn load(from: *const f32) -> Self;
    unsafe fn store(self, to: *mut f32);
    /// `a·b + c`, rounded once.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
}

/// Eight lanes in a `ymm` register (AVX2 + FMA).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Ymm(__m256);

#[cfg(target_arch = "x86_64")]
impl Vector for Ymm {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with AVX.
        Ymm(unsafe { _mm256_setzero_ps() })
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        // SAFETY: as above.
        Ymm(unsafe { _mm256_set1_ps(value) })
    }
    #[inline(always)]
    unsafe fn load(from: *const f32) -> Self {
        // SAFETY: the caller vouches for eight readable floats.
        Ymm(unsafe { _mm256_loadu_ps(from) })
    }
    #[inline(always)]
    unsafe fn store(self, to: *mut f32) {
        // SAFETY: the caller vouches for eight writable floats.
        unsafe { _mm256_storeu_ps(to, self.0) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller runs on a CPU with FMA.
        Ymm(unsafe { _mm256_fmadd_ps(a.0, b.0, c.0) })
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: the caller runs on a CPU with AVX.
        Ymm(unsafe { _mm256_add_ps(a.0, b.0) })
    }
}

/// Sixteen lanes in a `zmm` register (AVX-512F).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Zmm(__m512);

#[cfg(target_arch = "x86_64")]
impl Vector for Zmm {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with AVX-512F.
        Zmm(unsafe { _mm512_setzero_ps() })
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        // SAFETY: as above.
        Zmm(unsafe { _mm512_set1_ps(value) })
    }
    #[inline(always)]
    unsafe fn load(from: *const f32) -> Self {
        // SAFETY: the caller vouches for sixteen readable floats.
        Zmm(unsafe { _mm512_loadu_ps(from) })
    }
    #[inline(always)]
    unsafe fn store(self, to: *mut f32) {
        // SAFETY: the caller vouches for sixteen writable floats.
        unsafe { _mm512_storeu_ps(to, self.0) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the caller runs on a CPU with AVX-512F.
        Zmm(unsafe { _mm512_fmadd_ps(a.0, b.0, c.0) })
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: the caller runs on a CPU with AVX-512F.
        Zmm(unsafe { _mm512_add_ps(a.0, b.0) })
    }
}

/// Sixteen lanes as two `ymm` halves: the AVX-512 tile's logic on an AVX2 machine.
#[cfg(all(test, target_arch = "x86_64"))]
#[derive(Clone, Copy)]
struct YmmPair(Ymm, Ymm);

#[cfg(all(test, target_arch = "x86_64"))]
impl Vector for YmmPair {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the caller runs on a CPU with AVX2 + FMA (as for every method here).
        unsafe { YmmPair(Ymm::zero(), Ymm::zero()) }
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        // SAFETY: as above.
        unsafe { YmmPair(Ymm::splat(value), Ymm::splat(value)) }
    }
    #[inline(always)]
    unsafe fn load(from: *const f32) -> Self {
        // SAFETY: the caller vouches for sixteen readable floats.
        unsafe { YmmPair(Ymm::load(from), Ymm::load(from.add(8))) }
    }
    #[inline(always)]
    unsafe fn store(self, to: *mut f32) {
        // SAFETY: the caller vouches for sixteen writable floats.
        unsafe {
            self.0.store(to);
            self.1.store(to.add(8));
        }
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: as above.
        unsafe { YmmPair(Ymm::fma(a.0, b.0, c.0), Ymm::fma(a.1, b.1, c.1)) }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: as above.
        unsafe { YmmPair(Ymm::add(a.0, b.0), Ymm::add(a.1, b.1)) }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use proptest::prelude::*;

    fn chained(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c0: &[f32]) -> Vec<f32> {
        let mut c = c0.to_vec();
        chain(alpha, a, b, beta, &mut c);
        c
    }

    /// Every kernel this CPU can run: its own tile and, where it has AVX2, the AVX-512
    /// tile on two halves.
    fn kernels() -> Vec<(Isa, Kernel)> {
        let mut all = Vec::new();
        if let Some(isa) = detected_isa() {
            all.push((isa, Kernel::Native));
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            if detected_isa() != Some(Isa::Avx2Fma) {
                all.push((Isa::Avx2Fma, Kernel::Native));
            }
            all.push((Isa::Avx2Fma, Kernel::Avx512TileOnAvx2));
        }
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// The definition holds bit for bit: every kernel, tile, transpose and thread
        /// split gives the scalar chain's bits (and so each other's).
        #[test]
        fn every_kernel_gives_the_bits_of_the_scalar_chain(
            m in band_dims(), k in band_dims(), n in band_dims(), ta: bool, tb: bool,
            alpha in scalars(), beta in scalars(), parts in 1usize..=3, seed: u64,
        ) {
            let a = with_zeros(m * k, seed, 0.3);
            let b = with_zeros(k * n, seed ^ 0x9e37, 0.0);
            let c0 = with_zeros(m * n, seed ^ 0x51ed, 0.0);
            let (a_view, b_view) = views(&a, &b, (m, k, n), ta, tb);
            let want = chained(alpha, a_view, b_view, beta, &c0);
            for (isa, kernel) in kernels() {
                let mut got = c0.clone();
                packed_on(isa, Left::View(alpha, a_view), b_view, beta, &mut got, parts, kernel);
                prop_assert!(same_bits(&got, &want), "{m}x{k}x{n} ta {ta} tb {tb} {isa:?} {kernel:?} parts {parts}");
                // The left operand packed beforehand, as a convolution's weights are.
                let mr = if kernel == Kernel::Native { tile_rows(isa) } else { 12 };
                let scaled: Vec<f32> = (0..m * k).map(|x| alpha * a_view.at(x / k, x % k)).collect();
                let mut buffer = Vec::new();
                let left = pack_left(MatRef::new(&scaled, m, k), mr, &mut buffer);
                let mut got = c0.clone();
                packed_on(isa, Left::Packed(left), b_view, beta, &mut got, parts, kernel);
                prop_assert!(same_bits(&got, &want), "{m}x{k}x{n} ta {ta} tb {tb} {isa:?} {kernel:?} parts {parts}");
            }
        }
    }

    /// The blocks of `k` meet (k = 700 crosses two of them) and `c` starts from
    /// garbage when β = 0, NaN included.
    #[test]
    fn long_products_and_a_garbage_output() {
        let (m, k, n) = (37, 700, 45);
        let a = with_zeros(m * k, 3, 0.0);
        let b = with_zeros(k * n, 4, 0.0);
        let c0 = vec![f32::NAN; m * n];
        let (a_view, b_view) = views(&a, &b, (m, k, n), false, false);
        let want = chained(1.0, a_view, b_view, 0.0, &c0);
        assert!(want.iter().all(|v| v.is_finite()));
        for (isa, kernel) in kernels() {
            let mut got = c0.clone();
            packed_on(
                isa,
                Left::View(1.0, a_view),
                b_view,
                0.0,
                &mut got,
                2,
                kernel,
            );
            assert!(same_bits(&got, &want), "{isa:?} {kernel:?}");
        }
    }

    /// A start of −0 would turn into +0 through a term `0·b` but stay −0 where the
    /// zero-skipping path leaves the term out: the start is normalised to +0.
    #[test]
    fn a_negative_zero_start_becomes_positive() {
        assert_eq!(chain_start(1.0, -0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(chain_start(-1.0, 0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(chain_start(0.0, f32::NAN).to_bits(), 0.0f32.to_bits());
        assert_eq!(chain_start(0.5, 3.0), 1.5);
    }
}
