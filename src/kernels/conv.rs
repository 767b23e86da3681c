//! 2-D convolution (PyTorch's `conv2d`, square kernels, zero padding) as im2col and
//! matrix products.
//!
//! Layouts are PyTorch's: images `[batch, c, h, w]`, weights `[filters, c, k, k]`, bias
//! `[filters]`, outputs `[batch, filters, h', w']`, all row-major. A sample's windows are
//! gathered into a patch matrix `[c·k·k, h'·w']` (see [`super::im2col`]), so that the
//! forward pass is `weight [filters, c·k·k] · patches` and the input gradient
//! `weightᵀ · grad_y_b` followed by the adjoint copy. Those two work one sample at a time,
//! a group of samples at once in a caller's scratch small enough to stay in cache
//! ([`Conv2dShape::scratch_len`]). The weight gradient sums over the whole batch: one
//! product per sample, `grad_y_b · patchesᵀ`, added into the partial sum of a fixed chunk
//! of samples, the partials then added in order ([`Conv2dShape::weight_scratch_len`]).
//!
//! Grouped convolutions run one product per group on the group's rows of the patch
//! matrix and of the weights; depthwise ones (one channel per group) take
//! [`super::conv_depthwise`] instead, with no patch matrix. Single-channel inputs at
//! stride 1 take a direct path, for the weight gradient
//! and (kernels from 4 × 4) the forward pass ([`super::conv_direct`], chosen by
//! [`Conv2dShape::direct_weight_grad`] and [`Conv2dShape::direct_forward`]).
//!
//! Every product goes through [`gemm`] (or [`gemm_shared`], the same bits with the
//! weights packed once for the whole batch), whose bits do not depend on the thread
//! count; the samples of a group, and the copies, are shared among the worker threads by
//! output element.
//!
//! Its length (378 lines of code, 324 of tests) is the kernel with the tests that pin
//! its bits, which reach its private helpers: kept in one file on purpose.

use rayon::prelude::*;

use super::conv_depthwise;
use super::conv_direct;
use super::gemm::{MatRef, SharedLeft, gemm, gemm_shared, with_shared_left};
use super::im2col::{col2im_one, im2col_one};
use super::reduce;
use super::simd;

pub use super::conv_shape::{Conv2dShape, Padding};

impl Conv2dShape {
    /// Samples whose patch matrices [`conv2d_forward`] and [`conv2d_input_grad`] hold at
    /// once: about 2¹⁹ floats of patches (2 MiB), at least one sample, at most the batch.
    pub fn group(&self, batch: usize) -> usize {
        (GROUP_FLOATS / self.sample_scratch_len().max(1)).clamp(1, batch.max(1))
    }

    /// The scratch of [`conv2d_forward`] and [`conv2d_input_grad`]: for each sample of a
    /// group, its patch matrix (`c·k·k·h'·w'` floats), or its padded image and the weights
    /// regrouped (direct path).
    pub fn scratch_len(&self, batch: usize) -> usize {
        self.group(batch) * self.sample_scratch_len()
    }

    fn sample_scratch_len(&self) -> usize {
        if self.depthwise() {
            0
        } else if self.direct_forward() {
            self.col_len(1).max(conv_direct::forward_scratch_len(self))
        } else {
            self.col_len(1)
        }
    }

    /// Whether the forward pass takes the direct path ([`super::conv_direct`]): one input
    /// channel, stride 1, and a kernel of at least 4 × 4. Measured at batch 64 on one
    /// thread, `lenet`'s first layer (5 × 5, 6 filters) ran 4 times faster direct than as
    /// im2col and sgemm (0.31 against 1.27 ms); `convnet`'s (3 × 3, 32 filters) ran 15 %
    /// slower, as its 9 taps leave the registers' loads and stores a larger share and 32
    /// filters fill sgemm's tiles.
    pub fn direct_forward(&self) -> bool {
        self.direct_weight_grad() && self.kernel >= 4
    }

    /// Whether the weight gradient takes the direct path: one input channel, stride 1.
    /// Its product `[filters, batch·h'·w'] · [batch·h'·w', k²]` is too narrow to cut among
    /// threads; direct, each filter is a task (measured 2 times faster on one thread for
    /// both first layers of the races, more on two).
    pub fn direct_weight_grad(&self) -> bool {
        self.channels == 1 && self.stride == 1 && self.dilation == 1
    }

