//! Pooling over the windows of an image batch: max (with the position of each maximum
//! saved for backward), average, and the global average of each channel.
//!
//! Images are `[batch, c, h, w]`, row-major. Windows are `size × size`, `stride` apart,
//! without padding, so every window lies inside the image. The `(sample, channel)` planes
//! are shared among the worker threads; each plane's outputs and gradients are computed by
//! one thread in a fixed order, so the bits do not depend on the thread count.
//!
//! Its length (320 lines of code, 246 of tests) is the kernel with the tests that pin
//! its bits, which reach its private helpers: kept in one file on purpose.

use rayon::prelude::*;

use wide::f32x8;

use super::reduce;

/// The sizes of one pooling layer: `[c, h, w] → [c, h', w']`, `h' = (h − size) / stride + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub size: usize,
    pub stride: usize,
    pub out_height: usize,
    pub out_width: usize,
}

impl PoolShape {
    /// `None` when a size or the stride is 0, or the window is larger than the image.
    pub fn new([channels, height, width]: [usize; 3], size: usize, stride: usize) -> Option<Self> {
        if [channels, height, width, size, stride].contains(&0) || size > height.min(width) {
            return None;
        }
        Some(PoolShape {
            channels,
            height,
            width,
            size,
            stride,
            out_height: (height - size) / stride + 1,
            out_width: (width - size) / stride + 1,
        })
    }

    /// One sample's input, `c·h·w`.
    pub fn in_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// One sample's output, `c·h'·w'` (also the length of one sample's argmax indices).
    pub fn out_len(&self) -> usize {
        self.channels * self.out_height * self.out_width
    }

    fn check(&self, batch: usize, x_len: usize, y_len: usize) {
        assert!(
            self.size > 0
                && self.stride > 0
                && (self.out_height - 1) * self.stride + self.size <= self.height
                && (self.out_width - 1) * self.stride + self.size <= self.width,
            "pool: windows outside the image ({self:?})"
        );
        assert_eq!(x_len, batch * self.in_len(), "pool: input size");
        assert_eq!(y_len, batch * self.out_len(), "pool: output size");
        assert!(
            self.height * self.width <= u32::MAX as usize,
            "pool: a plane too large for u32 indices"
        );
    }

    /// Planes, input and output, paired, for the worker threads.
    fn planes(&self) -> (usize, usize) {
        (self.height * self.width, self.out_height * self.out_width)
    }
}

/// Planes per task: enough work to be worth a hand-over to another thread.
const MIN_PLANES: usize = 8;

/// `y[b, c, oy, ox] = max_{ky, kx < size} x[b, c, oy·stride + ky, ox·stride + kx]`, and
/// `argmax` (same length as `y`) the position `iy·w + ix` of that maximum within its plane.
/// Ties go to the first maximum in row-major window order (PyTorch's choice); a NaN counts
/// as the maximum, so it propagates.
pub fn maxpool_forward(
    shape: &PoolShape,
    batch: usize,
    x: &[f32],
    y: &mut [f32],
    argmax: &mut [u32],
) {
    shape.check(batch, x.len(), y.len());
    assert_eq!(argmax.len(), y.len(), "maxpool: argmax size");
    let (plane, out_plane) = shape.planes();
    if y.is_empty() {
        return;
    }
    y.par_chunks_mut(out_plane)
        .zip(argmax.par_chunks_mut(out_plane))
        .zip(x.par_chunks(plane))
        .with_min_len(MIN_PLANES)
        .for_each(|((y, argmax), x)| max_plane(shape, x, y, argmax));
}

