//! Kernel benchmarks: one core's FMA peak (the roofline every GFLOP/s figure is read
//! against), `sgemm` at the seed network's shapes (throughput in FLOP/s), the
//! element-wise kernels over a 64×256 activation, and the layers of the `lenet` and
//! `convnet` races at batch 64: convolutions (against the alternatives in
//! [`alternatives`]), pooling and batch norm.
//!
//! `cargo bench --bench kernels`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nnc::kernels::batchnorm::{BatchNorm, BatchNormGrads, BatchStats};
use nnc::kernels::conv::{self, Conv2dShape, Padding, WeightGradScratch};
use nnc::kernels::pooling::{self as pool, PoolShape};
use nnc::kernels::{MatRef, gemm, reduce, simd};

fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// One core's peak: ten independent chains of fused multiply-adds on the widest vectors
/// the build targets (`f32x16` in `zmm` registers on AVX-512, `f32x8` in `ymm` on AVX2),
/// enough chains to cover the FMA latency on both FMA pipes. Throughput is FLOP/s.
fn fma_peak(c: &mut Criterion) {
    macro_rules! peak {
        ($vector:ty, $lanes:literal, $name:literal) => {{
            const CHAINS: usize = 10;
            const STEPS: usize = 10_000;
            let mut group = c.benchmark_group("peak");
            group.throughput(Throughput::Elements((2 * $lanes * CHAINS * STEPS) as u64));
            group.bench_function($name, |b| {
                let s = <$vector>::splat(std::hint::black_box(0.999_9));
                b.iter(|| {
                    let mut acc = [<$vector>::splat(1.0); CHAINS];
                    for _ in 0..STEPS {
                        for a in acc.iter_mut() {
                            *a = a.mul_add(s, s);
                        }
                    }
                    std::hint::black_box(acc)
                })
            });
            group.finish();
        }};
    }
    if cfg!(target_feature = "avx512f") {
        peak!(wide::f32x16, 16, "fma_one_core_f32x16");
    } else {
        peak!(wide::f32x8, 8, "fma_one_core_f32x8");
    }
}

fn sgemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgemm");
    let (k, n) = (784, 256);
    let w = data(n * k);
    for m in [1, 32, 64, 128, 256] {
        let x = data(m * k);
        let mut y = vec![0.0; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        // The forward product of a dense layer: x·Wᵀ.
        group.bench_with_input(
            BenchmarkId::new("x_wT", format!("{m}x{k}x{n}")),
            &m,
            |b, &m| {
                b.iter(|| {
                    gemm(
                        MatRef::new(&x, m, k),
                        MatRef::new(&w, n, k).t(),
                        0.0,
                        &mut y,
                    )
                })
            },
        );
        // Its weight gradient: dyᵀ·x, accumulated.
        let dy = data(m * n);
        let mut dw = vec![0.0; n * k];
        group.bench_with_input(
            BenchmarkId::new("dyT_x", format!("{m}x{k}x{n}")),
            &m,
            |b, &m| {
                b.iter(|| {
                    gemm(
                        MatRef::new(&dy, m, n).t(),
                        MatRef::new(&x, m, k),
                        1.0,
                        &mut dw,
                    )
                })
            },
        );
    }
    group.finish();
}