    /// The patch matrix of `batch` samples, `[c·k·k, batch·h'·w']` (see [`super::im2col`]).
    pub fn col_len(&self, batch: usize) -> usize {
        self.patch_len() * batch * self.out_pixels()
    }

    /// The two scratch buffers of [`conv2d_weight_grad`], `(input, grad)` in
    /// [`WeightGradScratch`]'s order: one sample's patch matrix and one partial weight
    /// gradient per chunk of samples ([`weight_chunks`]), or on the direct path the
    /// padded images and the output gradient padded to whole registers.
    pub fn weight_scratch_len(&self, batch: usize) -> (usize, usize) {
        if self.depthwise() {
            (0, 0)
        } else if self.direct_weight_grad() {
            (
                batch * conv_direct::padded_len(self),
                batch * conv_direct::padded_grad_len(self),
            )
        } else {
            let chunks = weight_chunks(batch);
            (chunks * self.col_len(1), chunks * self.weight_len())
        }
    }
}

/// Patch-matrix floats per group of samples (2 MiB): a group's patches are multiplied
/// while they are still in cache. Measured at batch 64 (see `benches/kernels.rs`), a
/// sample's own contiguous patch matrix made the forward products 25 to 35 % faster
/// than bands of one matrix for the whole batch, whose rows are far apart. The tests use
/// small groups, so that their small images still come in several groups.
const GROUP_FLOATS: usize = if cfg!(test) { 1 << 9 } else { 1 << 19 };

/// `y[b, f, oy, ox] = bias[f] + Σ_{c,ky,kx} weight[f, c, ky, kx]·x[b, c, oy·s + ky − pad_top,
/// ox·s + kx − pad_left]` (0 outside the input), for `x` `[batch, c, h, w]`, `weight`
/// `[filters, c, k, k]`, `bias` `[filters]` and `y` `[batch, filters, h', w']`
/// (overwritten). `scratch` is `shape.scratch_len(batch)` floats (contents ignored).
///
/// Per sample: its patch matrix into the scratch, then one product `weight · patches`
/// straight into its `[filters, h'·w']` block of `y`, then the bias.
pub fn conv2d_forward(
    shape: &Conv2dShape,
    batch: usize,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    scratch: &mut [f32],
    y: &mut [f32],
) {
    shape.check();
    assert_eq!(x.len(), batch * shape.in_len(), "conv2d: input size");
    assert_eq!(weight.len(), shape.weight_len(), "conv2d: weight size");
    assert_eq!(y.len(), batch * shape.out_len(), "conv2d: output size");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), shape.filters, "conv2d: bias size");
    }
    if shape.depthwise() {
        conv_depthwise::forward(shape, x, weight, bias, y);
        return;
    }
    if shape.direct_forward() {
        per_sample(shape, batch, scratch, x, y, |scratch, x_b, y_b| {
            let scratch = &mut scratch[..conv_direct::forward_scratch_len(shape)];
            conv_direct::forward_one(shape, x_b, weight, bias, scratch, y_b);
        });
        return;
    }
    // The weights meet every sample's patches: packed once (one group, the usual case).
    let shared = (shape.groups == 1).then(|| group_weight(shape, 0, weight));
    with_maybe_shared(shared, |left| {
        per_sample(shape, batch, scratch, x, y, |patches, x_b, y_b| {
            let patches = &mut patches[..shape.col_len(1)];
            im2col_one(shape, x_b, patches);
            let (filters, cols, pixels) = group_sizes(shape);
            for g in 0..shape.groups {
                let patches = MatRef::new(group_rows(patches, g, cols, pixels), cols, pixels);
                let y = group_rows_mut(y_b, g, filters, pixels);
                match left {
                    Some(left) => gemm_shared(left, patches, 0.0, y),
                    None => gemm(group_weight(shape, g, weight), patches, 0.0, y),
                }
            }
            if let Some(bias) = bias {
                for (row, &bias) in y_b.chunks_exact_mut(shape.out_pixels()).zip(bias) {
                    row.iter_mut().for_each(|v| *v += bias);
                }
            }
        })
    });
}