/// One plane, row by row. A register of eight consecutive cells of an input row holds the
/// same tap of `⌈8 / stride⌉` neighbouring windows (in lanes `0, stride, 2·stride, …`), so
/// each tap is one contiguous load, with no gather; the other lanes compare cells no
/// window needs, and are dropped. Where the last load would pass the plane's end (the
/// last windows of a plane), windows go one at a time. Both visit a window's cells in
/// row-major order and keep the first maximum.
fn max_plane(shape: &PoolShape, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    let (w, k, s, ow) = (shape.width, shape.size, shape.stride, shape.out_width);
    let per_register = 8usize.div_ceil(s);
    let rows = y.chunks_exact_mut(ow).zip(argmax.chunks_exact_mut(ow));
    for (oy, (y_row, arg_row)) in rows.enumerate() {
        let mut ox0 = 0;
        while ox0 < ow {
            let n = per_register.min(ow - ox0);
            let (y_part, arg_part) = (&mut y_row[ox0..ox0 + n], &mut arg_row[ox0..ox0 + n]);
            let last_load = (oy * s + k - 1) * w + ox0 * s + k - 1;
            if last_load + 8 <= x.len() {
                match s {
                    1 => max_register::<1>(shape, x, oy, ox0, y_part, arg_part),
                    2 => max_register::<2>(shape, x, oy, ox0, y_part, arg_part),
                    _ => max_register::<0>(shape, x, oy, ox0, y_part, arg_part),
                }
            } else {
                for (i, (y, arg)) in y_part.iter_mut().zip(arg_part).enumerate() {
                    let (best, at) = max_window(shape, x, oy, ox0 + i);
                    *y = best;
                    *arg = at as u32; // < h·w, checked against u32::MAX
                }
            }
            ox0 += n;
        }
    }
}

/// `true` where `v` takes the place of `best`: strictly greater (a later equal value
/// never moves the maximum), or the first NaN.
#[inline(always)]
fn takes_over(v: f32x8, best: f32x8) -> f32x8 {
    v.simd_gt(best) | (v.is_nan() & !best.is_nan())
}

/// Windows `ox0..ox0 + y.len()` of output row `oy` (at most `⌈8 / stride⌉`), in the lanes
/// `0, stride, …` of registers loaded from the input rows; `S` is the stride, or 0 for
/// one known only at run time. Taps are compared in row-major order, and the winning
/// tap's offset in the window is kept (as the bits of a lane: selects move bits, so no
/// conversion) and added to each window's corner at the end.
#[inline(always)]
fn max_register<const S: usize>(
    shape: &PoolShape,
    x: &[f32],
    oy: usize,
    ox0: usize,
    y: &mut [f32],
    arg: &mut [u32],
) {
    let (w, k) = (shape.width, shape.size);
    let s = if S == 0 { shape.stride } else { S };
    let corner = oy * s * w + ox0 * s;
    let tap = |offset: usize| -> f32x8 {
        let cells = x[corner + offset..]
            .first_chunk::<8>()
            .expect("maxpool: the caller checked the last load");
        f32x8::new(*cells)
    };
    let (mut best, mut winner) = (tap(0), f32x8::ZERO);
    for ky in 0..k {
        for kx in 0..k {
            let offset = ky * w + kx;
            if offset == 0 {
                continue;
            }
            let v = tap(offset);
            let take = takes_over(v, best);
            best = take.select(v, best);
            // < h·w, checked against u32::MAX.
            winner = take.select(f32x8::splat(f32::from_bits(offset as u32)), winner);
        }
    }
    let (best, winner) = (best.to_array(), winner.to_array());
    for (i, (y, arg)) in y.iter_mut().zip(arg).enumerate() {
        *y = best[i * s];
        // The window's corner plus the winning offset: < h·w, checked against u32::MAX.
        *arg = (corner + i * s) as u32 + winner[i * s].to_bits();
    }
}

/// One window, cell by cell: the maximum and its position in the plane.
fn max_window(shape: &PoolShape, x: &[f32], oy: usize, ox: usize) -> (f32, usize) {
    let (w, k, s) = (shape.width, shape.size, shape.stride);
    let corner = oy * s * w + ox * s;
    let (mut best, mut at) = (x[corner], corner);
    for ky in 0..k {
        let row = corner + ky * w;
        for (kx, &v) in x[row..row + k].iter().enumerate() {
            // Written as selects, not branches: which cell wins is data, not a
            // predictable pattern.
            let take = v > best || (v.is_nan() && !best.is_nan());
            best = if take { v } else { best };
            at = if take { row + kx } else { at };
        }
    }
    (best, at)
}

