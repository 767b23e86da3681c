//! Kernel benchmarks: `sgemm` at the seed network's shapes (throughput in FLOP/s) and the
//! element-wise kernels over a 64×256 activation.
//!
//! `cargo bench --bench kernels`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
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

criterion_group!(benches, sgemm, elementwise);
criterion_main!(benches);