/// `grad_x[b, c, iy, ix] += Σ_{f, ky, kx} weight[f, c, ky, kx]·grad_y[b, f, oy, ox]` over
/// the output pixels whose window puts tap `(ky, kx)` on `(iy, ix)`. Per sample: the patch
/// gradient `weightᵀ [c·k·k, filters] · grad_y_b [filters, h'·w']` into the scratch
/// (`shape.scratch_len(batch)`), then [`col2im_one`] adds it onto the pixels.
pub fn conv2d_input_grad(
    shape: &Conv2dShape,
    batch: usize,
    weight: &[f32],
    grad_y: &[f32],
    scratch: &mut [f32],
    grad_x: &mut [f32],
) {
    shape.check();
    assert_eq!(weight.len(), shape.weight_len(), "conv2d: weight size");
    assert_eq!(
        grad_y.len(),
        batch * shape.out_len(),
        "conv2d: output gradient size"
    );
    assert_eq!(
        grad_x.len(),
        batch * shape.in_len(),
        "conv2d: input gradient size"
    );
    if shape.depthwise() {
        conv_depthwise::input_grad(shape, weight, grad_y, grad_x);
        return;
    }
    let shared = (shape.groups == 1).then(|| group_weight(shape, 0, weight).t());
    with_maybe_shared(shared, |left| {
        per_sample(
            shape,
            batch,
            scratch,
            grad_y,
            grad_x,
            |patches, grad_y_b, grad_x_b| {
                let patches = &mut patches[..shape.col_len(1)];
                let (filters, cols, pixels) = group_sizes(shape);
                for g in 0..shape.groups {
                    let grad_y = group_rows(grad_y_b, g, filters, pixels);
                    let grad_y = MatRef::new(grad_y, filters, pixels);
                    let patches = group_rows_mut(patches, g, cols, pixels);
                    match left {
                        Some(left) => gemm_shared(left, grad_y, 0.0, patches),
                        None => gemm(group_weight(shape, g, weight).t(), grad_y, 0.0, patches),
                    }
                }
                col2im_one(shape, patches, grad_x_b);
            },
        )
    });
}

/// Runs `work` with `a` packed once for all its products when there is one to share.
fn with_maybe_shared<R>(
    a: Option<MatRef<'_>>,
    work: impl FnOnce(Option<&SharedLeft<'_>>) -> R,
) -> R {
    match a {
        Some(a) => with_shared_left(a, |left| work(Some(left))),
        None => work(None),
    }
}

/// Filters, patch rows and output pixels of each group's product.
fn group_sizes(shape: &Conv2dShape) -> (usize, usize, usize) {
    (
        shape.group_filters(),
        shape.group_patch_len(),
        shape.out_pixels(),
    )
}

/// Group `g`'s weights, `[filters / groups, (c / groups)·k·k]`.
fn group_weight<'a>(shape: &Conv2dShape, g: usize, weight: &'a [f32]) -> MatRef<'a> {
    let (rows, cols) = (shape.group_filters(), shape.group_patch_len());
    MatRef::new(&weight[g * rows * cols..][..rows * cols], rows, cols)
}

/// Group `g`'s `rows` rows of a matrix of `pixels` columns cut into equal groups of rows.
fn group_rows(m: &[f32], g: usize, rows: usize, pixels: usize) -> &[f32] {
    &m[g * rows * pixels..][..rows * pixels]
}

/// [`group_rows`], to write.
fn group_rows_mut(m: &mut [f32], g: usize, rows: usize, pixels: usize) -> &mut [f32] {
    &mut m[g * rows * pixels..][..rows * pixels]
}

/// Runs `work(patches, input_b, output_b)` for every sample, a group at a time (each
/// sample of a group on the worker pool, with its own `[c·k·k, h'·w']` of `scratch`).
/// `input` and `output` are cut into samples of whichever of `in_len`/`out_len` fits.
fn per_sample(
    shape: &Conv2dShape,
    batch: usize,
    scratch: &mut [f32],
    input: &[f32],
    output: &mut [f32],
    work: impl Fn(&mut [f32], &[f32], &mut [f32]) + Sync,
) {
    assert_eq!(
        scratch.len(),
        shape.scratch_len(batch),
        "conv2d: scratch size"
    );
    if batch == 0 || input.is_empty() || output.is_empty() {
        return;
    }
    let (input_len, output_len) = (input.len() / batch, output.len() / batch);
    let group = shape.group(batch);
    for (input, output) in input
        .chunks(group * input_len)
        .zip(output.chunks_mut(group * output_len))
    {
        let patches = scratch.par_chunks_mut(shape.sample_scratch_len().max(1));
        patches
            .zip(input.par_chunks(input_len))
            .zip(output.par_chunks_mut(output_len))
            .for_each(|((patches, input), output)| work(patches, input, output));
    }
}

