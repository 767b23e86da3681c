//! End to end without the language: a hand-built 784-32-10 MLP trains on a few hundred
//! real MNIST samples and its loss falls, reporting its progress within every epoch.

use std::path::PathBuf;

use nnc::autodiff::Shape;
use nnc::graph::{DataSource, Graph, Layer, Loss, Node, NodeId, TrainSettings};
use nnc::language::Span;
use nnc::ops::InitChoice;
use nnc::ops::dense::Dense;
use nnc::ops::input::Input;
use nnc::ops::sigmoid::Sigmoid;
use nnc::ops::softmax::Softmax;
use nnc::rng::Generator;
use nnc::training::{Model, Progress, TrainConfig, train};
use rand::SeedableRng;

fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

fn node(name: &str, op: impl Layer + 'static, inputs: &[u32], width: usize) -> Node {
    Node {
        name: name.into(),
        op: Box::new(op),
        inputs: inputs.iter().map(|&i| NodeId(i)).collect(),
        shape: Shape::vector(width).unwrap(),
        span: Span::default(),
        param_prefix: name.strip_suffix(".dense").unwrap_or(name).into(),
    }
}

fn mlp(settings: TrainSettings) -> Graph {
    Graph {
        name: "smoke".into(),
        nodes: vec![
            node("x", Input { dims: vec![784] }, &[], 784),
            node(
                "h.dense",
                Dense {
                    units: 32,
                    bias: true,
                    init: InitChoice::from_call(None),
                },
                &[0],
                32,
            ),
            node("h", Sigmoid, &[1], 32),
            node(
                "output.dense",
                Dense {
                    units: 10,
                    bias: true,
                    init: InitChoice::from_call(None),
                },
                &[2],
                10,
            ),
            node("output", Softmax, &[3], 10),
        ],
        input: NodeId(0),
        output: NodeId(4),
        loss: Some(Loss::CrossEntropy),
        train: settings,
        calls: Vec::new(),
    }
}

#[test]
fn a_two_layer_mlp_learns_a_few_hundred_mnist_samples() {
    let data =
        nnc::data::open(&DataSource::Mnist, Some(&shared_data())).expect("MNIST in ../shared/data");
    let settings = TrainSettings {
        epochs: 5,
        batch: 16,
        seed: 3,
        ..TrainSettings::default()
    };
    let graph = mlp(settings.clone());
    let mut rng = Generator::seed_from_u64(settings.seed);
    let mut model = Model::init(&graph, &mut rng).unwrap();
    let config = TrainConfig::new(settings, Some(400));
    let report = train(&graph, &mut model, &data, &config, &mut rng, &mut |_| {}).unwrap();
    let first = report.history.first().unwrap().train_loss;
    let last = report.history.last().unwrap().train_loss;
    assert!(last < 0.7 * first, "loss went from {first} to {last}");
    // 400 samples are enough to beat chance (10 %) by far on the 10,000 test images.
    let accuracy = report.test.accuracy.unwrap();
    assert!(accuracy > 0.5, "test accuracy {accuracy}");
}

/// What the progress callback saw, without the epoch reports' borrowed data.
#[derive(Debug, PartialEq)]
enum Seen {
    Started { steps: usize },
    Steps { done: usize },
    Finished,
}

#[test]
fn progress_arrives_within_every_epoch_at_a_large_batch() {
    let data =
        nnc::data::open(&DataSource::Mnist, Some(&shared_data())).expect("MNIST in ../shared/data");
    // Batch 256 on 6,000 samples: 24 steps an epoch, far fewer than the 1024 steps between
    // reports the bar used to wait for.
    let settings = TrainSettings {
        epochs: 2,
        batch: 256,
        seed: 5,
        ..TrainSettings::default()
    };
    let graph = mlp(settings.clone());
    let mut rng = Generator::seed_from_u64(settings.seed);
    let mut model = Model::init(&graph, &mut rng).unwrap();
    // A zero interval reports at every read of the clock, of which the first step of an
    // epoch always makes one: the test does not depend on how fast this machine is.
    let mut config = TrainConfig::new(settings, Some(6000));
    config.progress_interval = std::time::Duration::ZERO;
    let mut seen = Vec::new();
    train(&graph, &mut model, &data, &config, &mut rng, &mut |event| {
        seen.push(match event {
            Progress::EpochStarted { steps, .. } => Seen::Started { steps },
            Progress::Steps {
                done,
                train_loss,
                samples_per_second,
            } => {
                assert!(train_loss.is_finite() && train_loss > 0.0, "{train_loss}");
                assert!(samples_per_second > 0.0, "{samples_per_second}");
                Seen::Steps { done }
            }
            Progress::EpochFinished(_) => Seen::Finished,
        })
    })
    .unwrap();
    let epochs: Vec<&[Seen]> = seen
        .split(|s| *s == Seen::Finished)
        .filter(|e| !e.is_empty())
        .collect();
    assert_eq!(epochs.len(), 2, "{seen:?}");
    for epoch in epochs {
        assert_eq!(epoch[0], Seen::Started { steps: 24 }, "{seen:?}");
        let done: Vec<usize> = epoch[1..]
            .iter()
            .map(|s| match s {
                Seen::Steps { done } => *done,
                other => panic!("{other:?} inside an epoch"),
            })
            .collect();
        // Reports come during the epoch, in order, starting at its first step.
        assert_eq!(done.first(), Some(&1), "{seen:?}");
        assert!(done.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert!(done.iter().all(|&d| d <= 24), "{seen:?}");
    }
}
