//! Depthwise convolution (`groups = channels`: each filter reads one channel, as in
//! MobileNet's depthwise-separable blocks), computed tap by tap on the image planes, with
//! no patch matrix and no product.
//!
//! Why its own kernel: a depthwise layer does `k²` multiply-adds per output pixel, so it
//! is bound by memory, not arithmetic. As products it would be one `[1, k²] · [k², h'·w']`
//! per channel after copying every pixel `k²` times into a patch matrix; here each output
//! row is updated in place by each tap (`out += w·row`, which the compiler vectorises),
//! reading the input plane from cache. The layout follows the "direct convolution" loop
//! order of Zhang, Franchetti and Low, "High Performance Zero-Memory Overhead Direct
//! Convolutions" (ICML 2018), with the channel loop outermost since channels never mix.
//!
//! Filter `f` reads channel `f / m`, where `m = filters / channels` (PyTorch's depth
//! multiplier). Every output element is summed by one thread in a fixed order (bias, then
//! taps row-major), and each weight's gradient by one thread over the batch in order, so
//! the bits depend neither on the thread count nor on the vector width.

use rayon::prelude::*;

use super::conv_shape::Conv2dShape;
use super::im2col::TapWindow;

/// For each tap of the kernel in row-major order: its index and where it reads.
fn taps(shape: &Conv2dShape) -> impl Iterator<Item = (usize, TapWindow)> + '_ {
    let k = shape.kernel;
    (0..k * k).map(move |t| (t, TapWindow::new(shape, t / k, t % k)))
}

/// `y[b, f] = bias[f] + Σ_taps w[f, tap]·x[b, f / m] shifted by the tap`, every element of
/// `y` (`[batch, filters, h', w']`) written.
pub fn forward(
    shape: &Conv2dShape,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let (plane, out_pixels, kk) = planes(shape);
    let per_channel = shape.group_filters();
    if out_pixels == 0 {
        return;
    }
    y.par_chunks_mut(out_pixels)
        .enumerate()
        .for_each(|(i, out)| {
            let (b, f) = (i / shape.filters, i % shape.filters);
            let c = f / per_channel;
            let src = &x[(b * shape.channels + c) * plane..][..plane];
            out.fill(bias.map_or(0.0, |bias| bias[f]));
            for (t, tap) in taps(shape) {
                let w = weight[f * kk + t];
                for_tap_rows(shape, &tap, |oy, iy| {
                    let out = &mut out[oy * shape.out_width..][tap.cols.clone()];
                    let row = &src[iy * shape.width + tap.first_ix..];
                    if shape.stride == 1 {
                        for (o, &v) in out.iter_mut().zip(row) {
                            *o += w * v;
                        }
                    } else {
                        for (o, &v) in out.iter_mut().zip(row.iter().step_by(shape.stride)) {
                            *o += w * v;
                        }
                    }
                });
            }
        });
}

/// `grad_x[b, c] += Σ_{f of c} Σ_taps w[f, tap]·grad_y[b, f]` moved back onto the pixels
/// the tap read: the adjoint of [`forward`]'s window. Each `(sample, channel)` plane is one
/// task, summed over its filters, then taps, then rows, in that order.
pub fn input_grad(shape: &Conv2dShape, weight: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    let (plane, out_pixels, kk) = planes(shape);
    let per_channel = shape.group_filters();
    if out_pixels == 0 || plane == 0 {
        return;
    }
    grad_x
        .par_chunks_mut(plane)
        .enumerate()
        .for_each(|(i, dst)| {
            let (b, c) = (i / shape.channels, i % shape.channels);
            for f in c * per_channel..(c + 1) * per_channel {
                let grad = &grad_y[(b * shape.filters + f) * out_pixels..][..out_pixels];
                for (t, tap) in taps(shape) {
                    let w = weight[f * kk + t];
                    for_tap_rows(shape, &tap, |oy, iy| {
                        let from = &grad[oy * shape.out_width..][tap.cols.clone()];
                        let to = &mut dst[iy * shape.width + tap.first_ix..];
                        if shape.stride == 1 {
                            for (t, &g) in to.iter_mut().zip(from) {
                                *t += w * g;
                            }
                        } else {
                            for (t, &g) in to.iter_mut().step_by(shape.stride).zip(from) {
                                *t += w * g;
                            }
                        }
                    });
                }
            }
        });
}

/// `out[f, tap] += alpha·Σ_b Σ_p grad_y[b, f, p]·x[b, f / m, p + tap]`: each filter is one
/// task; a tap's sum runs over the samples and rows in order, column `j` of each row into
/// accumulator `j mod 32`, the accumulators then added in `f64`. `alpha` is 1 for the
/// gradient, −lr for a fused SGD step.
pub fn weight_grad(
    shape: &Conv2dShape,
    batch: usize,
    alpha: f32,
    x: &[f32],
    grad_y: &[f32],
    out: &mut [f32],
) {
    let (plane, out_pixels, kk) = planes(shape);
    let per_channel = shape.group_filters();
    if out_pixels == 0 {
        return;
    }
    out.par_chunks_mut(kk).enumerate().for_each(|(f, out)| {
        let c = f / per_channel;
        for (t, tap) in taps(shape) {
            // Column j of every row adds into lane j mod ROW_LANES, rows in order; the
            // lanes are summed in order at the end: one fixed order, vectorised across j.
            let mut lanes = [0.0f32; ROW_LANES];
            for b in 0..batch {
                let src = &x[(b * shape.channels + c) * plane..][..plane];
                let grad = &grad_y[(b * shape.filters + f) * out_pixels..][..out_pixels];
                for_tap_rows(shape, &tap, |oy, iy| {
                    let g = &grad[oy * shape.out_width..][tap.cols.clone()];
                    let row = &src[iy * shape.width + tap.first_ix..];
                    for (at, g) in g.chunks(ROW_LANES).enumerate() {
                        let row = &row[at * ROW_LANES * shape.stride..];
                        if shape.stride == 1 {
                            for ((l, &g), &v) in lanes.iter_mut().zip(g).zip(row) {
                                *l += g * v;
                            }
                        } else {
                            let row = row.iter().step_by(shape.stride);
                            for ((l, &g), &v) in lanes.iter_mut().zip(g).zip(row) {
                                *l += g * v;
                            }
                        }
                    }
                });
            }
            let sum: f64 = lanes.iter().map(|&l| l as f64).sum();
            out[t] += alpha * sum as f32;
        }
    });
}

/// Columns of a row summed apart in [`weight_grad`], one accumulator each.
const ROW_LANES: usize = 32;

/// One sample's input plane, output plane, and a filter's taps.
fn planes(shape: &Conv2dShape) -> (usize, usize, usize) {
    debug_assert!(
        shape.group_channels() == 1,
        "depthwise: one channel per group"
    );
    (
        shape.height * shape.width,
        shape.out_pixels(),
        shape.kernel * shape.kernel,
    )
}

/// Calls `row(oy, iy)` for each output row the tap reads the image on, with the input row.
fn for_tap_rows(shape: &Conv2dShape, tap: &TapWindow, mut row: impl FnMut(usize, usize)) {
    for (i, oy) in tap.rows.clone().enumerate() {
        row(oy, tap.first_iy + i * shape.stride);
    }
}
