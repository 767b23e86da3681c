//! Blocks (language version 3, `../shared/spec/nn-language-blocks.md`): declared once,
//! expanded at each call into the graph the engine already trains, named as PyTorch
//! modules are; every diagnostic of the contract's list, with the notes of the calls that
//! led into a block.

use nnc::graph::{BuildOptions, Graph, build_graph};
use nnc::language::Source;
use nnc::rng::Generator;
use nnc::training::Model;
use rand::SeedableRng;

/// The contract's first file.
const RESNET: &str = "\
# a residual block: two 3x3 convolutions and a shortcut
block residual(x, filters, act = relu) {
    y   = x |> conv2d(filters, 3, pad = same, bias = false) |> batchnorm |> act
    y2  = y |> conv2d(filters, 3, pad = same, bias = false) |> batchnorm
    out = act(x + y2)
}

# the first block of a stage halves the size and projects the shortcut
block residual_down(x, filters) {
    y   = x |> conv2d(filters, 3, stride = 2, pad = 1, bias = false) |> batchnorm |> relu
    y2  = y |> conv2d(filters, 3, pad = same, bias = false) |> batchnorm
    s   = x |> conv2d(filters, 1, stride = 2, bias = false) |> batchnorm
    out = relu(s + y2)
}

let width = 16

model resnet {
    x      = input(1, 28, 28)
    stem   = x |> conv2d(width, 3, pad = same, bias = false) |> batchnorm |> relu
    s1     = stem |> repeat(2, residual, width)                       # [16, 28, 28]
    s2     = s1 |> residual_down(2 * width) |> repeat(2, residual, 2 * width)   # [32, 14, 14]
    output = s2 |> global_avgpool |> dense(10) |> softmax
    loss   = cross_entropy
}
";

fn build(text: &str) -> Result<Graph, String> {
    let source = Source {
        path: "m.nn".into(),
        text: text.into(),
    };
    build_graph(&source, &BuildOptions::default()).map_err(|d| d.rendered)
}

fn node<'g>(graph: &'g Graph, name: &str) -> &'g nnc::graph::Node {
    graph
        .nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
            panic!("no node `{name}` in {names:?}")
        })
}

/// Each node's operation (with its arguments) and shape, in order.
fn describe(g: &Graph) -> Vec<(String, Vec<usize>)> {
    g.nodes
        .iter()
        .map(|n| (n.op.describe(), n.shape.dims()))
        .collect()
}

fn tensor_names(graph: &Graph) -> Vec<String> {
    let model = Model::init(graph, &mut Generator::seed_from_u64(0)).unwrap();
    model
        .params
        .ids()
        .map(|id| model.params.name(id).to_owned())
        .collect()
}

#[test]
fn the_contracts_residual_net_expands_with_the_names_pytorch_modules_have() {
    let graph = build(RESNET).unwrap();
    assert_eq!(node(&graph, "s1.1.y.conv2d").shape.dims(), [16, 28, 28]);
    assert_eq!(
        node(&graph, "s2.residual_down.s.conv2d").shape.dims(),
        [32, 14, 14]
    );
    assert_eq!(node(&graph, "s2.repeat.1.out").shape.dims(), [32, 14, 14]);
    let names = tensor_names(&graph);
    for expected in [
        "s1.1.y.conv2d.weight",
        "s1.0.y.batchnorm.running_var",
        "s1.0.y2.conv2d.weight",
        "s1.0.y2.weight",
        "s2.residual_down.s.conv2d.weight",
        "s2.repeat.0.y.conv2d.weight",
        "output.weight",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no `{expected}` in {names:?}"
        );
    }
    // The same block served 16 and 32 filters.
    assert_eq!(
        node(&graph, "s1.0.y.conv2d").op.describe(),
        "conv2d(16, 3, pad = same, bias = false, init = xavier)"
    );
    assert!(
        node(&graph, "s2.repeat.0.y.conv2d")
            .op
            .describe()
            .starts_with("conv2d(32, 3")
    );
    let calls: Vec<(&str, usize)> = graph
        .calls
        .iter()
        .map(|c| (c.name.as_str(), c.depth))
        .collect();
    assert_eq!(
        calls,
        [
            ("s1", 1),
            ("s1.0", 2),
            ("s1.1", 2),
            ("s2.residual_down", 1),
            ("s2.repeat", 1),
            ("s2.repeat.0", 2),
            ("s2.repeat.1", 2)
        ]
    );
}

