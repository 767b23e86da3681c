//! The copies between images and patch matrices that turn a convolution into a product:
//! [`im2col`] gathers every window of a batch into the columns of one matrix, [`col2im`]
//! adds a patch matrix's columns back onto the pixels they came from (the adjoint copy).
//!
//! The patch matrix of a batch is `[c·k·k, batch·h'·w']`: row `(c, ky, kx)` holds, for
//! every sample and output pixel in that order, the input pixel the kernel's tap
//! `(ky, kx)` of channel `c` sees there, or 0 in the padding. The geometry lives in
//! [`super::conv::Conv2dShape`]; the products live in [`super::conv`].

use std::ops::Range;

use rayon::prelude::*;

use super::conv_shape::Conv2dShape;

/// The outputs `o` in `0..out_len` whose input index `o·stride + offset` lies in
/// `0..in_len`: the rest of a patch row reads padding. `offset` is the tap minus the
/// leading padding, so it may be negative.
fn valid_outputs(out_len: usize, in_len: usize, offset: isize, stride: usize) -> Range<usize> {
    // o·s + offset ≥ 0 ⇔ o ≥ ⌈−offset / s⌉.
    let lo = if offset >= 0 {
        0
    } else {
        (offset.unsigned_abs()).div_ceil(stride)
    };
    // o·s + offset < in_len ⇔ o < ⌈(in_len − offset) / s⌉.
    let room = in_len as isize - offset;
    let hi = if room <= 0 {
        0
    } else {
        (room as usize).div_ceil(stride).min(out_len)
    };
    lo.min(hi)..hi
}

/// The output rows and columns where tap `(ky, kx)` reads the image, and the input pixel
/// the first of them reads (row, column).
pub(super) struct TapWindow {
    pub rows: Range<usize>,
    pub cols: Range<usize>,
    pub first_iy: usize,
    pub first_ix: usize,
}

impl TapWindow {
    /// Tap `(ky, kx)` of the kernel, `dilation·(ky, kx)` pixels into the window.
    pub fn new(shape: &Conv2dShape, ky: usize, kx: usize) -> Self {
        let s = shape.stride;
        let (ky, kx) = (ky * shape.dilation, kx * shape.dilation);
        let rows = valid_outputs(
            shape.out_height,
            shape.height,
            ky as isize - shape.pad_top as isize,
            s,
        );
        let cols = valid_outputs(
            shape.out_width,
            shape.width,
            kx as isize - shape.pad_left as isize,
            s,
        );
        // A tap that reads no column reads no row either (its whole output is padding).
        let rows = if cols.is_empty() { 0..0 } else { rows };
        // In range by construction: o·s + tap ≥ pad for every o in the ranges.
        let first_iy = (rows.start * s + ky).saturating_sub(shape.pad_top);
        let first_ix = (cols.start * s + kx).saturating_sub(shape.pad_left);
        TapWindow {
            rows,
            cols,
            first_iy,
            first_ix,
        }
    }
}

/// `col[(c, ky, kx), b·h'·w' + p] = x[b, c, p·stride + (ky, kx) − pad]` (0 in the
/// padding), for `x` `[batch, c, h, w]` and `col` `[c·k·k, batch·h'·w']`, every element
/// written. The patch rows are shared among the worker threads; it is a copy, so the
/// thread count changes nothing.
pub fn im2col(shape: &Conv2dShape, batch: usize, x: &[f32], col: &mut [f32]) {
    let (plane, out_pixels) = (shape.height * shape.width, shape.out_pixels());
    assert_eq!(x.len(), batch * shape.in_len(), "im2col: input size");
    assert_eq!(col.len(), shape.col_len(batch), "im2col: patch matrix size");
    if col.is_empty() {
        return;
    }
    let k = shape.kernel;
    col.par_chunks_mut(batch * out_pixels)
        .with_min_len(4)
        .enumerate()
        .for_each(|(r, row)| {
            let (c, ky, kx) = (r / (k * k), r / k % k, r % k);
            let tap = TapWindow::new(shape, ky, kx);
            for (b, dst) in row.chunks_exact_mut(out_pixels).enumerate() {
                let src = &x[(b * shape.channels + c) * plane..][..plane];
                gather_tap(shape, &tap, src, dst);
            }
        });
}