/// One core: nnc's packed product (the kernel `nnc bench` reports) against
/// `matrixmultiply::sgemm` (the portable path and the reference), `c = a·b`, at the seed
/// network's forward product, convnet's `conv1` forward for 8 images at once, and one
/// sample's three `conv1` products: forward `W·patches`, input gradient `Wᵀ·dy`, weight
/// gradient `dy·patchesᵀ`.
fn sgemm_one_core(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgemm_one_core");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let shapes = [
        ("x_w", 128, 784, 256, false),
        ("w_patches8", 64, 288, 8 * 576, false),
        ("w_patches", 64, 288, 576, false),
        ("wT_dy", 288, 64, 576, false),
        ("dy_patchesT", 64, 576, 288, true),
    ];
    for (name, m, k, n, b_transposed) in shapes {
        let a = data(m * k);
        let b = data(k * n);
        let mut y = vec![0.0; m * n];
        let b_view = || {
            if b_transposed {
                MatRef::new(&b, n, k).t()
            } else {
                MatRef::new(&b, k, n)
            }
        };
        let (b_rows, b_cols) = if b_transposed { (1, k) } else { (n, 1) };
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let shape = format!("{name}/{m}x{k}x{n}");
        group.bench_function(BenchmarkId::new("nnc", &shape), |bench| {
            one.install(|| bench.iter(|| gemm(MatRef::new(&a, m, k), b_view(), 0.0, &mut y)))
        });
        group.bench_function(BenchmarkId::new("matrixmultiply", &shape), |bench| {
            bench.iter(|| {
                // SAFETY: the buffers are m×k, k×n (or its transpose) and m×n, row-major,
                // as the strides say.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        b_rows as isize,
                        b_cols as isize,
                        0.0,
                        y.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
        });
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise_64x256");
    let x = data(64 * 256);
    let mut y = vec![0.0; 64 * 256];
    group.throughput(Throughput::Elements(x.len() as u64));
    group.bench_function("sigmoid", |b| b.iter(|| simd::sigmoid(&x, &mut y)));
    group.bench_function("exp", |b| b.iter(|| simd::exp(&x, &mut y)));
    group.bench_function("softmax_rows", |b| {
        b.iter(|| reduce::softmax_rows(&x, 256, &mut y))
    });
    // A classifier's output: ten scores per row, a batch of 1000 rows.
    let scores = data(1000 * 10);
    let mut probabilities = vec![0.0; scores.len()];
    group.bench_function("softmax_rows_1000x10", |b| {
        b.iter(|| reduce::softmax_rows(&scores, 10, &mut probabilities))
    });
    group.bench_function("log_softmax_rows_1000x10", |b| {
        b.iter(|| reduce::log_softmax_rows(&scores, 10, &mut probabilities))
    });
    let bias = data(256);
    group.bench_function("bias_add", |b| b.iter(|| simd::bias_add(&bias, &mut y)));
    let mut sums = vec![0.0; 256];
    group.bench_function("column_sum", |b| {
        b.iter(|| simd::column_sum_acc(&x, &mut sums))
    });
    group.finish();
}

/// The ways of computing a convolution that the kernels were measured against; kept here
/// so that the numbers in the commit history can be measured again.
mod alternatives {
    use nnc::kernels::conv::Conv2dShape;
    use nnc::kernels::im2col::{col2im, im2col};
    use nnc::kernels::{MatRef, gemm};
    use rayon::prelude::*;

    /// Direct loops, no patch matrix: the naive baseline (samples on the worker pool).
    pub fn naive_forward(s: &Conv2dShape, x: &[f32], w: &[f32], y: &mut [f32]) {
        let (k, plane) = (s.kernel, s.height * s.width);
        y.par_chunks_mut(s.out_len())
            .zip(x.par_chunks(s.in_len()))
            .for_each(|(y, x)| {
                for f in 0..s.filters {
                    for oy in 0..s.out_height {
                        for ox in 0..s.out_width {
                            let mut sum = 0.0;
                            for c in 0..s.channels {
                                for ky in 0..k {
                                    let Some(iy) = (oy * s.stride + ky).checked_sub(s.pad_top)
                                    else {
                                        continue;
                                    };
                                    if iy >= s.height {
                                        continue;
                                    }
                                    for kx in 0..k {
                                        let Some(ix) = (ox * s.stride + kx).checked_sub(s.pad_left)
                                        else {
                                            continue;
                                        };
                                        if ix < s.width {
                                            sum += w[((f * s.channels + c) * k + ky) * k + kx]
                                                * x[c * plane + iy * s.width + ix];
                                        }
                                    }
                                }
                            }
                            y[(f * s.out_height + oy) * s.out_width + ox] = sum;
                        }
                    }
                }
            });
    }

    /// One patch matrix for the batch (`[c·k·k, batch·h'·w']`), one product into `rows`
    /// (`[filters, batch·h'·w']`), then a copy into `[batch, filters, h'·w']`.
    pub fn batched_forward(
        s: &Conv2dShape,
        batch: usize,
        x: &[f32],
        w: &[f32],
        col: &mut [f32],
        rows: &mut [f32],
        y: &mut [f32],
    ) {
        im2col(s, batch, x, col);
        let (n, out_pixels) = (batch * s.out_pixels(), s.out_pixels());
        gemm(
            MatRef::new(w, s.filters, s.patch_len()),
            MatRef::new(col, s.patch_len(), n),
            0.0,
            rows,
        );
        y.par_chunks_mut(out_pixels).enumerate().for_each(|(i, y)| {
            let (b, f) = (i / s.filters, i % s.filters);
            y.copy_from_slice(&rows[f * n + b * out_pixels..][..out_pixels]);
        });
    }

    /// One patch matrix for the batch, then a product per sample from its band of columns.
    pub fn banded_forward(
        s: &Conv2dShape,
        batch: usize,
        x: &[f32],
        w: &[f32],
        col: &mut [f32],
        y: &mut [f32],
    ) {
        im2col(s, batch, x, col);
        let out_pixels = s.out_pixels();
        let (w, col) = (
            MatRef::new(w, s.filters, s.patch_len()),
            MatRef::new(col, s.patch_len(), batch * out_pixels),
        );
        y.par_chunks_mut(s.out_len())
            .enumerate()
            .for_each(|(b, y)| {
                gemm(
                    w,
                    col.col_band(b * out_pixels..(b + 1) * out_pixels),
                    0.0,
                    y,
                );
            });
    }

    /// The weight gradient through the batch's patch matrix and one product, whatever the
    /// shape (the library takes a direct path for one input channel at stride 1).
    pub fn im2col_weight_grad(
        s: &Conv2dShape,
        batch: usize,
        x: &[f32],
        grad_y: &[f32],
        col: &mut [f32],
        rows: &mut [f32],
        grad_w: &mut [f32],
    ) {
        im2col(s, batch, x, col);
        let (n, out_pixels) = (batch * s.out_pixels(), s.out_pixels());
        rows.par_chunks_mut(out_pixels)
            .enumerate()
            .for_each(|(i, dst)| {
                let (f, b) = (i / batch, i % batch);
                dst.copy_from_slice(&grad_y[(b * s.filters + f) * out_pixels..][..out_pixels]);
            });
        gemm(
            MatRef::new(rows, s.filters, n),
            MatRef::new(col, s.patch_len(), n).t(),
            1.0,
            grad_w,
        );
    }

    /// The output gradient gathered by filter, one product `Wᵀ·rows` for the batch, then
    /// col2im of the batch.
    pub fn batched_input_grad(
        s: &Conv2dShape,
        batch: usize,
        w: &[f32],
        grad_y: &[f32],
        rows: &mut [f32],
        col: &mut [f32],
        grad_x: &mut [f32],
    ) {
        let (n, out_pixels) = (batch * s.out_pixels(), s.out_pixels());
        rows.par_chunks_mut(out_pixels)
            .enumerate()
            .for_each(|(i, dst)| {
                let (f, b) = (i / batch, i % batch);
                dst.copy_from_slice(&grad_y[(b * s.filters + f) * out_pixels..][..out_pixels]);
            });
        gemm(
            MatRef::new(w, s.filters, s.patch_len()).t(),
            MatRef::new(rows, s.filters, n),
            0.0,
            col,
        );
        col2im(s, batch, col, grad_x);
    }
}

/// The convolutions of `lenet` (conv 6@5x5 pad 2 on 1x28x28, conv 16@5x5 on 6x14x14) and
/// `convnet` (conv 32@3x3 on 1x28x28, conv 64@3x3 on 32x26x26), at batch 64; throughput
/// in FLOP/s (`2·filters·c·k·k·h'·w'` per sample).
fn convolution(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_b64");
    group.sample_size(20);
    let batch = 64;
    let layers = [
        ("lenet1", [1, 28, 28], 6, 5, 2),
        ("lenet2", [6, 14, 14], 16, 5, 0),
        ("convnet1", [1, 28, 28], 32, 3, 0),
        ("convnet2", [32, 26, 26], 64, 3, 0),
    ];
    for (name, input, filters, kernel, pad) in layers {
        let s =
            Conv2dShape::new(input, filters, kernel, 1, Padding::Each(pad)).expect("a valid layer");
        let (x, w, bias) = (
            data(batch * s.in_len()),
            data(s.weight_len()),
            data(filters),
        );
        let grad_y = data(batch * s.out_len());
        let mut scratch = vec![0.0; s.scratch_len(batch)];
        let (mut col, mut rows) = (
            vec![0.0; s.col_len(batch)],
            vec![0.0; s.filters * batch * s.out_pixels()],
        );
        let (wcol_len, wrows_len) = s.weight_scratch_len(batch);
        let (mut wcol, mut wrows) = (vec![0.0; wcol_len], vec![0.0; wrows_len]);
        let mut y = vec![0.0; batch * s.out_len()];
        let (mut grad_x, mut grad_w) = (vec![0.0; batch * s.in_len()], vec![0.0; s.weight_len()]);
        group.throughput(Throughput::Elements((2 * s.macs() * batch) as u64));
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| conv::conv2d_forward(&s, batch, &x, &w, Some(&bias), &mut scratch, &mut y))
        });
        group.bench_function(BenchmarkId::new("forward_banded", name), |b| {
            b.iter(|| alternatives::banded_forward(&s, batch, &x, &w, &mut col, &mut y))
        });
        group.bench_function(BenchmarkId::new("forward_batched", name), |b| {
            b.iter(|| alternatives::batched_forward(&s, batch, &x, &w, &mut col, &mut rows, &mut y))
        });
        group.bench_function(BenchmarkId::new("forward_naive", name), |b| {
            b.iter(|| alternatives::naive_forward(&s, &x, &w, &mut y))
        });
        group.bench_function(BenchmarkId::new("weight_grad", name), |b| {
            b.iter(|| {
                let scratch = WeightGradScratch {
                    input: &mut wcol,
                    grad: &mut wrows,
                };
                conv::conv2d_weight_grad(&s, batch, &x, &grad_y, scratch, &mut grad_w)
            })
        });
        group.bench_function(BenchmarkId::new("weight_grad_im2col", name), |b| {
            b.iter(|| {
                alternatives::im2col_weight_grad(
                    &s,
                    batch,
                    &x,
                    &grad_y,
                    &mut col,
                    &mut rows,
                    &mut grad_w,
                )
            })
        });
        group.bench_function(BenchmarkId::new("input_grad", name), |b| {
            b.iter(|| conv::conv2d_input_grad(&s, batch, &w, &grad_y, &mut scratch, &mut grad_x))
        });
        group.bench_function(BenchmarkId::new("input_grad_batched", name), |b| {
            b.iter(|| {
                alternatives::batched_input_grad(
                    &s,
                    batch,
                    &w,
                    &grad_y,
                    &mut rows,
                    &mut col,
                    &mut grad_x,
                )
            })
        });
    }
    group.finish();
}