#[test]
fn a_net_written_with_blocks_is_the_graph_written_out_by_hand() {
    let blocks = "\
block mlp(x, units, act = relu) {
    h   = x |> dense(units) |> act
    out = h |> dense(units) |> act
}
model m {
    x      = input(784)
    b      = x |> repeat(2, mlp, 32, act = tanh)
    output = b |> dense(10) |> softmax
    loss   = cross_entropy
}
";
    let by_hand = "\
model m {
    x      = input(784)
    h0     = x |> dense(32) |> tanh
    o0     = h0 |> dense(32) |> tanh
    h1     = o0 |> dense(32) |> tanh
    o1     = h1 |> dense(32) |> tanh
    output = o1 |> dense(10) |> softmax
    loss   = cross_entropy
}
";
    let (a, b) = (build(blocks).unwrap(), build(by_hand).unwrap());
    assert_eq!(describe(&a), describe(&b));
    let (ma, mb) = (
        Model::init(&a, &mut Generator::seed_from_u64(3)).unwrap(),
        Model::init(&b, &mut Generator::seed_from_u64(3)).unwrap(),
    );
    for (x, y) in ma.params.ids().zip(mb.params.ids()) {
        assert_eq!(
            ma.params.value(x),
            mb.params.value(y),
            "the same initial draw"
        );
    }
    assert_eq!(
        tensor_names(&a)[..4],
        [
            "b.0.h.weight",
            "b.0.h.bias",
            "b.0.out.weight",
            "b.0.out.bias"
        ]
    );
}

/// models/mnist_resnet.nn at its defaults, written out without blocks: the same nodes,
/// shapes and initial draw (the README's line counts compare the two).
const MNIST_RESNET_BY_HAND: &str = "\
model mnist_resnet {
    x      = input(1, 28, 28)
    stem   = x |> conv2d(16, 5, pad = same, bias = false) |> batchnorm |> relu |> maxpool(2)
    a      = stem |> conv2d(16, 3, pad = same, bias = false) |> batchnorm |> relu
    a2     = a |> conv2d(16, 3, pad = same, bias = false) |> batchnorm
    s1     = relu(stem + a2)
    b      = s1 |> conv2d(32, 3, stride = 2, pad = same, bias = false) |> batchnorm |> relu
    b2     = b |> conv2d(32, 3, pad = same, bias = false) |> batchnorm
    bs     = s1 |> conv2d(32, 1, stride = 2, bias = false) |> batchnorm
    d      = relu(bs + b2)
    c      = d |> conv2d(32, 3, pad = same, bias = false) |> batchnorm |> relu
    c2     = c |> conv2d(32, 3, pad = same, bias = false) |> batchnorm
    s2     = relu(d + c2)
    output = s2 |> global_avgpool |> dense(10) |> softmax
    loss   = cross_entropy
}
";

#[test]
fn the_shipped_resnet_is_the_net_written_out_by_hand() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/mnist_resnet.nn");
    let shipped = build(&std::fs::read_to_string(path).unwrap()).unwrap();
    let by_hand = build(MNIST_RESNET_BY_HAND).unwrap();
    assert_eq!(describe(&shipped), describe(&by_hand));
    let draw = |g: &Graph| -> Vec<Vec<f32>> {
        let model = Model::init(g, &mut Generator::seed_from_u64(0)).unwrap();
        model
            .params
            .ids()
            .map(|id| model.params.value(id).to_vec())
            .collect()
    };
    assert_eq!(draw(&shipped), draw(&by_hand));
}

