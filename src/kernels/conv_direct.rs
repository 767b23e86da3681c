//! Direct convolution of single-channel images at stride 1 (a network's first layer on
//! MNIST-like data), without a patch matrix: eight output pixels of a row at a time in
//! `wide::f32x8` registers, each tap one unaligned load of a zero-padded copy of the input.
//!
//! Why a second path: with one channel, im2col copies every pixel `k²` times to feed
//! products whose inner dimension is only `k²` (25 for `lenet`'s first layer), and the
//! weight gradient's product is `[filters, batch·h'·w'] · [batch·h'·w', k²]`, too narrow
//! to cut among threads. Here the forward pass reads each padded row once per tap from
//! cache, and each weight's gradient is one thread's sum over the batch. [`super::conv`]
//! picks it by shape alone ([`Conv2dShape::direct_forward`],
//! [`Conv2dShape::direct_weight_grad`], where the measurements are), never by thread
//! count.
//!
//! Geometry: output rows are computed `w8 = ⌈w'/8⌉·8` pixels wide (lanes past `w'` are
//! computed and dropped); the padded input `xp` is `(h' + k − 1)` rows of `w8 + k − 1`
//! pixels, `xp[r][q] = x[r − pad_top][q − pad_left]` inside the image and 0 elsewhere, so
//! output `(oy, ox)` reads `xp[oy + ky][ox + kx]` for every tap.

use rayon::prelude::*;
use wide::f32x8;

use super::conv_shape::Conv2dShape;

/// Output pixels per register.
const LANES: usize = 8;

/// Filters computed together: 6 filters × 2 registers of pixels keep 12 accumulators, the
/// two input registers and one broadcast weight within the 16 AVX registers.
const FILTER_BLOCK: usize = 6;

/// The padded sizes of one sample: (rows, row width, output row width rounded to lanes).
fn padded(shape: &Conv2dShape) -> (usize, usize, usize) {
    let w8 = shape.out_width.next_multiple_of(LANES);
    (
        shape.out_height + shape.kernel - 1,
        w8 + shape.kernel - 1,
        w8,
    )
}

/// Floats of one sample's padded input.
pub(super) fn padded_len(shape: &Conv2dShape) -> usize {
    let (rows, width, _) = padded(shape);
    rows * width
}

/// Floats of one sample's output gradient padded to whole registers: `filters·h'·w8`.
pub(super) fn padded_grad_len(shape: &Conv2dShape) -> usize {
    let (_, _, w8) = padded(shape);
    shape.filters * shape.out_height * w8
}

/// `xp` from `x` (`[h, w]`), every element written.
fn pad_input(shape: &Conv2dShape, x: &[f32], xp: &mut [f32]) {
    let (_, width, _) = padded(shape);
    xp.fill(0.0);
    for (r, row) in x.chunks_exact(shape.width).enumerate() {
        let at = (r + shape.pad_top) * width + shape.pad_left;
        // The image may extend past what the output reads (rows or columns beyond the
        // last window); those pixels are simply not copied.
        if r + shape.pad_top >= shape.out_height + shape.kernel - 1 {
            break;
        }
        let fits = row.len().min(width - shape.pad_left.min(width));
        xp[at..at + fits].copy_from_slice(&row[..fits]);
    }
}

/// Eight floats from `v[at..]`.
#[inline(always)]
fn load(v: &[f32], at: usize) -> f32x8 {
    f32x8::new(v[at..at + LANES].try_into().expect("eight lanes in range"))
}

/// Floats of [`forward_one`]'s scratch: the padded input, then the weights by tap.
pub(super) fn forward_scratch_len(shape: &Conv2dShape) -> usize {
    padded_len(shape) + shape.weight_len()
}