/// Max pooling 2x2 of `lenet`'s first and `convnet`'s only pool, and batch norm over a
/// `convnet`-sized activation, at batch 64; throughput in input elements per second.
fn pooling_and_norm(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_norm_b64");
    let batch = 64;
    for (name, input) in [("lenet1", [6, 28, 28]), ("convnet", [64, 24, 24])] {
        let s = PoolShape::new(input, 2, 2).expect("a valid pool");
        let x = data(batch * s.in_len());
        let (mut y, mut argmax) = (
            vec![0.0; batch * s.out_len()],
            vec![0u32; batch * s.out_len()],
        );
        let mut grad_x = vec![0.0; x.len()];
        group.throughput(Throughput::Elements(x.len() as u64));
        group.bench_function(BenchmarkId::new("maxpool_forward", name), |b| {
            b.iter(|| pool::maxpool_forward(&s, batch, &x, &mut y, &mut argmax))
        });
        let grad_y = data(y.len());
        group.bench_function(BenchmarkId::new("maxpool_backward", name), |b| {
            b.iter(|| pool::maxpool_backward(&s, batch, &grad_y, &argmax, &mut grad_x))
        });
    }
    let bn = BatchNorm {
        batch,
        channels: 32,
        pixels: 26 * 26,
        eps: 1e-5,
    };
    let len = batch * 32 * 26 * 26;
    let (x, grad_y, gamma, beta) = (data(len), data(len), data(32), data(32));
    let (mut mean, mut var, mut y, mut grad_x) =
        (vec![0.0; 32], vec![0.0; 32], vec![0.0; len], vec![0.0; len]);
    let (mut grad_gamma, mut grad_beta, mut sums) = (vec![0.0; 32], vec![0.0; 32], vec![0.0; 64]);
    group.throughput(Throughput::Elements(len as u64));
    group.bench_function(
        BenchmarkId::new("batchnorm_forward_train", "32x26x26"),
        |b| b.iter(|| bn.forward_train(&x, &gamma, &beta, &mut mean, &mut var, &mut y)),
    );
    group.bench_function(BenchmarkId::new("batchnorm_backward", "32x26x26"), |b| {
        b.iter(|| {
            let grads = BatchNormGrads {
                x: &mut grad_x,
                gamma: &mut grad_gamma,
                beta: &mut grad_beta,
            };
            bn.backward(
                &x,
                &gamma,
                BatchStats {
                    mean: &mean,
                    var: &var,
                },
                &grad_y,
                grads,
                &mut sums,
            )
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    fma_peak,
    sgemm,
    sgemm_one_core,
    elementwise,
    convolution,
    pooling_and_norm
);
criterion_main!(benches);