/// The two scratch buffers of [`conv2d_weight_grad`], sized by
/// [`Conv2dShape::weight_scratch_len`] (contents ignored).
#[derive(Debug)]
pub struct WeightGradScratch<'a> {
    /// The batch's input rearranged: its patch matrix (or padded images).
    pub input: &'a mut [f32],
    /// The output gradient rearranged: by filter (or padded rows).
    pub grad: &'a mut [f32],
}

/// `grad_weight[f, (c, ky, kx)] += Σ_{b, p} grad_y[b, f, p]·x[b, c, p·s + (ky, kx) − pad]`:
/// for each sample, its patch matrix (`[c·k·k, h'·w']`) is built in the scratch and the
/// product `grad_y[b] · patchesᵀ` added to its chunk's partial gradient; the partials are
/// then added in chunk order ([`weight_chunks`]), whatever the thread count.
pub fn conv2d_weight_grad(
    shape: &Conv2dShape,
    batch: usize,
    x: &[f32],
    grad_y: &[f32],
    scratch: WeightGradScratch<'_>,
    grad_weight: &mut [f32],
) {
    weight_product(shape, batch, 1.0, x, grad_y, scratch, grad_weight);
}

/// [`conv2d_weight_grad`] as a fused SGD step, `weight ← weight − lr·∂L/∂weight`, with no
/// gradient buffer (the partial sums added into the weights scaled by −lr), for plain
/// SGD's update inside backward.
pub fn conv2d_weight_sgd(
    shape: &Conv2dShape,
    batch: usize,
    lr: f32,
    x: &[f32],
    grad_y: &[f32],
    scratch: WeightGradScratch<'_>,
    weight: &mut [f32],
) {
    weight_product(shape, batch, -lr, x, grad_y, scratch, weight);
}

/// `out ← out + alpha·rows·colᵀ`.
fn weight_product(
    shape: &Conv2dShape,
    batch: usize,
    alpha: f32,
    x: &[f32],
    grad_y: &[f32],
    scratch: WeightGradScratch<'_>,
    out: &mut [f32],
) {
    shape.check();
    assert_eq!(out.len(), shape.weight_len(), "conv2d: weight size");
    assert_eq!(x.len(), batch * shape.in_len(), "conv2d: input size");
    assert_eq!(
        grad_y.len(),
        batch * shape.out_len(),
        "conv2d: output gradient size"
    );
    let WeightGradScratch {
        input: col,
        grad: rows,
    } = scratch;
    let (col_len, rows_len) = shape.weight_scratch_len(batch);
    assert_eq!(
        col.len(),
        col_len,
        "conv2d: weight-gradient input scratch size"
    );
    assert_eq!(
        rows.len(),
        rows_len,
        "conv2d: weight-gradient gradient scratch size"
    );
    if shape.depthwise() {
        conv_depthwise::weight_grad(shape, batch, alpha, x, grad_y, out);
        return;
    }
    if shape.direct_weight_grad() {
        conv_direct::weight_grad(shape, batch, alpha, x, grad_y, col, rows, out);
        return;
    }
    if batch == 0 {
        return;
    }
    let (in_len, out_len) = (shape.in_len(), shape.out_len());
    let per_chunk = batch.div_ceil(weight_chunks(batch));
    let chunks = batch.div_ceil(per_chunk);
    let partials = &mut rows[..chunks * shape.weight_len()];
    partials
        .par_chunks_mut(shape.weight_len())
        .zip(col.par_chunks_mut(shape.col_len(1)))
        .enumerate()
        .for_each(|(chunk, (partial, patches))| {
            partial.fill(0.0);
            for b in chunk * per_chunk..((chunk + 1) * per_chunk).min(batch) {
                im2col_one(shape, &x[b * in_len..][..in_len], patches);
                let grad_y_b = &grad_y[b * out_len..][..out_len];
                let (filters, cols, pixels) = group_sizes(shape);
                for (g, partial) in partial.chunks_exact_mut(filters * cols).enumerate() {
                    let grad_y = group_rows(grad_y_b, g, filters, pixels);
                    let patches = group_rows(patches, g, cols, pixels);
                    gemm(
                        MatRef::new(grad_y, filters, pixels),
                        MatRef::new(patches, cols, pixels).t(),
                        1.0,
                        partial,
                    );
                }
            }
        });
    for partial in partials.chunks_exact(shape.weight_len()) {
        simd::axpy(alpha, partial, out);
    }
}

