//! Unit tests of semantic analysis: naming, defaults, arithmetic lowering, errors.

use super::*;
use crate::graph::{DataSource, Init, OptimizerSettings, TrainSettings};
use crate::ops::InitChoice;
use crate::ops::dense::Dense;

fn build(text: &str) -> Result<Graph, Diagnostics> {
    build_with(text, &[])
}

fn build_with(text: &str, overrides: &[(&str, &str)]) -> Result<Graph, Diagnostics> {
    let source = Source {
        path: "t.nn".into(),
        text: text.into(),
    };
    let overrides = overrides
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    build_graph(
        &source,
        &BuildOptions {
            overrides,
            color: false,
        },
    )
}

fn names(graph: &Graph) -> Vec<&str> {
    graph.nodes.iter().map(|n| n.name.as_str()).collect()
}

const SIGMOID: &str = "\
let hidden = 256
let act    = sigmoid

model mnist_sigmoid {
    x      = input(784)
    h      = x |> dense(hidden) |> act
    output = h |> dense(10) |> softmax
    loss   = cross_entropy
}

train {
    data      = mnist
    optimizer = sgd(lr = 0.1)
    epochs    = 10
    batch     = 1
    seed      = 42
}
";

#[test]
fn the_first_example_builds() {
    let graph = build(SIGMOID).unwrap();
    assert_eq!(graph.name, "mnist_sigmoid");
    assert_eq!(
        names(&graph),
        ["x", "h.dense", "h", "output.dense", "output"]
    );
    assert_eq!(graph.param_count(), 784 * 256 + 256 + 256 * 10 + 10);
    assert_eq!(graph.loss, Some(Loss::CrossEntropy));
    assert_eq!(graph.node(graph.output).op.kind(), "softmax");
    assert_eq!(graph.node(graph.input).shape.dims(), [784]);
    let expected = TrainSettings {
        batch: 1,
        seed: 42,
        data_span: graph.train.data_span,
        ..TrainSettings::default()
    };
    assert_eq!(graph.train, expected);
    let span = graph.train.data_span.unwrap();
    assert_eq!(&SIGMOID[span.start..span.end], "mnist");
    assert_eq!(
        graph.nodes[1].op.downcast_ref::<Dense>(),
        Some(&Dense {
            units: 256,
            bias: true,
            init: InitChoice {
                init: Init::Xavier,
                given: false
            }
        })
    );
}

#[test]
fn overrides_apply_before_use() {
    let graph = build_with(SIGMOID, &[("hidden", "32"), ("act", "relu")]).unwrap();
    assert_eq!(graph.param_count(), 784 * 32 + 32 + 32 * 10 + 10);
    assert_eq!(graph.nodes[2].op.kind(), "relu");
    assert_eq!(
        graph.nodes[1].op.downcast_ref::<Dense>(),
        Some(&Dense {
            units: 32,
            bias: true,
            init: InitChoice {
                init: Init::He,
                given: false
            }
        })
    );
    let err = build_with(SIGMOID, &[("hiden", "32")]).unwrap_err();
    assert!(err.items[0].message.contains("`--set hiden=...`"), "{err}");
    assert_eq!(err.items[0].label, "did you mean `hidden`?");
}