/// [`im2col`] for one sample (`x` `[c, h, w]`, `col` `[c·k·k, h'·w']`), on this thread:
/// the convolution shares the samples among the threads instead.
pub fn im2col_one(shape: &Conv2dShape, x: &[f32], col: &mut [f32]) {
    let (plane, out_pixels, k) = (shape.height * shape.width, shape.out_pixels(), shape.kernel);
    assert_eq!(x.len(), shape.in_len(), "im2col: input size");
    assert_eq!(col.len(), shape.col_len(1), "im2col: patch matrix size");
    if out_pixels == 0 {
        return;
    }
    for (r, dst) in col.chunks_exact_mut(out_pixels).enumerate() {
        let (c, ky, kx) = (r / (k * k), r / k % k, r % k);
        let tap = TapWindow::new(shape, ky, kx);
        gather_tap(shape, &tap, &x[c * plane..][..plane], dst);
    }
}

/// One tap of one sample's channel plane `src` (`[h, w]`) into `dst` (`[h', w']`).
fn gather_tap(shape: &Conv2dShape, tap: &TapWindow, src: &[f32], dst: &mut [f32]) {
    let (w, ow, s) = (shape.width, shape.out_width, shape.stride);
    let TapWindow { rows, cols, .. } = tap;
    dst[..rows.start * ow].fill(0.0);
    dst[rows.end * ow..].fill(0.0);
    for (i, oy) in rows.clone().enumerate() {
        let iy = tap.first_iy + i * s;
        let src_row = &src[iy * w..][..w];
        let out = &mut dst[oy * ow..][..ow];
        out[..cols.start].fill(0.0);
        out[cols.end..].fill(0.0);
        let taken = &src_row[tap.first_ix..];
        if s == 1 {
            out[cols.clone()].copy_from_slice(&taken[..cols.len()]);
        } else {
            for (o, &v) in out[cols.clone()].iter_mut().zip(taken.iter().step_by(s)) {
                *o = v;
            }
        }
    }
}

/// `grad_x[b, c, p·stride + (ky, kx) − pad] += grad_col[(c, ky, kx), b·h'·w' + p]` over
/// every tap and output pixel that sees an input pixel (padding taps are dropped): the
/// adjoint of [`im2col`]. `grad_col` is `[c·k·k, batch·h'·w']`, `grad_x`
/// `[batch, c, h, w]`. Each `(sample, channel)` plane is summed by one thread, over taps
/// `(ky, kx)` then output pixels in row-major order, so the bits do not depend on the
/// thread count.
pub fn col2im(shape: &Conv2dShape, batch: usize, grad_col: &[f32], grad_x: &mut [f32]) {
    let (plane, out_pixels, k) = (shape.height * shape.width, shape.out_pixels(), shape.kernel);
    assert_eq!(grad_x.len(), batch * shape.in_len(), "col2im: input size");
    assert_eq!(
        grad_col.len(),
        shape.col_len(batch),
        "col2im: patch matrix size"
    );
    if grad_x.is_empty() || out_pixels == 0 {
        return;
    }
    let row_len = batch * out_pixels;
    grad_x
        .par_chunks_mut(plane)
        .with_min_len(2)
        .enumerate()
        .for_each(|(i, dst)| {
            let (b, c) = (i / shape.channels, i % shape.channels);
            for ky in 0..k {
                for kx in 0..k {
                    let r = (c * k + ky) * k + kx;
                    let src = &grad_col[r * row_len + b * out_pixels..][..out_pixels];
                    scatter_tap(shape, &TapWindow::new(shape, ky, kx), src, dst);
                }
            }
        });
}

/// [`col2im`] for one sample (`grad_col` `[c·k·k, h'·w']`, `grad_x` `[c, h, w]`), on this
/// thread, in the same order.
pub fn col2im_one(shape: &Conv2dShape, grad_col: &[f32], grad_x: &mut [f32]) {
    let (plane, out_pixels, k) = (shape.height * shape.width, shape.out_pixels(), shape.kernel);
    assert_eq!(grad_x.len(), shape.in_len(), "col2im: input size");
    assert_eq!(
        grad_col.len(),
        shape.col_len(1),
        "col2im: patch matrix size"
    );
    if out_pixels == 0 || plane == 0 {
        return;
    }
    for (c, dst) in grad_x.chunks_exact_mut(plane).enumerate() {
        for ky in 0..k {
            for kx in 0..k {
                let r = (c * k + ky) * k + kx;
                let src = &grad_col[r * out_pixels..][..out_pixels];
                scatter_tap(shape, &TapWindow::new(shape, ky, kx), src, dst);
            }
        }
    }
}