#[test]
fn version_one_and_two_files_may_still_bind_the_name_block() {
    let graph =
        build("model m {\n x = input(4)\n block = x |> dense(3)\n output = block |> softmax\n}\n")
            .unwrap();
    assert_eq!(node(&graph, "block").shape.dims(), [3]);
}

/// Builds `text`, which must fail; returns the rendered diagnostics.
fn refused(text: &str) -> String {
    match build(text) {
        Ok(_) => panic!("built:\n{text}"),
        Err(rendered) => rendered,
    }
}

fn assert_has(rendered: &str, parts: &[&str]) {
    for part in parts {
        assert!(rendered.contains(part), "missing `{part}` in:\n{rendered}");
    }
}

const R: &str = "block residual(x, filters, act = relu) {\n    y = x |> dense(filters) |> act\n    out = act(x + y)\n}\n";

fn with_model(blocks: &str, lines: &str) -> String {
    format!("{blocks}model m {{\n    x = input(8)\n{lines}\n    loss = cross_entropy\n}}\n")
}

#[test]
fn a_shape_error_inside_a_block_points_there_with_a_note_at_each_call() {
    let text = with_model(
        &format!("{R}block stage(x, n) {{\n    out = x |> residual(n)\n}}\n"),
        "    output = x |> stage(16) |> softmax",
    );
    let rendered = refused(&text);
    assert_has(
        &rendered,
        &[
            "error: `+` needs two layers of the same size, found 8 and 16",
            "--> m.nn:3:15",
            "3 |     out = act(x + y)",
            "note: in block `residual`, called here with filters = 16, act = relu",
            "--> m.nn:6:16",
            "note: in block `stage`, called here with n = 16",
            "--> m.nn:10:19",
        ],
    );
    // Innermost first.
    assert!(rendered.find("block `residual`") < rendered.find("block `stage`"));
}

#[test]
fn unknown_blocks_and_bad_arguments_are_named_with_suggestions() {
    assert_has(
        &refused(&with_model(R, "    output = x |> residul(8) |> softmax")),
        &["unknown function `residul`", "did you mean `residual`?"],
    );
    assert_has(
        &refused(&with_model(
            R,
            "    output = x |> residual(8, relu, 3) |> softmax",
        )),
        &[
            "too many arguments to block `residual`",
            "`residual(x, filters, act = relu)`",
        ],
    );
    assert_has(
        &refused(&with_model(
            R,
            "    output = x |> residual(8, filter = 3) |> softmax",
        )),
        &[
            "unknown argument `filter` for block `residual`",
            "did you mean `filters`?",
        ],
    );
    assert_has(
        &refused(&with_model(R, "    output = x |> residual |> softmax")),
        &["block `residual` needs `filters`", "`filters` missing"],
    );
    assert_has(
        &refused(&with_model(R, "    output = residual(3, 8) |> softmax")),
        &["`x`, the input of block `residual`, must be a layer, not the number 3"],
    );
}

#[test]
fn a_block_must_have_out_and_may_not_bind_the_models_names() {
    assert_has(
        &refused(&with_model(
            "block b(x) {\n    y = x |> relu\n}\n",
            "    output = x |> b |> softmax",
        )),
        &["block `b` has no `out`", "no `out` line"],
    );
    for name in ["input", "output", "loss"] {
        let block = format!("block b(x) {{\n    {name} = x |> relu\n    out = x\n}}\n");
        assert_has(
            &refused(&with_model(&block, "    output = x |> b |> softmax")),
            &[&format!("`{name}` may not be bound inside a block")],
        );
    }
    assert_has(
        &refused(&with_model(
            "block b(x) {\n    out = input(3)\n}\n",
            "    output = x |> b |> softmax",
        )),
        &["`input` may not appear in a block"],
    );
    assert_has(
        &refused(&with_model(
            "block b(x, f) {\n    f = x |> relu\n    out = f\n}\n",
            "    output = x |> b(2) |> softmax",
        )),
        &["`f` is a parameter of block `b` and cannot be bound again"],
    );
}