/// Forward pass of one sample, `y[f, oy, ox] = bias[f] + Σ_{ky,kx} w[f, ky, kx]·xp[oy + ky][ox + kx]`,
/// with `xp` the sample's padded input. `scratch` (`forward_scratch_len` floats,
/// overwritten) holds `xp` and the weights regrouped by block of filters and tap, so that
/// one tap's weights for the block are one array (no bounds check per filter).
pub(super) fn forward_one(
    shape: &Conv2dShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [f32],
    y: &mut [f32],
) {
    let (xp, by_tap) = scratch.split_at_mut(padded_len(shape));
    pad_input(shape, x, xp);
    let taps = shape.kernel * shape.kernel;
    let mut first = 0;
    while first < shape.filters {
        let count = (shape.filters - first).min(FILTER_BLOCK);
        let block = first..first + count;
        // by_tap[first·taps + t·count + i] = weight[first + i, t].
        let regrouped = &mut by_tap[first * taps..(first + count) * taps];
        for (i, w) in weight[first * taps..(first + count) * taps]
            .chunks_exact(taps)
            .enumerate()
        {
            for (t, &w) in w.iter().enumerate() {
                regrouped[t * count + i] = w;
            }
        }
        let regrouped = &*regrouped;
        match count {
            6 => forward_block::<6>(shape, xp, regrouped, bias, block, y),
            5 => forward_block::<5>(shape, xp, regrouped, bias, block, y),
            4 => forward_block::<4>(shape, xp, regrouped, bias, block, y),
            3 => forward_block::<3>(shape, xp, regrouped, bias, block, y),
            2 => forward_block::<2>(shape, xp, regrouped, bias, block, y),
            _ => forward_block::<1>(shape, xp, regrouped, bias, block, y),
        }
        first += count;
    }
}

/// Filters `filters` (`F` of them, their weights `by_tap[tap][filter]`) of one sample: for
/// each output row, pairs of registers of pixels (then a single one at the end of the
/// row) accumulate every tap, each input register loaded once per tap for all `F`
/// filters.
fn forward_block<const F: usize>(
    shape: &Conv2dShape,
    xp: &[f32],
    by_tap: &[f32],
    bias: Option<&[f32]>,
    filters: std::ops::Range<usize>,
    y: &mut [f32],
) {
    let (_, _, w8) = padded(shape);
    let (by_tap, _) = by_tap.as_chunks::<F>();
    let mut bias_lanes = [f32x8::ZERO; F];
    if let Some(bias) = bias {
        for (lanes, &b) in bias_lanes.iter_mut().zip(&bias[filters.clone()]) {
            *lanes = f32x8::splat(b);
        }
    }
    let y = &mut y[filters.start * shape.out_height * shape.out_width..];
    let pairs = w8 / (2 * LANES) * (2 * LANES);
    for oy in 0..shape.out_height {
        for x0 in (0..pairs).step_by(2 * LANES) {
            row_registers::<F, 2>(shape, xp, by_tap, &bias_lanes, oy, x0, y);
        }
        if pairs < w8 {
            row_registers::<F, 1>(shape, xp, by_tap, &bias_lanes, oy, pairs, y);
        }
    }
}

/// `V` registers of output row `oy` from pixel `x0`, for `F` filters (`y` from the
/// first): every tap accumulated in registers, then the pixels inside the row stored
/// with the bias added.
#[inline(always)]
fn row_registers<const F: usize, const V: usize>(
    shape: &Conv2dShape,
    xp: &[f32],
    by_tap: &[[f32; F]],
    bias: &[f32x8; F],
    oy: usize,
    x0: usize,
    y: &mut [f32],
) {
    let k = shape.kernel;
    let (_, width, _) = padded(shape);
    let mut acc = [[f32x8::ZERO; V]; F];
    for ky in 0..k {
        let row = (oy + ky) * width + x0;
        for kx in 0..k {
            let mut inputs = [f32x8::ZERO; V];
            for (v, input) in inputs.iter_mut().enumerate() {
                *input = load(xp, row + kx + v * LANES);
            }
            let weights = &by_tap[ky * k + kx];
            for f in 0..F {
                let w = f32x8::splat(weights[f]);
                for v in 0..V {
                    acc[f][v] = inputs[v].mul_add(w, acc[f][v]);
                }
            }
        }
    }
    let out_pixels = shape.out_height * shape.out_width;
    let valid = (V * LANES).min(shape.out_width - x0);
    for f in 0..F {
        let out = &mut y[f * out_pixels + oy * shape.out_width + x0..][..valid];
        for (v, out) in out.chunks_mut(LANES).enumerate() {
            let lanes = (acc[f][v] + bias[f]).to_array();
            match <&mut [f32; LANES]>::try_from(&mut *out) {
                Ok(out) => *out = lanes,
                Err(_) => store_lanes(out, lanes),
            }
        }
    }
}

/// `out = lanes[..out.len()]` (at most eight) with copies of a length known when compiled:
/// a copy of a run-time length becomes a call to `memmove`, which for the one short
/// register at the end of every output row took a third of the time.
#[inline(always)]
fn store_lanes(out: &mut [f32], lanes: [f32; LANES]) {
    macro_rules! exactly {
        ($($n:literal)*) => {
            match out.len() {
                $($n => out[..$n].copy_from_slice(&lanes[..$n]),)*
                _ => unreachable!("at most {LANES} lanes"),
            }
        };
    }
    exactly!(8 7 6 5 4 3 2 1 0)
}

