//! Kernel benchmarks: `sgemm` at the seed network's shapes (throughput in FLOP/s), the
//! element-wise kernels over a 64×256 activation, and the convolution layers of the
//! `lenet` and `convnet` races at batch 64.
//!
//! `cargo bench --bench kernels`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nnc::kernels::conv::{self, Conv2dShape, Padding};
use nnc::kernels::{MatRef, gemm, reduce, simd};

fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
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
    let bias = data(256);
    group.bench_function("bias_add", |b| b.iter(|| simd::bias_add(&bias, &mut y)));
    let mut sums = vec![0.0; 256];
    group.bench_function("column_sum", |b| {
        b.iter(|| simd::column_sum_acc(&x, &mut sums))
    });
    group.finish();
}

/// The convolutions of `lenet` (conv 6@5x5 pad 2, conv 16@5x5) and `convnet` (conv
/// 32@3x3, conv 64@3x3), at batch 64; throughput in FLOP/s (`2·macs·batch`).
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
        let shape =
            Conv2dShape::new(input, filters, kernel, 1, Padding::Each(pad)).expect("a valid layer");
        let x = data(batch * shape.in_len());
        let w = data(shape.weight_len());
        let bias = data(filters);
        let mut col = vec![0.0; shape.col_len(batch)];
        let mut rows = vec![0.0; shape.rows_len(batch)];
        let mut y = vec![0.0; batch * shape.out_len()];
        let grad_y = data(batch * shape.out_len());
        let mut grad_x = vec![0.0; batch * shape.in_len()];
        let mut grad_w = vec![0.0; shape.weight_len()];
        group.throughput(Throughput::Elements((2 * shape.macs() * batch) as u64));
        group.bench_function(BenchmarkId::new("forward_per_sample", name), |b| {
            b.iter(|| conv::conv2d_forward(&shape, batch, &x, &w, Some(&bias), &mut col, &mut y))
        });
        group.bench_function(BenchmarkId::new("im2col", name), |b| {
            b.iter(|| nnc::kernels::im2col::im2col(&shape, batch, &x, &mut col))
        });
        group.bench_function(BenchmarkId::new("col2im", name), |b| {
            b.iter(|| nnc::kernels::im2col::col2im(&shape, batch, &col, &mut grad_x))
        });
        group.bench_function(BenchmarkId::new("forward_batched", name), |b| {
            b.iter(|| {
                conv::conv2d_forward_batched(
                    &shape,
                    batch,
                    &x,
                    &w,
                    Some(&bias),
                    &mut col,
                    &mut rows,
                    &mut y,
                )
            })
        });
        group.bench_function(BenchmarkId::new("weight_grad", name), |b| {
            b.iter(|| {
                conv::conv2d_gather_grad(&shape, batch, &grad_y, &mut rows);
                conv::conv2d_weight_grad(&shape, batch, &rows, &col, &mut grad_w)
            })
        });
        let mut grad_col = vec![0.0; shape.col_len(batch)];
        group.bench_function(BenchmarkId::new("input_grad_batched", name), |b| {
            b.iter(|| {
                conv::conv2d_gather_grad(&shape, batch, &grad_y, &mut rows);
                conv::conv2d_input_grad(&shape, batch, &w, &rows, &mut grad_col, &mut grad_x)
            })
        });
        group.bench_function(BenchmarkId::new("input_grad_per_sample", name), |b| {
            b.iter(|| {
                conv::conv2d_input_grad_per_sample(
                    &shape,
                    batch,
                    &w,
                    &grad_y,
                    &mut grad_col,
                    &mut grad_x,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sgemm, elementwise, convolution);
criterion_main!(benches);