#[test]
fn cycles_duplicates_and_built_in_names_are_refused() {
    let cycle = "block a(x) {\n    out = x |> b\n}\nblock b(x) {\n    out = x |> a\n}\n";
    assert_has(
        &refused(&with_model(cycle, "    output = x |> a |> softmax")),
        &[
            "block `a` calls itself: a → b → a",
            "note: in block `b`, called here",
        ],
    );
    let twice = "block b(x) {\n    out = x\n}\nblock b(x) {\n    out = x |> relu\n}\n";
    assert_has(
        &refused(&with_model(twice, "    output = x |> b |> softmax")),
        &["two blocks are named `b`", "the first is on line 1"],
    );
    assert_has(
        &refused(&with_model(
            "block dense(x) {\n    out = x\n}\n",
            "    output = x |> softmax",
        )),
        &["a block may not be named `dense`: that is a built-in function"],
    );
}

#[test]
fn repeat_needs_a_whole_count_and_a_block() {
    for count in ["0", "1.5", "\"two\""] {
        assert_has(
            &refused(&with_model(
                R,
                &format!("    output = x |> repeat({count}, residual, 8) |> softmax"),
            )),
            &["`repeat`'s count must be a whole number of at least 1"],
        );
    }
    assert_has(
        &refused(&with_model(
            R,
            "    output = x |> repeat(2, relu) |> softmax",
        )),
        &["`repeat` repeats a block: `relu` is not one"],
    );
    assert_has(
        &refused(&with_model(
            R,
            "    output = x |> repeat(2, residul, 8) |> softmax",
        )),
        &["did you mean `residual`?"],
    );
}

#[test]
fn a_parameter_holding_a_number_is_not_a_layer_nor_a_layer_a_function() {
    assert_has(
        &refused(&with_model(
            "block b(x, n) {\n    out = n |> relu\n}\n",
            "    output = x |> b(16) |> softmax",
        )),
        &[
            "`relu` expects a layer as `x`, found the number 16",
            "note: in block `b`, called here with n = 16",
        ],
    );
    assert_has(
        &refused(&with_model(
            "block b(x, act) {\n    out = x |> act\n}\n",
            "    output = x |> b(3) |> softmax",
        )),
        &["the parameter `act` is the number 3, not a function"],
    );
}

#[test]
fn functions_and_blocks_are_values_a_block_can_take() {
    let text = with_model(
        &format!("{R}block twice(x, f, n) {{\n    out = x |> repeat(2, f, n)\n}}\n"),
        "    output = x |> twice(residual, 8) |> residual(8, act = gelu) |> softmax",
    );
    let graph = build(&text).unwrap();
    assert_eq!(node(&graph, "output.twice.out.1.out").op.kind(), "relu");
    assert_eq!(node(&graph, "output.residual.out").op.kind(), "gelu");
}

mod random_blocks {
    use super::*;
    use nnc::autodiff::Tape;
    use nnc::autodiff::gradcheck::check_tape;
    use nnc::data::TargetBuffer;
    use nnc::graph::lower::Network;
    use nnc::training::set_targets;
    use proptest::prelude::*;