/// `out[f, ky, kx] += alpha·Σ_{b, oy, ox} grad_y[b, f, oy, ox]·x[b, oy + ky − pad_top,
/// ox + kx − pad_left]` for the batch: the weight gradient (`alpha = 1`) or a fused SGD
/// step (`alpha = −lr`). `xp` (`batch·padded_len`) and `gp` (`batch·padded_grad_len`) are
/// scratch. Each filter's weights are one task: lane `l` of a tap's register sums the
/// products at pixels `ox ≡ l (mod 8)` over samples, rows and registers in that order,
/// then the lanes are added in a fixed order, so the thread count changes no bit.
#[allow(clippy::too_many_arguments)] // the operands of one rule, as `conv2d_weight_grad`
pub(super) fn weight_grad(
    shape: &Conv2dShape,
    batch: usize,
    alpha: f32,
    x: &[f32],
    grad_y: &[f32],
    xp: &mut [f32],
    gp: &mut [f32],
    out: &mut [f32],
) {
    let (plane, out_pixels) = (
        shape.height * shape.width,
        shape.out_height * shape.out_width,
    );
    let (_, _, w8) = padded(shape);
    let (xp_len, gp_len) = (padded_len(shape), padded_grad_len(shape));
    assert_eq!(
        xp.len(),
        batch * xp_len,
        "conv2d: padded input scratch size"
    );
    assert_eq!(
        gp.len(),
        batch * gp_len,
        "conv2d: padded gradient scratch size"
    );
    if batch == 0 || out_pixels == 0 {
        return;
    }
    xp.par_chunks_mut(xp_len)
        .zip(x.par_chunks(plane))
        .for_each(|(xp, x)| pad_input(shape, x, xp));
    // Lanes past w' hold 0, so they add nothing to any weight.
    gp.par_chunks_mut(gp_len)
        .zip(grad_y.par_chunks(shape.filters * out_pixels))
        .for_each(|(gp, grad_y)| {
            for (dst, src) in gp
                .chunks_exact_mut(w8)
                .zip(grad_y.chunks_exact(shape.out_width))
            {
                dst[..shape.out_width].copy_from_slice(src);
                dst[shape.out_width..].fill(0.0);
            }
        });
    let (k, xp, gp) = (shape.kernel, &*xp, &*gp);
    out.par_chunks_mut(k * k).enumerate().for_each(|(f, out)| {
        for (ky, out) in out.chunks_exact_mut(k).enumerate() {
            for (block, out) in out.chunks_mut(TAP_BLOCK).enumerate() {
                let at = Taps {
                    f,
                    ky,
                    kx0: block * TAP_BLOCK,
                };
                match out.len() {
                    8 => add_tap_sums::<8>(shape, batch, at, xp, gp, alpha, out),
                    7 => add_tap_sums::<7>(shape, batch, at, xp, gp, alpha, out),
                    6 => add_tap_sums::<6>(shape, batch, at, xp, gp, alpha, out),
                    5 => add_tap_sums::<5>(shape, batch, at, xp, gp, alpha, out),
                    4 => add_tap_sums::<4>(shape, batch, at, xp, gp, alpha, out),
                    3 => add_tap_sums::<3>(shape, batch, at, xp, gp, alpha, out),
                    2 => add_tap_sums::<2>(shape, batch, at, xp, gp, alpha, out),
                    _ => add_tap_sums::<1>(shape, batch, at, xp, gp, alpha, out),
                }
            }
        }
    });
}

/// Taps of one kernel row summed together: their registers stay in the CPU's registers.
const TAP_BLOCK: usize = 8;

/// Where a block of taps sits: filter, kernel row, first kernel column.
#[derive(Clone, Copy)]
struct Taps {
    f: usize,
    ky: usize,
    kx0: usize,
}