/// Chunks of samples the weight gradient is cut into, at most [`WEIGHT_CHUNKS`]: each
/// sums its samples' products in sample order into its own partial gradient, and the
/// partials are added in chunk order, so the threads share the batch and the bits stay
/// those of one thread. One sample's patch matrix at a time stays in cache (`convnet`'s
/// second layer: 0.66 MB, against 42 MB for the batch's), and the output gradient of a
/// sample is already the `[filters, h'·w']` left operand, with no gather.
fn weight_chunks(batch: usize) -> usize {
    batch.clamp(1, WEIGHT_CHUNKS)
}

/// See [`weight_chunks`]: enough for two cores' worth of balanced tasks at batch 64.
const WEIGHT_CHUNKS: usize = 8;

/// `grad_bias[f] += Σ_{b, p} grad_y[b, f, p]`: each `(sample, filter)` plane summed in
/// eight lanes ([`reduce::sum`]), the planes added in `f64` in sample order.
pub fn conv2d_bias_grad(shape: &Conv2dShape, batch: usize, grad_y: &[f32], grad_bias: &mut [f32]) {
    bias_sums(shape, batch, 1.0, grad_y, grad_bias);
}

/// [`conv2d_bias_grad`] as a fused SGD step: `bias[f] −= lr·Σ_{b, p} grad_y[b, f, p]`.
pub fn conv2d_bias_sgd(
    shape: &Conv2dShape,
    batch: usize,
    lr: f32,
    grad_y: &[f32],
    bias: &mut [f32],
) {
    bias_sums(shape, batch, -lr, grad_y, bias);
}

