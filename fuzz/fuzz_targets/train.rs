//! A model that `nnc check` accepts must train without a panic: every small model the
//! front end builds from the fuzzer's bytes (at most 20,000 parameters and 20,000
//! activations per sample) is trained for at most two epochs on a few in-memory samples
//! shaped as `nnc run` would require of a dataset (as many features as the input, as many
//! classes as the output), with the file's own `train` settings otherwise (optimizer,
//! batch up to 8, validation, early stopping, dropout, augmentation); its weights must
//! then save and load back. Errors (a diverging run, too few samples) are fine.
//!
//! Input: a model file and its `--set` flags (see `nnc_fuzz::model_input`); the seeds
//! are the `front_end` target's.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnc::data::{Dataset, Split, Target};
use nnc::graph::build_graph;
use nnc::rng::Generator;
use nnc::training::{Model, TrainConfig, train, weights};
use rand::SeedableRng;

const MAX_PARAMS: usize = 20_000;
const MAX_WIDTHS: usize = 20_000;
const TRAIN_SAMPLES: usize = 6;
const TEST_SAMPLES: usize = 3;

/// `count` samples of `features` pixels, labelled round-robin over `classes`.
fn split(count: usize, features: usize, classes: usize, offset: usize) -> Split {
    let pixels = (0..count * features)
        .map(|i| ((i + offset) * 37 % 256) as u8)
        .collect();
    let labels = (0..count).map(|i| ((i + offset) % classes) as u8).collect();
    Split::from_memory(pixels, labels, features)
}

fuzz_target!(|data: &[u8]| {
    let Some((source, options)) = nnc_fuzz::model_input(data) else {
        return;
    };
    let Ok(graph) = build_graph(&source, &options) else {
        return;
    };
    let widths: usize = graph.nodes.iter().map(|n| n.shape.numel()).sum();
    if graph.loss.is_none() || graph.param_count() > MAX_PARAMS || widths > MAX_WIDTHS {
        return;
    }
    let features = graph.node(graph.input).shape.numel();
    let classes = graph.node(graph.output).shape.numel();
    // Labels are bytes.
    if classes > 256 {
        return;
    }
    let dataset = Dataset {
        name: "fuzz".into(),
        train: split(TRAIN_SAMPLES, features, classes, 0),
        test: split(TEST_SAMPLES, features, classes, 1),
        target: Target::Classes(classes),
        class_names: Vec::new(),
        feature_names: Vec::new(),
    };
    let mut settings = graph.train.clone();
    settings.epochs = settings.epochs.min(2);
    settings.batch = settings.batch.min(8);
    let config = TrainConfig::new(settings, None);
    let mut rng = Generator::seed_from_u64(config.settings.seed);
    let mut model = Model::init(&graph, &mut rng).expect("a validated small model lowers");
    let _ = train(&graph, &mut model, &dataset, &config, &mut rng, &mut |_| {});
    let saved = weights::to_bytes(&model.params).expect("a model's weights serialise");
    let mut fresh = Model::init(&graph, &mut Generator::seed_from_u64(0))
        .expect("a validated small model lowers");
    weights::load_bytes(&mut fresh.params, &saved, Path::new("fuzz.safetensors"))
        .expect("a model's own weights load back");
});
