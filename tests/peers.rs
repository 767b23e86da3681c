//! Cross-check against the Rust peers in `../shared/peers/rust/` (candle, burn, dfdx):
//! start `nnc` from the very numbers they start from (SplitMix64 Xavier weights, zero
//! biases) and show it the samples in their order, then compare the final training loss
//! and the test accuracy with theirs. The golden figures below were printed by
//!
//! ```sh
//! cd ../shared/peers/rust && CARGO_TARGET_DIR=/tmp/rust-peers-target cargo build --release -p candle-peer
//! /tmp/rust-peers-target/release/candle-peer --hidden 256 --act sigmoid --lr 0.1 --threads 1 \
//!     --batch 32 --samples 2000 --epochs 2
//! /tmp/rust-peers-target/release/candle-peer --hidden 256 --act sigmoid --lr 0.1 --threads 1 \
//!     --batch 1 --samples 1000 --epochs 1
//! ```
//!
//! which printed `"test_accuracy":0.7460,"final_train_loss":1.28782` and
//! `"test_accuracy":0.7982,"final_train_loss":1.09020` (candle 0.11.1; the peers agree with
//! each other to 4 digits).
//!
//! The CNNs (`benches/lenet.nn`, `benches/convnet.nn`) are checked the same way against the
//! Python CNN peers, through the real binary: `tests/peer_cnn_init.py` writes the peers'
//! initial weights (their `--init-out`), `nnc run --weights` starts from them in file order,
//! and the last epoch's mean loss must match what
//!
//! ```sh
//! cd ../shared/peers/python
//! python3 torch_cnn.py --arch lenet --batch 64 --samples 2000 --epochs 2 --no-shuffle --threads 1
//! python3 torch_cnn.py --arch convnet --batch 64 --samples 640 --epochs 2 --no-shuffle --threads 2
//! ```
//!
//! printed: `"test_accuracy": 0.7976, "final_train_loss": 0.70606` and `"test_accuracy":
//! 0.7904, "final_train_loss": 1.12855` (torch 2.15.0; `jax_cnn.py` printed the same lenet
//! figures). The peers drop a last partial batch, so nnc trains on the same whole batches:
//! 1,984 and 640 samples.

use std::path::PathBuf;
use std::process::Command;

use nnc::autodiff::Tape;
use nnc::data::{Dataset, Split};
use nnc::graph::lower::Network;
use nnc::graph::{BuildOptions, Graph, build_graph};
use nnc::language::Source;
use nnc::rng::Generator;
use nnc::training::optimizer::Optimizer;
use nnc::training::{Model, evaluate};
use rand::SeedableRng;

mod util;

/// The peers' SplitMix64 generator (`peers/rust/common/src/lib.rs`).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1), 24 bits.
    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Xavier-uniform weights in PyTorch's `[fan_out][fan_in]` layout, which is nnc's too.
fn xavier(rng: &mut SplitMix64, fan_in: usize, fan_out: usize) -> Vec<f32> {
    let a = (6.0 / (fan_in + fan_out) as f32).sqrt();
    (0..fan_in * fan_out)
        .map(|_| (2.0 * rng.next_f32() - 1.0) * a)
        .collect()
}

/// The peers' per-epoch order: Fisher–Yates seeded per epoch, last partial batch dropped.
fn epoch_batches(seed: u64, epoch: usize, samples: usize, batch: usize) -> Vec<Vec<u32>> {
    let mut rng = SplitMix64(seed ^ (0xA5A5_0000 + epoch as u64));
    let mut idx: Vec<u32> = (0..samples as u32).collect();
    for i in (1..idx.len()).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    idx.chunks_exact(batch).map(<[u32]>::to_vec).collect()
}

fn mnist() -> Dataset {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    nnc::data::open(&nnc::graph::DataSource::Mnist, Some(&dir)).expect("MNIST in ../shared/data")
}

fn seed_graph(hidden: usize) -> Graph {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/mnist_sigmoid.nn"
    ))
    .unwrap();
    let source = Source {
        path: "models/mnist_sigmoid.nn".into(),
        text,
    };
    let options = BuildOptions {
        overrides: vec![("hidden".into(), hidden.to_string())],
        ..BuildOptions::default()
    };
    build_graph(&source, &options).expect("the shipped model is valid")
}

