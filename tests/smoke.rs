//! End to end without the language: a hand-built 784-32-10 MLP trains on a few hundred
//! real MNIST samples and its loss falls.

use std::path::PathBuf;

use nnc::autodiff::Shape;
use nnc::graph::{Activation, DataSource, Graph, Init, Loss, Node, NodeId, Op, TrainSettings};
use nnc::language::Span;
use nnc::training::{Model, TrainConfig, train};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

fn node(name: &str, op: Op, inputs: &[u32], width: usize) -> Node {
    Node {
        name: name.into(),
        op,
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
            node("x", Op::Input, &[], 784),
            node(
                "h.dense",
                Op::Dense {
                    units: 32,
                    bias: true,
                    init: Init::Xavier,
                },
                &[0],
                32,
            ),
            node("h", Op::Activation(Activation::Sigmoid), &[1], 32),
            node(
                "output.dense",
                Op::Dense {
                    units: 10,
                    bias: true,
                    init: Init::Xavier,
                },
                &[2],
                10,
            ),
            node("output", Op::Activation(Activation::Softmax), &[3], 10),
        ],
        input: NodeId(0),
        output: NodeId(4),
        loss: Some(Loss::CrossEntropy),
        train: settings,
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
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut model = Model::init(&graph, &mut rng).unwrap();
    let config = TrainConfig {
        settings,
        samples: Some(400),
    };
    let report = train(&graph, &mut model, &data, &config, &mut rng, &mut |_| {}).unwrap();
    let first = report.history.first().unwrap().train_loss;
    let last = report.history.last().unwrap().train_loss;
    assert!(last < 0.7 * first, "loss went from {first} to {last}");
    // 400 samples are enough to beat chance (10 %) by far on the 10,000 test images.
    assert!(
        report.test_accuracy > 0.5,
        "test accuracy {}",
        report.test_accuracy
    );
}