    /// A random file of blocks: a residual block (a layer, an activation parameter, a
    /// shortcut add), a block calling it, repeats of both, on vectors of `width`.
    fn file(
        width: usize,
        inner: usize,
        act: &str,
        repeats: (usize, usize),
        scaled: bool,
    ) -> String {
        let shortcut = if scaled { "0.5 * x + y" } else { "x + y" };
        format!(
            "block res(x, units, act = tanh) {{\n    y = x |> dense(units) |> act |> dense({width})\n    out = act({shortcut})\n}}\n\
             block pair(x, units, f) {{\n    a = x |> res(units, act = f)\n    out = a |> repeat({}, res, units)\n}}\n\
             model m {{\n    x = input({width})\n    s = x |> repeat({}, pair, {inner}, {act})\n    output = s |> dense(3) |> softmax\n    loss = cross_entropy\n}}\n",
            repeats.0, repeats.1
        )
    }

    /// A random file of convolutional blocks on small images: a residual block of a
    /// grouped (or depthwise) 3×3 convolution, possibly dilated, and a grouped 1×1 one,
    /// repeated after a stem, then a strided convolution.
    fn image_file(
        channels: usize,
        groups: usize,
        dilation: usize,
        act: &str,
        repeats: usize,
    ) -> String {
        format!(
            "block res(x, g, act = tanh) {{\n    y = x |> conv2d({channels}, 3, pad = same, groups = g, dilation = {dilation}) |> act |> conv2d({channels}, 1, groups = g)\n    out = act(x + y)\n}}\n\
             model m {{\n    x = input(2, 6, 5)\n    s = x |> conv2d({channels}, 3, pad = same) |> repeat({repeats}, res, {groups}, act = {act})\n    d = s |> conv2d({channels}, 3, stride = 2, pad = same, groups = {groups})\n    output = d |> flatten |> dense(3) |> softmax\n    loss = cross_entropy\n}}\n"
        )
    }

    /// Records `text`'s graph on three samples of fixed inputs and checks every gradient.
    fn check_file(text: &str, seed: u64) -> Result<(), TestCaseError> {
        let graph = build(text).map_err(TestCaseError::fail)?;
        let mut model = Model::init(&graph, &mut Generator::seed_from_u64(seed)).unwrap();
        let batch = 3;
        let mut net = Network::record(
            &graph,
            &model.params,
            &model.node_params,
            Tape::new(),
            batch,
            true,
        )
        .unwrap();
        let inputs = net.tape.value_mut(net.input).unwrap();
        for (i, v) in inputs.iter_mut().enumerate() {
            *v = ((i as f32 * 0.37 + seed as f32).sin()) * 0.8;
        }
        let labels: Vec<u32> = (0..batch as u32).map(|i| (i + seed as u32) % 3).collect();
        set_targets(&mut net, &TargetBuffer::Classes(labels), batch).unwrap();
        let loss = net.loss.unwrap();
        let report = check_tape(&mut net.tape, &mut model.params, loss, 6);
        prop_assert!(report.checked > 0, "nothing checked");
        prop_assert!(report.ok(), "{}\n{report:?}", text);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn random_convolutional_block_graphs_match_central_differences(
            per_group in 1usize..3,
            groups in 1usize..4,
            depthwise in any::<bool>(),
            dilation in 1usize..3,
            act in prop::sample::select(vec!["tanh", "sigmoid", "gelu", "silu"]),
            repeats in 1usize..3,
            seed in 0u64..1000,
        ) {
            let channels = per_group * groups;
            let groups = if depthwise { channels } else { groups };
            check_file(&image_file(channels, groups, dilation, act, repeats), seed)?;
        }

        #[test]
        fn random_block_graphs_match_central_differences(
            width in 2usize..6,
            inner in 1usize..5,
            act in prop::sample::select(vec!["tanh", "sigmoid", "gelu", "silu"]),
            repeats in (1usize..3, 1usize..3),
            scaled in any::<bool>(),
            seed in 0u64..1000,
        ) {
            let text = file(width, inner, act, repeats, scaled);
            let graph = build(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(
                graph.calls.iter().filter(|c| c.kind.starts_with("pair")).count(),
                repeats.1
            );
            check_file(&text, seed)?;
        }
    }
}