/// `grad_x[b, c, argmax[b, c, o]] += grad_y[b, c, o]`: each output's gradient goes to the
/// input cell that was its maximum. Overlapping windows (`stride < size`) may send several
/// to one cell; they are added in output order.
pub fn maxpool_backward(
    shape: &PoolShape,
    batch: usize,
    grad_y: &[f32],
    argmax: &[u32],
    grad_x: &mut [f32],
) {
    shape.check(batch, grad_x.len(), grad_y.len());
    assert_eq!(argmax.len(), grad_y.len(), "maxpool: argmax size");
    let (plane, out_plane) = shape.planes();
    if grad_y.is_empty() {
        return;
    }
    grad_x
        .par_chunks_mut(plane)
        .zip(grad_y.par_chunks(out_plane))
        .zip(argmax.par_chunks(out_plane))
        .with_min_len(MIN_PLANES)
        .for_each(|((grad_x, grad_y), argmax)| {
            for (&g, &at) in grad_y.iter().zip(argmax) {
                grad_x[at as usize] += g;
            }
        });
}

/// `y[b, c, oy, ox] = (Σ_{ky, kx < size} x[b, c, oy·stride + ky, ox·stride + kx]) / size²`,
/// summed in row-major window order.
pub fn avgpool_forward(shape: &PoolShape, batch: usize, x: &[f32], y: &mut [f32]) {
    shape.check(batch, x.len(), y.len());
    let (plane, out_plane) = shape.planes();
    if y.is_empty() {
        return;
    }
    let (w, k, s) = (shape.width, shape.size, shape.stride);
    let count = (k * k) as f32;
    y.par_chunks_mut(out_plane)
        .zip(x.par_chunks(plane))
        .with_min_len(MIN_PLANES)
        .for_each(|(y, x)| {
            for (oy, y_row) in y.chunks_exact_mut(shape.out_width).enumerate() {
                for (ox, y) in y_row.iter_mut().enumerate() {
                    let corner = oy * s * w + ox * s;
                    let sum: f32 = (0..k)
                        .flat_map(|ky| &x[corner + ky * w..corner + ky * w + k])
                        .sum();
                    *y = sum / count;
                }
            }
        });
}

/// `grad_x[b, c, oy·stride + ky, ox·stride + kx] += grad_y[b, c, oy, ox] / size²` for every
/// tap of every window, in output order.
pub fn avgpool_backward(shape: &PoolShape, batch: usize, grad_y: &[f32], grad_x: &mut [f32]) {
    shape.check(batch, grad_x.len(), grad_y.len());
    let (plane, out_plane) = shape.planes();
    if grad_y.is_empty() {
        return;
    }
    let (w, k, s) = (shape.width, shape.size, shape.stride);
    let count = (k * k) as f32;
    grad_x
        .par_chunks_mut(plane)
        .zip(grad_y.par_chunks(out_plane))
        .with_min_len(MIN_PLANES)
        .for_each(|(grad_x, grad_y)| {
            for (oy, g_row) in grad_y.chunks_exact(shape.out_width).enumerate() {
                for (ox, &g) in g_row.iter().enumerate() {
                    let share = g / count;
                    let corner = oy * s * w + ox * s;
                    for ky in 0..k {
                        let row = corner + ky * w;
                        grad_x[row..row + k].iter_mut().for_each(|v| *v += share);
                    }
                }
            }
        });
}

/// `y[i] = mean(x[i, ..])` for `x` `[planes, pixels]` (an image batch `[batch, c, h, w]`
/// with `pixels = h·w`, so `y` is `[batch, c]`): each plane summed in eight lanes
/// ([`reduce::sum`], a fixed order), then divided by `pixels`.
pub fn global_avgpool_forward(pixels: usize, x: &[f32], y: &mut [f32]) {
    assert!(pixels > 0, "global_avgpool: empty planes");
    assert_eq!(x.len(), y.len() * pixels, "global_avgpool: input size");
    let count = pixels as f32;
    y.par_iter_mut()
        .zip(x.par_chunks(pixels))
        .with_min_len(MIN_PLANES)
        .for_each(|(y, x)| *y = reduce::sum(x) / count);
}

