//! One whole training step of `models/mnist_sigmoid.nn` (forward, backward, SGD update) at
//! batch 1, 32 and 256, and inference at batch 1000, on real MNIST samples; plus `nnc
//! check`'s front end over every file in `models/`.
//!
//! `NNC_DATA=../shared/data cargo bench --bench train_step`

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nnc::graph::{BuildOptions, DataSource, Graph, build_graph};
use nnc::language::Source;
use nnc::training::bench::Stepper;

fn source(path: &Path) -> Source {
    Source {
        path: path.display().to_string(),
        text: std::fs::read_to_string(path).expect("a model file"),
    }
}

fn seed_model() -> Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/mnist_sigmoid.nn");
    build_graph(&source(&path), &BuildOptions::default()).expect("the shipped model is valid")
}

/// Times `iters` calls of `step` on a thread of `pool`, as `nnc` runs its commands (see
/// `nnc::kernels::on_worker_pool`), so the products' bands are handed over as they are there.
fn on_pool(pool: &rayon::ThreadPool, iters: u64, step: &mut (dyn FnMut() + Send)) -> Duration {
    pool.install(|| {
        let started = Instant::now();
        for _ in 0..iters {
            step();
        }
        started.elapsed()
    })
}

fn train_step(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .build()
        .expect("a worker pool");
    let graph = seed_model();
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let data = nnc::data::open(&DataSource::Mnist, Some(&data_dir))
        .expect("MNIST (set NNC_DATA or keep ../shared/data)");
    let mut group = c.benchmark_group("train_step_mnist_sigmoid");
    group.measurement_time(Duration::from_secs(4));
    for batch in [1, 32, 256] {
        let mut stepper = Stepper::new(&graph, &data.train, batch, true, 42).unwrap();
        group.throughput(Throughput::Elements(batch as u64)); // elements/s = samples/s
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, _| {
            b.iter_custom(|iters| {
                on_pool(&pool, iters, &mut || {
                    stepper.train_step().unwrap();
                })
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("inference_mnist_sigmoid");
    let mut stepper = Stepper::new(&graph, &data.test, 1000, false, 42).unwrap();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000", |b| {
        b.iter_custom(|iters| {
            on_pool(&pool, iters, &mut || {
                stepper.infer_step().unwrap();
            })
        })
    });
    group.finish();
}

fn check_models(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let sources: Vec<Source> = files.iter().map(|p| source(p)).collect();
    c.bench_function("check_every_model", |b| {
        b.iter(|| {
            sources
                .iter()
                .map(|s| build_graph(s, &BuildOptions::default()).is_ok() as usize)
                .sum::<usize>()
        })
    });
}

criterion_group!(benches, train_step, check_models);
criterion_main!(benches);