/// Trains like a peer: returns (mean training loss of the last epoch, test accuracy).
fn train_like_the_peers(
    data: &Dataset,
    hidden: usize,
    batch: usize,
    samples: usize,
    epochs: usize,
) -> (f64, f32) {
    let graph = seed_graph(hidden);
    let mut model = Model::init(&graph, &mut Generator::seed_from_u64(0)).unwrap();
    let mut rng = SplitMix64(0);
    let w1 = xavier(&mut rng, 784, hidden);
    let w2 = xavier(&mut rng, hidden, 10);
    let params = &mut model.params;
    for (name, values) in [("h.weight", w1), ("output.weight", w2)] {
        let id = params
            .find(name)
            .unwrap_or_else(|| panic!("the seed model has `{name}`"));
        params.load_saved(id, &values).unwrap(); // the peers' `[fan_out][fan_in]` is nnc's saved layout
    }
    let mut optimizer = Optimizer::new(
        nnc::graph::OptimizerSettings::Sgd {
            lr: 0.1,
            momentum: 0.0,
        },
        &model.params,
    );
    let mut net = Network::record(
        &graph,
        &model.params,
        &model.node_params,
        Tape::new(),
        batch,
        true,
    )
    .unwrap();
    let loss = net.loss.unwrap();
    let train: &Split = &data.train;
    let mut labels = vec![0u32; batch];
    let mut last_epoch_loss = 0.0;
    for epoch in 0..epochs {
        let batches = epoch_batches(0, epoch, samples, batch);
        let mut sum = 0.0f64;
        for indices in &batches {
            train.write_batch(indices, net.tape.value_mut(net.input).unwrap(), &mut labels);
            net.set_targets(&labels).unwrap();
            net.tape.forward(&model.params);
            sum += net.tape.value(loss)[0] as f64;
            optimizer.backward_and_step(&mut net.tape, loss, &mut model.params);
        }
        last_epoch_loss = sum / batches.len() as f64;
    }
    let accuracy = evaluate(&graph, &model, &data.test, 0..data.test.len())
        .unwrap()
        .accuracy
        .unwrap();
    (last_epoch_loss, accuracy)
}

/// Loss to 4 significant digits, accuracy to the last of its 4 decimals (one test image
/// may land on the other side of a tie after float rounding).
fn assert_matches_peer(got: (f64, f32), loss: f64, accuracy: f32) {
    let (got_loss, got_accuracy) = got;
    assert!(
        (got_loss - loss).abs() <= 5e-4 * loss,
        "final training loss {got_loss}, the peers say {loss}"
    );
    assert!(
        (got_accuracy - accuracy).abs() <= 2e-4,
        "test accuracy {got_accuracy}, the peers say {accuracy}"
    );
}

#[test]
fn minibatch_sgd_matches_the_peers() {
    let data = mnist();
    assert_matches_peer(
        train_like_the_peers(&data, 256, 32, 2000, 2),
        1.28782,
        0.7460,
    );
}

#[test]
fn per_sample_sgd_matches_the_peers() {
    let data = mnist();
    assert_matches_peer(
        train_like_the_peers(&data, 256, 1, 1000, 1),
        1.09020,
        0.7982,
    );
}

/// `nnc run benches/{arch}.nn` from the peers' initial weights: (the last epoch's mean
/// training loss, test accuracy).
fn cnn_like_the_peers(arch: &str, samples: usize) -> (f64, f32) {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join(format!("{arch}-init.safetensors"));
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new("python3")
        .arg(format!("{root}/tests/peer_cnn_init.py"))
        .arg(arch)
        .arg(&init)
        .status()
        .expect("python3 runs (.ci/run installs it with numpy)");
    assert!(
        status.success(),
        "tests/peer_cnn_init.py failed: is numpy installed?"
    );
    let report = util::json(
        util::nnc()
            .arg("run")
            .arg(format!("{root}/benches/{arch}.nn"))
            .arg("--weights")
            .arg(&init)
            .args(["--samples", &samples.to_string(), "--epochs", "2", "--json"]),
    );
    let last = report["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    (
        last["train_loss"].as_f64().unwrap(),
        report["test_accuracy"].as_f64().unwrap() as f32,
    )
}

/// Loss to 5 significant digits (the peers agree with each other to 5), accuracy exactly.
fn assert_matches_cnn_peer(got: (f64, f32), loss: f64, accuracy: f32) {
    let (got_loss, got_accuracy) = got;
    assert!(
        (got_loss - loss).abs() <= 2e-5 * loss,
        "final training loss {got_loss}, the peers say {loss}"
    );
    assert!(
        (got_accuracy - accuracy).abs() <= 1e-4,
        "test accuracy {got_accuracy}, the peers say {accuracy}"
    );
}

#[test]
fn lenet_matches_the_cnn_peers() {
    assert_matches_cnn_peer(cnn_like_the_peers("lenet", 1984), 0.70606, 0.7976);
}

#[test]
fn convnet_matches_the_cnn_peers() {
    assert_matches_cnn_peer(cnn_like_the_peers("convnet", 640), 1.12855, 0.7904);
}