/// Adds one tap's `[h', w']` gradient `src` onto the channel plane `dst` (`[h, w]`).
fn scatter_tap(shape: &Conv2dShape, tap: &TapWindow, src: &[f32], dst: &mut [f32]) {
    let (w, ow, s) = (shape.width, shape.out_width, shape.stride);
    let cols = &tap.cols;
    for (i, oy) in tap.rows.clone().enumerate() {
        let iy = tap.first_iy + i * s;
        let from = &src[oy * ow..][..ow][cols.clone()];
        let to = &mut dst[iy * w..][..w][tap.first_ix..];
        if s == 1 {
            // Rows are short (10 to 30 pixels): a plain loop, which the compiler
            // vectorises, beats `simd::add_assign`'s padded tail. Same bits: one add each.
            for (t, &g) in to.iter_mut().zip(from) {
                *t += g;
            }
        } else {
            for (t, &g) in to.iter_mut().step_by(s).zip(from) {
                *t += g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::filled;
    use proptest::prelude::*;

    use crate::kernels::conv_shape::Padding;

    fn shapes() -> impl Strategy<Value = (Conv2dShape, usize)> {
        let padding = prop_oneof![
            (0usize..3).prop_map(Padding::Each),
            (0usize..3, 0usize..4).prop_map(|(begin, end)| Padding::Split { begin, end }),
            Just(Padding::Same),
        ];
        (
            1usize..4,
            1usize..10,
            1usize..10,
            1usize..6,
            1usize..5,
            padding,
            1usize..=4,
        )
            .prop_filter_map("a window fits", |(c, h, w, k, stride, pad, batch)| {
                Some((Conv2dShape::new([c, h, w], 1, k, stride, pad)?, batch))
            })
    }

    proptest! {
        /// `col2im` is the adjoint of `im2col`: ⟨g, im2col(x)⟩ = ⟨col2im(g), x⟩. And the
        /// one-sample versions give the batch versions' bits, sample by sample.
        #[test]
        fn col2im_is_the_adjoint_of_im2col((s, batch) in shapes(), seed: u64) {
            let x = filled(batch * s.in_len(), seed);
            let g = filled(s.col_len(batch), seed ^ 1);
            let mut col = vec![f32::NAN; s.col_len(batch)];
            im2col(&s, batch, &x, &mut col);
            let mut back = vec![0.0; x.len()];
            col2im(&s, batch, &g, &mut back);
            let lhs: f64 = g.iter().zip(&col).map(|(&g, &c)| g as f64 * c as f64).sum();
            let rhs: f64 = back.iter().zip(&x).map(|(&b, &x)| b as f64 * x as f64).sum();
            prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
            let n = s.out_pixels();
            for b in 0..batch {
                let mut one = vec![f32::NAN; s.col_len(1)];
                im2col_one(&s, &x[b * s.in_len()..][..s.in_len()], &mut one);
                let mut g_one = vec![0.0; s.col_len(1)];
                for r in 0..s.patch_len() {
                    prop_assert_eq!(&one[r * n..][..n], &col[r * batch * n + b * n..][..n]);
                    g_one[r * n..][..n].copy_from_slice(&g[r * batch * n + b * n..][..n]);
                }
                let mut back_one = vec![0.0; s.in_len()];
                col2im_one(&s, &g_one, &mut back_one);
                prop_assert_eq!(&back_one[..], &back[b * s.in_len()..][..s.in_len()]);
            }
        }

        /// The closed form against counting.
        #[test]
        fn valid_outputs_are_exactly_those_inside_the_input(
            out_len in 0usize..12, in_len in 0usize..12, offset in -8isize..8, stride in 1usize..5,
        ) {
            let want: Vec<usize> = (0..out_len)
                .filter(|&o| (0..in_len as isize).contains(&(o as isize * stride as isize + offset)))
                .collect();
            let got: Vec<usize> = valid_outputs(out_len, in_len, offset, stride).collect();
            prop_assert_eq!(got, want);
        }
    }
}