/// `out[t] += alpha·Σ_{b, oy, ox} gp[b, f, oy, ox]·xp[b][oy + ky][ox + kx0 + t]` for the
/// `T` taps from `at`, one register per tap.
fn add_tap_sums<const T: usize>(
    shape: &Conv2dShape,
    batch: usize,
    at: Taps,
    xp: &[f32],
    gp: &[f32],
    alpha: f32,
    out: &mut [f32],
) {
    let (_, width, w8) = padded(shape);
    let (xp_len, gp_len) = (padded_len(shape), padded_grad_len(shape));
    let grad_len = shape.out_height * w8;
    let mut acc = [f32x8::ZERO; T];
    for b in 0..batch {
        let xp = &xp[b * xp_len..][..xp_len];
        let gp = &gp[b * gp_len + at.f * grad_len..][..grad_len];
        for oy in 0..shape.out_height {
            let row = (oy + at.ky) * width + at.kx0;
            for x0 in (0..w8).step_by(LANES) {
                let g = load(gp, oy * w8 + x0);
                for (t, acc) in acc.iter_mut().enumerate() {
                    *acc = g.mul_add(load(xp, row + x0 + t), *acc);
                }
            }
        }
    }
    for (out, acc) in out.iter_mut().zip(acc) {
        *out += alpha * acc.reduce_add();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv_shape::Padding;
    use crate::kernels::test_values::filled;
    use proptest::prelude::*;

    /// Single-channel shapes wide enough for pairs of registers, single registers and
    /// partial ones, with blocks of 6 filters and a remainder.
    fn shapes() -> impl Strategy<Value = (Conv2dShape, usize)> {
        let padding = prop_oneof![
            (0usize..4).prop_map(Padding::Each),
            (0usize..4, 0usize..4).prop_map(|(begin, end)| Padding::Split { begin, end }),
            Just(Padding::Same),
        ];
        (
            1usize..30,
            1usize..45,
            1usize..15,
            1usize..10,
            padding,
            1usize..=3,
        )
            .prop_filter_map("a window fits", |(h, w, f, k, pad, batch)| {
                Some((Conv2dShape::new([1, h, w], f, k, 1, pad)?, batch))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn direct_path_matches_direct_loops((s, batch) in shapes(), seed: u64) {
            let (k, out_pixels) = (s.kernel, s.out_height * s.out_width);
            let x = filled(batch * s.in_len(), seed);
            let w = filled(s.weight_len(), seed ^ 1);
            let bias = filled(s.filters, seed ^ 2);
            let grad_y = filled(batch * s.out_len(), seed ^ 3);
            let pixel = |b: usize, oy: usize, ox: usize, ky: usize, kx: usize| -> f64 {
                let (Some(iy), Some(ix)) = ((oy + ky).checked_sub(s.pad_top), (ox + kx).checked_sub(s.pad_left)) else { return 0.0 };
                if iy < s.height && ix < s.width { x[b * s.in_len() + iy * s.width + ix] as f64 } else { 0.0 }
            };
            let mut scratch = vec![f32::NAN; forward_scratch_len(&s)];
            let mut want_grad = vec![0.0f64; w.len()];
            for b in 0..batch {
                let mut y = vec![f32::NAN; s.out_len()];
                forward_one(&s, &x[b * s.in_len()..][..s.in_len()], &w, Some(&bias), &mut scratch, &mut y);
                for f in 0..s.filters {
                    for oy in 0..s.out_height {
                        for ox in 0..s.out_width {
                            let o = f * out_pixels + oy * s.out_width + ox;
                            let g = grad_y[b * s.out_len() + o] as f64;
                            let mut want = bias[f] as f64;
                            for ky in 0..k {
                                for kx in 0..k {
                                    want += w[(f * k + ky) * k + kx] as f64 * pixel(b, oy, ox, ky, kx);
                                    want_grad[(f * k + ky) * k + kx] += g * pixel(b, oy, ox, ky, kx);
                                }
                            }
                            prop_assert!((y[o] as f64 - want).abs() <= 1e-5 * (1.0 + k as f64), "y[{}]: {} vs {}", o, y[o], want);
                        }
                    }
                }
            }
            let mut xp = vec![f32::NAN; batch * padded_len(&s)];
            let mut gp = vec![f32::NAN; batch * padded_grad_len(&s)];
            let mut grad_w = w.clone();
            weight_grad(&s, batch, -0.5, &x, &grad_y, &mut xp, &mut gp, &mut grad_w);
            let tol = 1e-5 * (batch * out_pixels) as f64;
            for (i, (&got, &want)) in grad_w.iter().zip(&want_grad).enumerate() {
                let want = w[i] as f64 - 0.5 * want;
                prop_assert!((got as f64 - want).abs() <= tol, "w[{}]: {} vs {}", i, got, want);
            }
        }
    }
}