/// Found by the `front_end` fuzz target: a `--set` close to a `let` whose value was
/// refused looked that `let` up among the accepted ones and panicked.
#[test]
fn set_near_a_refused_let_is_a_diagnostic() {
    let text = "let hidden = 2 * 96\n\nmodel m {\n    x      = input(4)\n    output = x |> dense(hidden) |> softmax\n}\n";
    let err = build_with(text, &[("hiddn", "64")]).unwrap_err();
    let set = err
        .items
        .iter()
        .find(|d| d.message.contains("`--set hiddn=...` names no `let`"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(set.label, "did you mean `hidden`?");
    assert_eq!(&text[set.span.start..set.span.end], "hidden");
    assert!(
        err.items
            .iter()
            .any(|d| d.message.contains("`let hidden` must be a number")),
        "{err}"
    );
}

#[test]
fn inner_nodes_of_one_kind_are_numbered() {
    let text = "model m {\n x = input(4)\n h = x |> dense(3) |> relu |> dense(2) |> relu\n output = h |> dense(2, bias = false, init = normal)\n}\n";
    let graph = build(text).unwrap();
    assert_eq!(
        names(&graph),
        ["x", "h.dense0", "h.relu", "h.dense1", "h", "output"]
    );
    assert_eq!(
        graph.nodes[1].op.downcast_ref::<Dense>(),
        Some(&Dense {
            units: 3,
            bias: true,
            init: InitChoice {
                init: Init::He,
                given: false
            }
        })
    );
    assert_eq!(
        graph.nodes[5].op.downcast_ref::<Dense>(),
        Some(&Dense {
            units: 2,
            bias: false,
            init: InitChoice {
                init: Init::Normal,
                given: true
            }
        })
    );
    assert_eq!(graph.loss, None);
}

#[test]
fn arithmetic_with_numbers_lowers_to_scale_and_add_scalar() {
    let text = "model m {\n x = input(4)\n a = x |> sigmoid\n output = 1 - a + x * 2 - 3\n}\n";
    let graph = build(text).unwrap();
    let ops: Vec<String> = graph.nodes.iter().map(|n| n.op.describe()).collect();
    assert_eq!(
        ops[2..],
        [
            "scale(-1)",
            "add_scalar(1)",
            "scale(2)",
            "add",
            "add_scalar(-3)"
        ]
    );
    assert_eq!(
        names(&graph)[2..],
        [
            "output.scale0",
            "output.add_scalar",
            "output.scale1",
            "output.add",
            "output"
        ]
    );
}

#[test]
fn residual_and_concat_shapes() {
    let text = "model m {\n x = input(8)\n a = x |> dense(8) |> relu\n r = a + x\n c = concat(a, r, x)\n output = relu(c |> dense(2))\n}\n";
    let graph = build(text).unwrap();
    let c = graph.nodes.iter().find(|n| n.name == "c").unwrap();
    assert_eq!((c.op.kind(), c.shape.numel()), ("concat", 24));
    assert_eq!(graph.node(graph.output).name, "output");
}

#[test]
fn train_block_reads_every_setting() {
    let text = "let rate = 0.01\nmodel m {\n x = input(784)\n output = x |> dense(10)\n loss = mse\n}\ntrain {\n data = \"some/dir\"\n optimizer = adam(lr = rate, beta2 = 0.99)\n epochs = 3\n batch = 64\n seed = 18446744073709551615\n shuffle = false\n validation = 0.1\n early_stopping = 2\n}\n";
    let graph = build(text).unwrap();
    let t = &graph.train;
    assert_eq!(t.data, DataSource::Path("some/dir".into()));
    assert_eq!(
        t.optimizer,
        OptimizerSettings::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8
        }
    );
    assert_eq!(
        (
            t.epochs,
            t.batch,
            t.seed,
            t.shuffle,
            t.validation,
            t.early_stopping
        ),
        (3, 64, u64::MAX, false, 0.1, Some(2))
    );
    assert_eq!(graph.loss, Some(Loss::Mse));
}

#[test]
fn independent_errors_are_all_reported() {
    let text = "model m {\n x = input(784)\n a = x |> dens(10)\n b = x |> sigmod\n c = y + x\n output = x |> dense(10)\n}\ntrain {\n epoch = 3\n}\n";
    let err = build(text).unwrap_err();
    let messages: Vec<&str> = err.items.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "unknown function `dens`",
            "unknown activation `sigmod`",
            "undefined name `y`",
            "unknown setting `epoch`"
        ],
        "{err}"
    );
}

#[test]
fn errors_do_not_cascade_through_failed_lines() {
    let text = "model m {\n x = input(784)\n a = x |> dense(2.5)\n b = a |> relu\n output = b |> dense(10)\n}\n";
    let err = build(text).unwrap_err();
    assert_eq!(err.items.len(), 1, "{err}");
    assert!(err.items[0].message.contains("whole number"));
}

#[test]
fn the_deepest_allowed_expression_builds_within_a_test_thread_stack() {
    let deep = format!(
        "model m {{\n x = input(4)\n output = x{}\n}}\n",
        " |> relu".repeat(250)
    );
    assert_eq!(build(&deep).unwrap().nodes.len(), 251);
    let nested = format!(
        "model m {{\n x = input(4)\n output = {}x{}\n}}\n",
        "relu(".repeat(60),
        ")".repeat(60)
    );
    assert_eq!(build(&nested).unwrap().nodes.len(), 61);
}
