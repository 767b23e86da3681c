//! `nnc show`: the table and `--json` report, with parameter counts computed by hand for
//! every model in `models/`.

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::str::contains;

mod util;

fn model_path(name: &str) -> String {
    format!("{}/models/{name}.nn", env!("CARGO_MANIFEST_DIR"))
}

/// Weights and biases of a dense layer `n_in -> units`.
const fn dense(n_in: u64, units: u64) -> u64 {
    n_in * units + units
}

/// Weights and biases of a convolution of `channels` into `filters` by `kernel`².
const fn conv(channels: u64, filters: u64, kernel: u64) -> u64 {
    filters * channels * kernel * kernel + filters
}

fn show_json(name: &str, sets: &[&str]) -> serde_json::Value {
    let mut cmd = cargo_bin_cmd!("nnc");
    cmd.args(["show", "--json"]).arg(model_path(name));
    for set in sets {
        cmd.args(["--set", set]);
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn show_json_counts_the_parameters_of_every_model() {
    let expected = [
        ("mnist_sigmoid", dense(784, 256) + dense(256, 10)), // 203,530
        ("mnist_relu", dense(784, 256) + dense(256, 10)),
        ("mnist_tanh", dense(784, 256) + dense(256, 10)),
        (
            "mnist_deep",
            dense(784, 512) + dense(512, 256) + dense(256, 128) + dense(128, 10),
        ),
        (
            "mnist_residual",
            dense(784, 256) + 4 * dense(256, 256) + dense(256, 10),
        ),
        ("mnist_concat", 2 * dense(784, 128) + dense(256, 10)),
        (
            "fashion_mnist",
            dense(784, 256) + dense(256, 128) + dense(128, 10),
        ),
        (
            "mnist_best",
            dense(784, 1024) + dense(1024, 1024) + dense(1024, 10),
        ),
        (
            "fashion_best",
            dense(784, 1024) + dense(1024, 1024) + dense(1024, 10),
        ),
        (
            "mnist_lenet",
            // 28x28 -> conv 5 pad 2 -> 28 -> pool -> 14 -> conv 5 -> 10 -> pool -> 5
            conv(1, 6, 5)
                + conv(6, 16, 5)
                + dense(16 * 5 * 5, 120)
                + dense(120, 84)
                + dense(84, 10),
        ),
        (
            "mnist_cnn",
            // conv 5 same -> batch norm (scale, shift) -> pool 14 -> conv 5 same -> pool 7
            conv(1, 16, 5)
                + 2 * 16
                + conv(16, 32, 5)
                + 2 * 32
                + dense(32 * 7 * 7, 128)
                + dense(128, 10),
        ),
        (
            "fashion_cnn",
            // conv 3 same -> batch norm -> pool 14 -> conv 3 same -> batch norm -> pool 7
            conv(1, 24, 3)
                + 2 * 24
                + conv(24, 48, 3)
                + 2 * 48
                + dense(48 * 7 * 7, 128)
                + dense(128, 10),
        ),
        (
            "mnist_resnet",
            // Convolutions without bias, each with a batch norm (scale, shift): the stem,
            // a block of two at 16, a strided block of two and a 1x1 shortcut to 32, a block
            // of two at 32, then the pooled 32 features to 10.
            (conv(1, 16, 5) - 16 + 2 * 16)
                + 2 * (conv(16, 16, 3) - 16 + 2 * 16)
                + (conv(16, 32, 3) - 32 + 2 * 32)
                + (conv(32, 32, 3) - 32 + 2 * 32)
                + (conv(16, 32, 1) - 32 + 2 * 32)
                + 2 * (conv(32, 32, 3) - 32 + 2 * 32)
                + dense(32, 10),
        ),
        (
            "fashion_resnet",
            (conv(1, 24, 3) - 24 + 2 * 24)
                + (conv(24, 48, 3) - 48 + 2 * 48)
                + (conv(48, 48, 3) - 48 + 2 * 48)
                + (conv(24, 48, 1) - 48 + 2 * 48)
                + dense(48 * 7 * 7, 128)
                + dense(128, 10),
        ),
        (
            "mnist_mobilenet",
            // No conv has a bias; each has a batch norm. Depthwise 3x3 weights are
            // [c, 1, 3, 3]; inverted blocks expand by 4: 1x1 up, depthwise, 1x1 down.
            (16 * 9 + 2 * 16)
                + (16 * 9 + 2 * 16)
                + (32 * 16 + 2 * 32)
                + 2 * ((128 * 32 + 2 * 128) + (128 * 9 + 2 * 128) + (32 * 128 + 2 * 32))
                + (32 * 9 + 2 * 32)
                + (64 * 32 + 2 * 64)
                + 2 * ((256 * 64 + 2 * 256) + (256 * 9 + 2 * 256) + (64 * 256 + 2 * 64))
                + dense(64, 10),
        ),
    ];
    assert_eq!(expected[0].1, 203_530);
    let mut covered: Vec<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    covered.sort();
    assert_eq!(
        covered,
        util::model_names(),
        "a model in models/ has no count here"
    );
    for (name, params) in expected {
        let json = show_json(name, &[]);
        assert_eq!(json["model"], name);
        assert_eq!(json["params"], params, "{name}");
        let per_node: u64 = json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["params"].as_u64().unwrap())
            .sum();
        assert_eq!(per_node, params, "{name}: node params add up to the total");
    }
}

#[test]
fn show_json_lists_nodes_with_names_ops_and_shapes() {
    let json = show_json("mnist_sigmoid", &[]);
    let nodes = json["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["x", "h.dense", "h", "output.dense", "output"]);
    assert_eq!(nodes[1]["op"], "dense(256, init = xavier)");
    assert_eq!(nodes[1]["shape"], serde_json::json!([256]));
    assert_eq!(nodes[1]["params"], 784 * 256 + 256);
    assert_eq!(nodes[2]["op"], "sigmoid");
    // 2·784·256 + 256, 4·256 (sigmoid), 2·256·10 + 10, 5·10 (softmax).
    assert_eq!(
        json["flops_per_sample"],
        2 * 784 * 256 + 256 + 4 * 256 + 2 * 256 * 10 + 10 + 5 * 10
    );
}

#[test]
fn show_honours_set() {
    let json = show_json("mnist_sigmoid", &["hidden=64", "act=relu"]);
    assert_eq!(json["params"], dense(784, 64) + dense(64, 10));
    assert_eq!(json["nodes"][1]["op"], "dense(64, init = he)");
    assert_eq!(json["nodes"][2]["op"], "relu");
}

#[test]
fn show_prints_a_table_with_totals() {
    cargo_bin_cmd!("nnc")
        .arg("show")
        .arg(model_path("mnist_sigmoid"))
        .assert()
        .success()
        .stdout(contains("model mnist_sigmoid"))
        .stdout(contains("node"))
        .stdout(contains(
            "h.dense       dense(256, init = xavier)  [256]  200,960",
        ))
        .stdout(contains("parameters: 203,530"))
        .stdout(contains("forward FLOPs per sample: 407,868"));
}

#[test]
fn show_reports_model_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.nn");
    std::fs::write(
        &path,
        "model m {\n    x = input(4)\n    output = x |> sigmod\n}\n",
    )
    .unwrap();
    cargo_bin_cmd!("nnc")
        .arg("show")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(contains("unknown activation `sigmod`"))
        .stderr(contains("broken.nn:3:19"))
        .stdout("");
}

#[test]
fn show_lists_every_train_setting_marking_the_defaults() {
    let json = show_json("mnist_best", &[]);
    let train = json["train"].as_array().unwrap();
    let setting = |name: &str| {
        train
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {train:?}"))
    };
    assert_eq!(train.len(), nnc::graph::settings::SETTINGS.len());
    assert_eq!(setting("epochs")["value"], "20");
    assert_eq!(setting("epochs")["default"], false);
    assert_eq!(setting("shuffle")["value"], "true");
    assert_eq!(setting("shuffle")["default"], true);
    // The table shows the block a run uses, defaults as comments.
    cargo_bin_cmd!("nnc")
        .arg("show")
        .arg(model_path("mnist_sigmoid"))
        .assert()
        .success()
        .stdout(contains("train {\n"))
        .stdout(contains("    # epochs         = 10  (default)\n"));
}