fn bias_sums(shape: &Conv2dShape, batch: usize, alpha: f32, grad_y: &[f32], out: &mut [f32]) {
    let out_pixels = shape.out_pixels();
    assert_eq!(out.len(), shape.filters, "conv2d: bias size");
    assert_eq!(
        grad_y.len(),
        batch * shape.out_len(),
        "conv2d: output gradient size"
    );
    if out_pixels == 0 {
        return;
    }
    for (f, out) in out.iter_mut().enumerate() {
        let sum: f64 = (0..batch)
            .map(|b| {
                reduce::sum(&grad_y[(b * shape.filters + f) * out_pixels..][..out_pixels]) as f64
            })
            .sum();
        *out += alpha * sum as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::filled;
    use proptest::prelude::*;

    /// The input pixel `(b, c)` tap `(ky, kx)` of output `(oy, ox)` reads, if any.
    fn source(s: &Conv2dShape, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
        let iy = (oy * s.stride + ky * s.dilation).checked_sub(s.pad_top)?;
        let ix = (ox * s.stride + kx * s.dilation).checked_sub(s.pad_left)?;
        (iy < s.height && ix < s.width).then_some(iy * s.width + ix)
    }

    /// Direct loops in f64: the output, and for `L = Σ grad_y·y` the gradients of the
    /// input, the weights and the bias.
    struct Reference {
        y: Vec<f64>,
        grad_x: Vec<f64>,
        grad_w: Vec<f64>,
        grad_bias: Vec<f64>,
    }

    #[allow(clippy::needless_range_loop)] // the loops spell out the definition
    fn reference(
        s: &Conv2dShape,
        batch: usize,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        grad_y: &[f32],
    ) -> Reference {
        let (k, plane) = (s.kernel, s.height * s.width);
        let mut r = Reference {
            y: vec![0.0; batch * s.out_len()],
            grad_x: vec![0.0; x.len()],
            grad_w: vec![0.0; w.len()],
            grad_bias: vec![0.0; s.filters],
        };
        for b in 0..batch {
            for f in 0..s.filters {
                for oy in 0..s.out_height {
                    for ox in 0..s.out_width {
                        let o = ((b * s.filters + f) * s.out_height + oy) * s.out_width + ox;
                        let g = grad_y[o] as f64;
                        let mut sum = bias[f] as f64;
                        r.grad_bias[f] += g;
                        for within in 0..s.group_channels() {
                            let c = f / s.group_filters() * s.group_channels() + within;
                            for ky in 0..k {
                                for kx in 0..k {
                                    let Some(p) = source(s, oy, ox, ky, kx) else {
                                        continue;
                                    };
                                    let xi = (b * s.channels + c) * plane + p;
                                    let wi = ((f * s.group_channels() + within) * k + ky) * k + kx;
                                    sum += w[wi] as f64 * x[xi] as f64;
                                    r.grad_x[xi] += w[wi] as f64 * g;
                                    r.grad_w[wi] += x[xi] as f64 * g;
                                }
                            }
                        }
                        r.y[o] = sum;
                    }
                }
            }
        }
        r
    }

    /// Everything one forward and backward pass produces, from gradients that start at
    /// `start_*` (accumulation).
    struct Pass {
        y: Vec<f32>,
        grad_x: Vec<f32>,
        grad_w: Vec<f32>,
        grad_bias: Vec<f32>,
    }

    fn run(
        s: &Conv2dShape,
        batch: usize,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        grad_y: &[f32],
        times: usize,
    ) -> Pass {
        let mut scratch = vec![f32::NAN; s.scratch_len(batch)];
        let (col_len, rows_len) = s.weight_scratch_len(batch);
        let (mut col, mut rows) = (vec![f32::NAN; col_len], vec![f32::NAN; rows_len]);
        let mut pass = Pass {
            y: vec![f32::NAN; batch * s.out_len()],
            grad_x: filled(x.len(), 11),
            grad_w: filled(w.len(), 12),
            grad_bias: filled(bias.len(), 13),
        };
        conv2d_forward(s, batch, x, w, Some(bias), &mut scratch, &mut pass.y);
        for _ in 0..times {
            let scratch = WeightGradScratch {
                input: &mut col,
                grad: &mut rows,
            };
            conv2d_weight_grad(s, batch, x, grad_y, scratch, &mut pass.grad_w);
            conv2d_bias_grad(s, batch, grad_y, &mut pass.grad_bias);
            conv2d_input_grad(
                s,
                batch,
                w,
                grad_y,
                &mut scratch_for(s, batch),
                &mut pass.grad_x,
            );
        }
        pass
    }

    /// A fresh scratch full of NaN: a kernel that read it before writing would show.
    fn scratch_for(s: &Conv2dShape, batch: usize) -> Vec<f32> {
        vec![f32::NAN; s.scratch_len(batch)]
    }

    fn assert_close(what: &str, got: &[f32], start: &[f32], want: &[f64], times: f64, scale: f64) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, ((&got, &start), &want)) in got.iter().zip(start).zip(want).enumerate() {
            let want = start as f64 + times * want;
            let tol = 1e-5 * scale * (1.0 + want.abs());
            assert!(
                (got as f64 - want).abs() <= tol,
                "{what}[{i}]: {got} vs {want}"
            );
        }
    }

    fn paddings() -> impl Strategy<Value = Padding> {
        prop_oneof![
            (0usize..3).prop_map(Padding::Each),
            (0usize..3, 0usize..4).prop_map(|(begin, end)| Padding::Split { begin, end }),
            Just(Padding::Same),
        ]
    }

    /// Shapes from 1×1 images up, kernels from 1 to past the input (with padding),
    /// strides past the kernel, one group, several, or one per channel (depthwise, with
    /// one or two filters each), dilated or not; `None` where no window fits.
    fn shapes() -> impl Strategy<Value = (Conv2dShape, usize)> {
        (
            (1usize..4, 1usize..4),
            1usize..10,
            1usize..10,
            (1usize..3, 1usize..6),
            1usize..6,
            1usize..5,
            paddings(),
            1usize..=5,
            (0usize..3, 1usize..3),
        )
            .prop_filter_map(
                "a window fits",
                |(
                    (groups, per_group),
                    h,
                    w,
                    (per_filter, f),
                    k,
                    stride,
                    pad,
                    batch,
                    (kind, dilation),
                )| {
                    // kind 0: one group (any filter count); 1: grouped; 2: depthwise.
                    let (c, f, groups) = match kind {
                        0 => (per_group.max(groups), f, 1),
                        1 => (groups * per_group, groups * per_filter, groups),
                        _ => (groups + 1, (groups + 1) * per_filter, groups + 1),
                    };
                    let shape =
                        Conv2dShape::grouped([c, h, w], f, k, stride, pad, groups, dilation)?;
                    Some((shape, batch))
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(160))]
        #[test]
        fn forward_and_gradients_match_direct_loops((s, batch) in shapes(), seed: u64, twice: bool) {
            let x = filled(batch * s.in_len(), seed);
            let w = filled(s.weight_len(), seed ^ 1);
            let bias = filled(s.filters, seed ^ 2);
            let grad_y = filled(batch * s.out_len(), seed ^ 3);
            let want = reference(&s, batch, &x, &w, &bias, &grad_y);
            let times = if twice { 2 } else { 1 };
            let got = run(&s, batch, &x, &w, &bias, &grad_y, times);
            let scale = (s.patch_len() * batch * s.out_pixels()) as f64;
            let zeros = vec![0.0; got.y.len()];
            assert_close("y", &got.y, &zeros, &want.y, 1.0, scale.sqrt());
            // Backward adds its contribution on every call.
            assert_close("grad_x", &got.grad_x, &filled(x.len(), 11), &want.grad_x, times as f64, scale.sqrt());
            assert_close("grad_w", &got.grad_w, &filled(w.len(), 12), &want.grad_w, times as f64, scale.sqrt());
            assert_close("grad_bias", &got.grad_bias, &filled(s.filters, 13), &want.grad_bias, times as f64, scale.sqrt());
        }

        /// The fused SGD steps are the gradients scaled by −lr and added to the parameters.
        #[test]
        fn sgd_steps_subtract_lr_times_the_gradient((s, batch) in shapes(), seed: u64) {
            let x = filled(batch * s.in_len(), seed);
            let w = filled(s.weight_len(), seed ^ 1);
            let bias = filled(s.filters, seed ^ 2);
            let grad_y = filled(batch * s.out_len(), seed ^ 3);
            let want = reference(&s, batch, &x, &w, &bias, &grad_y);
            let (col_len, rows_len) = s.weight_scratch_len(batch);
            let (mut col, mut rows) = (vec![0.0; col_len], vec![0.0; rows_len]);
            let (mut new_w, mut new_bias) = (w.clone(), bias.clone());
            conv2d_weight_sgd(&s, batch, 0.1, &x, &grad_y, WeightGradScratch { input: &mut col, grad: &mut rows }, &mut new_w);
            conv2d_bias_sgd(&s, batch, 0.1, &grad_y, &mut new_bias);
            let scale = ((s.patch_len() * batch * s.out_pixels()) as f64).sqrt();
            assert_close("w", &new_w, &w, &want.grad_w, -0.1, scale);
            assert_close("bias", &new_bias, &bias, &want.grad_bias, -0.1, scale);
        }

        #[test]
        fn no_bias_means_zero_bias((s, batch) in shapes(), seed: u64) {
            let x = filled(batch * s.in_len(), seed);
            let w = filled(s.weight_len(), seed ^ 1);
            let (mut y, mut y0) = (vec![0.0; batch * s.out_len()], vec![0.0; batch * s.out_len()]);
            conv2d_forward(&s, batch, &x, &w, None, &mut scratch_for(&s, batch), &mut y);
            conv2d_forward(&s, batch, &x, &w, Some(&vec![0.0; s.filters]), &mut scratch_for(&s, batch), &mut y0);
            prop_assert_eq!(y, y0);
        }
    }

    /// `L(x, w) = Σ grad_y·conv(x, w)` in f64, from the f32 forward kernel.
    fn loss(s: &Conv2dShape, batch: usize, x: &[f32], w: &[f32], grad_y: &[f32]) -> f64 {
        let mut y = vec![0.0; batch * s.out_len()];
        conv2d_forward(s, batch, x, w, None, &mut scratch_for(s, batch), &mut y);
        y.iter()
            .zip(grad_y)
            .map(|(&y, &g)| y as f64 * g as f64)
            .sum()
    }

    /// Central differences of `L` in f32 steps, against the backward kernels; the
    /// tolerance is the README's (relative, plus rounding of `L` over the step).
    #[test]
    fn gradients_match_central_differences() {
        let cases = [
            (Conv2dShape::new([2, 7, 6], 3, 3, 1, Padding::Each(1)), 2),
            (Conv2dShape::new([1, 8, 8], 2, 4, 1, Padding::Same), 3),
            (
                Conv2dShape::new([3, 9, 7], 2, 2, 3, Padding::Split { begin: 1, end: 0 }),
                2,
            ),
            (Conv2dShape::new([2, 5, 5], 4, 5, 1, Padding::Each(0)), 2),
            (
                Conv2dShape::grouped([4, 7, 7], 6, 3, 1, Padding::Same, 2, 2),
                2,
            ),
            (
                Conv2dShape::grouped([3, 7, 6], 6, 3, 2, Padding::Each(1), 3, 1),
                2,
            ),
        ];
        for (s, batch) in cases {
            let s = s.expect("a valid shape");
            let (x, w) = (filled(batch * s.in_len(), 5), filled(s.weight_len(), 6));
            let grad_y = filled(batch * s.out_len(), 7);
            let bias = vec![0.0; s.filters];
            let mut pass = run(&s, batch, &x, &w, &bias, &grad_y, 1);
            pass.grad_x
                .iter_mut()
                .zip(filled(x.len(), 11))
                .for_each(|(g, s)| *g -= s);
            pass.grad_w
                .iter_mut()
                .zip(filled(w.len(), 12))
                .for_each(|(g, s)| *g -= s);
            let h = 1e-2f32;
            let check = |what: &str, i: usize, analytic: f32, plus: f64, minus: f64| {
                let numeric = (plus - minus) / (2.0 * h as f64);
                let tol = 1e-2 * (1e-2 + analytic.abs().max(numeric.abs() as f32)) as f64
                    + 8.0 * f32::EPSILON as f64 * plus.abs() / h as f64;
                assert!(
                    (analytic as f64 - numeric).abs() <= tol,
                    "{s:?} {what}[{i}]: {analytic} vs {numeric}"
                );
            };
            for i in 0..x.len() {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                check(
                    "x",
                    i,
                    pass.grad_x[i],
                    loss(&s, batch, &up, &w, &grad_y),
                    loss(&s, batch, &down, &w, &grad_y),
                );
            }
            for i in 0..w.len() {
                let (mut up, mut down) = (w.clone(), w.clone());
                up[i] += h;
                down[i] -= h;
                check(
                    "w",
                    i,
                    pass.grad_w[i],
                    loss(&s, batch, &x, &up, &grad_y),
                    loss(&s, batch, &x, &down, &grad_y),
                );
            }
        }
    }

    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits())
    }

    /// Large enough that every product is cut into bands and every copy shared.
    #[test]
    fn bits_do_not_depend_on_the_thread_count() {
        let cases = [
            (Conv2dShape::new([8, 20, 20], 70, 3, 1, Padding::Same), 5),
            (Conv2dShape::new([1, 28, 28], 6, 5, 1, Padding::Each(2)), 9),
            (Conv2dShape::new([6, 14, 14], 16, 5, 2, Padding::Each(0)), 7),
            (
                Conv2dShape::grouped([8, 14, 14], 16, 3, 1, Padding::Same, 4, 2),
                7,
            ),
            (
                Conv2dShape::grouped([16, 14, 14], 16, 3, 2, Padding::Same, 16, 1),
                7,
            ),
        ];
        for (s, batch) in cases {
            let s = s.expect("a valid shape");
            let x = filled(batch * s.in_len(), 1);
            let w = filled(s.weight_len(), 2);
            let bias = filled(s.filters, 3);
            let grad_y = filled(batch * s.out_len(), 4);
            let one = crate::kernels::on_worker_pool(Some(1), || {
                run(&s, batch, &x, &w, &bias, &grad_y, 1)
            });
            for threads in [2, 3] {
                let many = crate::kernels::on_worker_pool(Some(threads), || {
                    run(&s, batch, &x, &w, &bias, &grad_y, 1)
                });
                assert!(same_bits(&one.y, &many.y), "{s:?}: y on {threads} threads");
                assert!(
                    same_bits(&one.grad_x, &many.grad_x),
                    "{s:?}: grad_x on {threads} threads"
                );
                assert!(
                    same_bits(&one.grad_w, &many.grad_w),
                    "{s:?}: grad_w on {threads} threads"
                );
                assert!(
                    same_bits(&one.grad_bias, &many.grad_bias),
                    "{s:?}: grad_bias on {threads} threads"
                );
            }
        }
    }
}