/// `grad_x[i, p] += grad_y[i] / pixels`.
pub fn global_avgpool_backward(pixels: usize, grad_y: &[f32], grad_x: &mut [f32]) {
    assert!(pixels > 0, "global_avgpool: empty planes");
    assert_eq!(
        grad_x.len(),
        grad_y.len() * pixels,
        "global_avgpool: input size"
    );
    let count = pixels as f32;
    grad_x
        .par_chunks_mut(pixels)
        .zip(grad_y.par_iter())
        .with_min_len(MIN_PLANES)
        .for_each(|(grad_x, &g)| {
            let share = g / count;
            grad_x.iter_mut().for_each(|v| *v += share);
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Distinct values in [-5, 5) at least `10 / len` apart, in a scrambled order: no window
    /// has a tie, and a step of 1e-3 never changes which cell is the maximum.
    fn distinct(len: usize, seed: u64) -> Vec<f32> {
        let mut order: Vec<usize> = (0..len).collect();
        let mut state = seed | 1;
        for i in (1..len).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        order
            .iter()
            .map(|&r| r as f32 * 10.0 / len as f32 - 5.0)
            .collect()
    }

    /// Rows from 1 to 40 pixels: outputs in registers of eight and one at a time.
    fn shapes() -> impl Strategy<Value = (PoolShape, usize)> {
        (
            1usize..4,
            1usize..12,
            1usize..40,
            1usize..5,
            1usize..5,
            1usize..=5,
        )
            .prop_filter_map("the window fits", |(c, h, w, size, stride, batch)| {
                Some((PoolShape::new([c, h, w], size, stride)?, batch))
            })
    }

    /// The window of output `o` (flat over `[batch, c, h', w']`): input indices, row-major.
    fn window(s: &PoolShape, o: usize) -> Vec<usize> {
        let (plane, out_plane) = s.planes();
        let (p, r) = (o / out_plane, o % out_plane);
        let (oy, ox) = (r / s.out_width, r % s.out_width);
        let mut cells = Vec::new();
        for ky in 0..s.size {
            for kx in 0..s.size {
                cells.push(p * plane + (oy * s.stride + ky) * s.width + ox * s.stride + kx);
            }
        }
        cells
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn maxpool_matches_the_first_maximum_of_each_window((s, batch) in shapes(), seed: u64, ties: bool, twice: bool) {
            // `ties`: values from a handful, so most windows hold several maxima.
            let x: Vec<f32> = distinct(batch * s.in_len(), seed).iter()
                .map(|&v| if ties { v.round().clamp(-1.0, 1.0) } else { v }).collect();
            let grad_y = distinct(batch * s.out_len(), seed ^ 1);
            let (mut y, mut arg) = (vec![f32::NAN; grad_y.len()], vec![u32::MAX; grad_y.len()]);
            maxpool_forward(&s, batch, &x, &mut y, &mut arg);
            let start = distinct(x.len(), seed ^ 2);
            let mut grad_x = start.clone();
            let times = if twice { 2 } else { 1 };
            for _ in 0..times {
                maxpool_backward(&s, batch, &grad_y, &arg, &mut grad_x);
            }
            let mut want_grad: Vec<f64> = start.iter().map(|&v| v as f64).collect();
            for o in 0..y.len() {
                let cells = window(&s, o);
                let max = cells.iter().map(|&i| x[i]).fold(f32::NEG_INFINITY, f32::max);
                let first = *cells.iter().find(|&&i| x[i] == max).expect("a maximum");
                prop_assert_eq!(y[o], max);
                prop_assert_eq!(arg[o] as usize, first % (s.height * s.width));
                want_grad[first] += times as f64 * grad_y[o] as f64;
            }
            for (i, (&got, &want)) in grad_x.iter().zip(&want_grad).enumerate() {
                prop_assert!((got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()), "grad_x[{}]: {} vs {}", i, got, want);
            }
        }

        /// The registers of eight against [`max_window`], bit for bit: values from a few
        /// (ties), signed zeros, infinities and NaNs with different payloads, so that which
        /// NaN or which zero wins shows in the bits.
        #[test]
        fn max_rows_in_registers_equal_the_scalar_windows_bit_for_bit((s, batch) in shapes(), picks in vec(0usize..9, 4000)) {
            const VALUES: [f32; 9] = [1.0, -1.0, 0.0, -0.0, 2.5, f32::INFINITY, f32::NEG_INFINITY,
                f32::NAN, -f32::NAN];
            let x: Vec<f32> = (0..batch * s.in_len()).map(|i| VALUES[picks[i % picks.len()]]).collect();
            let (mut y, mut arg) = (vec![0.0; batch * s.out_len()], vec![u32::MAX; batch * s.out_len()]);
            maxpool_forward(&s, batch, &x, &mut y, &mut arg);
            let (plane, out_plane) = s.planes();
            for o in 0..y.len() {
                let (p, r) = (o / out_plane, o % out_plane);
                let (best, at) = max_window(&s, &x[p * plane..][..plane], r / s.out_width, r % s.out_width);
                prop_assert_eq!(y[o].to_bits(), best.to_bits(), "y[{}]", o);
                prop_assert_eq!(arg[o] as usize, at, "argmax[{}]", o);
            }
        }

        #[test]
        fn avgpool_matches_window_means((s, batch) in shapes(), seed: u64, twice: bool) {
            let x = distinct(batch * s.in_len(), seed);
            let grad_y = distinct(batch * s.out_len(), seed ^ 1);
            let mut y = vec![f32::NAN; grad_y.len()];
            avgpool_forward(&s, batch, &x, &mut y);
            let start = distinct(x.len(), seed ^ 2);
            let mut grad_x = start.clone();
            let times = if twice { 2 } else { 1 };
            for _ in 0..times {
                avgpool_backward(&s, batch, &grad_y, &mut grad_x);
            }
            let count = (s.size * s.size) as f64;
            let mut want_grad: Vec<f64> = start.iter().map(|&v| v as f64).collect();
            for o in 0..y.len() {
                let cells = window(&s, o);
                let want = cells.iter().map(|&i| x[i] as f64).sum::<f64>() / count;
                prop_assert!((y[o] as f64 - want).abs() <= 1e-5, "y[{}]: {} vs {}", o, y[o], want);
                for i in cells {
                    want_grad[i] += times as f64 * grad_y[o] as f64 / count;
                }
            }
            for (i, (&got, &want)) in grad_x.iter().zip(&want_grad).enumerate() {
                prop_assert!((got as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()), "grad_x[{}]: {} vs {}", i, got, want);
            }
        }

        #[test]
        fn global_avgpool_matches_plane_means(planes in 0usize..12, pixels in prop_oneof![Just(1usize), Just(7), Just(8), Just(9), 1usize..800], seed: u64) {
            let x = distinct(planes * pixels, seed);
            let grad_y = distinct(planes, seed ^ 1);
            let mut y = vec![f32::NAN; planes];
            global_avgpool_forward(pixels, &x, &mut y);
            let mut grad_x = x.clone();
            global_avgpool_backward(pixels, &grad_y, &mut grad_x);
            global_avgpool_backward(pixels, &grad_y, &mut grad_x);
            for p in 0..planes {
                let want = x[p * pixels..(p + 1) * pixels].iter().map(|&v| v as f64).sum::<f64>() / pixels as f64;
                prop_assert!((y[p] as f64 - want).abs() <= 1e-5, "y[{}]: {} vs {}", p, y[p], want);
                for i in p * pixels..(p + 1) * pixels {
                    let want = x[i] as f64 + 2.0 * grad_y[p] as f64 / pixels as f64;
                    prop_assert!((grad_x[i] as f64 - want).abs() <= 1e-5, "grad_x[{}]", i);
                }
            }
        }
    }

    /// Overlapping 3×3 windows over a constant image: every window's gradient goes to its
    /// top-left cell, the first maximum in row-major order.
    #[test]
    fn ties_send_the_gradient_to_the_first_maximum() {
        let s = PoolShape::new([1, 4, 5], 3, 1).expect("valid");
        let x = vec![2.0; 20];
        let (mut y, mut arg) = (vec![0.0; 6], vec![0; 6]);
        maxpool_forward(&s, 1, &x, &mut y, &mut arg);
        assert_eq!(arg, [0, 1, 2, 5, 6, 7]);
        let mut grad_x = vec![0.0; 20];
        maxpool_backward(&s, 1, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &arg, &mut grad_x);
        let mut want = vec![0.0; 20];
        want[..3].copy_from_slice(&[1.0, 2.0, 3.0]);
        want[5..8].copy_from_slice(&[4.0, 5.0, 6.0]);
        assert_eq!(grad_x, want);
    }

    #[test]
    fn a_nan_in_a_window_is_its_maximum() {
        let s = PoolShape::new([1, 2, 4], 2, 2).expect("valid");
        let x = [1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0, 7.0, f32::NAN];
        let (mut y, mut arg) = (vec![0.0; 2], vec![0; 2]);
        maxpool_forward(&s, 1, &x, &mut y, &mut arg);
        assert!(y[0].is_nan() && y[1].is_nan());
        assert_eq!(arg, [1, 7]);
    }

    /// `L = Σ grad_y·maxpool(x)` by central differences, through the forward kernel.
    #[test]
    fn maxpool_gradient_matches_central_differences() {
        for (s, batch) in [
            (PoolShape::new([2, 6, 7], 2, 2), 2),
            (PoolShape::new([1, 7, 7], 3, 2), 3),
            (PoolShape::new([3, 5, 6], 2, 3), 1),
        ] {
            let s = s.expect("valid");
            let x = distinct(batch * s.in_len(), 3);
            let grad_y = distinct(batch * s.out_len(), 4);
            let loss = |x: &[f32]| -> f64 {
                let (mut y, mut arg) = (vec![0.0; grad_y.len()], vec![0; grad_y.len()]);
                maxpool_forward(&s, batch, x, &mut y, &mut arg);
                y.iter()
                    .zip(&grad_y)
                    .map(|(&y, &g)| y as f64 * g as f64)
                    .sum()
            };
            let (mut y, mut arg) = (vec![0.0; grad_y.len()], vec![0; grad_y.len()]);
            maxpool_forward(&s, batch, &x, &mut y, &mut arg);
            let mut grad_x = vec![0.0; x.len()];
            maxpool_backward(&s, batch, &grad_y, &arg, &mut grad_x);
            let h = 1e-3;
            for i in 0..x.len() {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                let numeric = (loss(&up) - loss(&down)) / (2.0 * h as f64);
                let tol = 1e-2 * (1e-2 + numeric.abs())
                    + 8.0 * f32::EPSILON as f64 * loss(&x).abs() / h as f64;
                assert!(
                    (grad_x[i] as f64 - numeric).abs() <= tol,
                    "{s:?} x[{i}]: {} vs {numeric}",
                    grad_x[i]
                );
            }
        }
    }

    #[test]
    fn bits_do_not_depend_on_the_thread_count() {
        let (s, batch) = (PoolShape::new([6, 28, 28], 2, 2).expect("valid"), 9);
        let x = distinct(batch * s.in_len(), 5);
        let grad_y = distinct(batch * s.out_len(), 6);
        let run = || {
            let (mut y, mut arg, mut avg) = (
                vec![0.0; grad_y.len()],
                vec![0; grad_y.len()],
                vec![0.0; grad_y.len()],
            );
            maxpool_forward(&s, batch, &x, &mut y, &mut arg);
            avgpool_forward(&s, batch, &x, &mut avg);
            let mut grad_x = x.clone();
            maxpool_backward(&s, batch, &grad_y, &arg, &mut grad_x);
            avgpool_backward(&s, batch, &grad_y, &mut grad_x);
            let mut global = vec![0.0; batch * s.channels];
            global_avgpool_forward(28 * 28, &x, &mut global);
            global_avgpool_backward(28 * 28, &global, &mut grad_x);
            [y, avg, grad_x, global].map(|v| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        };
        let one = crate::kernels::on_worker_pool(Some(1), run);
        for threads in [2, 3] {
            assert!(
                one == crate::kernels::on_worker_pool(Some(threads), run),
                "{threads} threads"
            );
        }
    }
}
