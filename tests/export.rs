//! `nnc export`: the ONNX model of a network trained on real data runs in onnxruntime and
//! gives nnc's own outputs, to 1e-5, on real samples, for every function of the language
//! (an MLP, a model of every vector function, a CNN, and every shipped model with its
//! initial weights), for tables (the standardisation of their features is part of the
//! exported model, so raw features go in) and for `.npz` arrays; bad input is a clean
//! error.
//!
//! nnc's outputs come from the library (the same graph, weights and samples as the
//! binary's), onnxruntime's from `tests/onnx_check.py`, which also runs ONNX's full
//! checker. python3 with onnxruntime, onnx and numpy is required, not optional: `.ci/run`
//! installs them, and without them these tests fail.

mod util;

use std::path::{Path, PathBuf};

use nnc::rng::Generator;
use predicates::prelude::*;
use predicates::str::contains;
use rand::SeedableRng;

use nnc::autodiff::Tape;
use nnc::data::{FileOptions, Search, Split, open_with};
use nnc::graph::lower::Network;
use nnc::graph::{BuildOptions, build_graph};
use nnc::language::Source;
use nnc::training::{Model, weights};
use util::npz::{mnist_arrays, shared_mnist, write_npz};
use util::{json, model, nnc, sklearn, write_model};

/// Samples compared at most: the first of the test split, then (for a small table) of the
/// training split, so that a table's every row is compared.
const SAMPLES: usize = 1000;

/// Largest difference allowed between onnxruntime's outputs and nnc's.
const TOLERANCE: f64 = 1e-5;

/// Every function of the language for vectors: both dense layouts (stored transposed from
/// 32 units, as saved below), a dense without bias, batch norm (its running statistics as
/// training left them), every activation, concat, dropout, `+ - *` of layers, and number
/// arithmetic (`0.25 * m - 0.5` is scale and add_scalar, `1 - k` scale by -1 and
/// add_scalar). The output is probabilities, `log_softmax` is inside: log-probabilities of
/// magnitude 20 are only good to a few 1e-6 in `f32`, too close to the tolerance for a
/// test that must hold on every CPU.
const EVERY_FUNCTION: &str = "\
model every_function {
    x      = input(784)
    a      = x |> dense(40) |> tanh
    b      = x |> dense(24, bias = false) |> batchnorm |> leaky_relu(slope = 0.1)
    c      = concat(a, b) |> dropout(0.25)
    s      = c |> dense(32) |> log_softmax
    r      = c |> dense(16, init = uniform) |> layernorm(eps = 0.001) |> relu |> dense(32) |> sigmoid
    m      = (s + r) * (s - r)
    k      = 0.25 * m - 0.5
    n      = 1 - k |> identity
    output = n |> dense(10) |> softmax
    loss   = cross_entropy
}

train {
    data      = mnist
    optimizer = adam(lr = 0.002)
    epochs    = 1
    batch     = 32
    seed      = 3
}
";

/// Every function for images: convolutions with `same` padding at strides 1 and 2 (the
/// second padded unevenly, as TensorFlow does), with a padding the stride leaves partly
/// unread and without bias, depthwise (two filters a channel) and dilated, grouped; batch norm per channel, both poolings, global average pooling,
/// flatten, and concat (along channels), layer and number arithmetic and an activation on
/// images.
const CNN: &str = "\
model cnn {
    x      = input(1, 28, 28)
    a      = x |> conv2d(4, 3, pad = same) |> relu |> maxpool(3, stride = 2, pad = 1)
    e      = a |> conv2d(8, 3, pad = same, groups = 4, dilation = 2) |> relu
    b      = e |> conv2d(6, 3, stride = 2, pad = same) |> batchnorm(momentum = 0.3) |> tanh
    p      = b |> avgpool(2, stride = 1) |> upsample(2) |> avgpool(3, stride = 2, pad = 1)
    c      = p |> conv2d(4, 3, stride = 2, pad = 1, bias = false, groups = 2) |> leaky_relu(slope = 0.1)
    d      = concat(c, c * (0.5 * c - 1))
    g      = d |> global_avgpool
    f      = d |> layernorm |> flatten |> dense(32) |> sigmoid
    output = concat(g, f) |> dense(10) |> softmax
    loss   = cross_entropy
}

train {
    data      = mnist
    optimizer = adam(lr = 0.01)
    epochs    = 1
    batch     = 32
    seed      = 8
}
";

/// A small MLP reading Keras' `mnist.npz` layout.
const NPZ_MLP: &str = "\
model mlp {
    x      = input(784)
    h      = x |> dense(32) |> relu
    output = h |> dense(10) |> softmax
    loss   = cross_entropy
}

train {
    data      = npz(\"mnist.npz\")
    optimizer = adam(lr = 0.001)
    epochs    = 1
    batch     = 32
    seed      = 5
}
";

#[test]
fn an_mlp_runs_in_onnxruntime_as_in_nnc() {
    let dir = tempfile::tempdir().unwrap();
    let report = train_export_and_compare(dir.path(), &model("mnist_sigmoid"), &["hidden=64"]);
    assert_eq!(report["input_shape"], serde_json::json!(["batch", "784"]));
    assert_eq!(report["output_shape"], serde_json::json!(["batch", "10"]));
}

#[test]
fn every_function_runs_in_onnxruntime_as_in_nnc() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_model(dir.path(), "every_function.nn", EVERY_FUNCTION);
    train_export_and_compare(dir.path(), &file, &[]);
}

#[test]
fn a_cnn_runs_in_onnxruntime_as_in_nnc() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_model(dir.path(), "cnn.nn", CNN);
    let report = train_export_and_compare(dir.path(), &file, &[]);
    assert_eq!(
        report["input_shape"],
        serde_json::json!(["batch", "1", "28", "28"])
    );
}

#[test]
fn every_shipped_model_runs_in_onnxruntime_as_in_nnc() {
    // Initial weights, drawn as `nnc run` draws them: no training needed to compare.
    for name in util::model_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = model(&name);
        let graph = build(&file, &[]);
        let fresh = Model::init(&graph, &mut Generator::seed_from_u64(graph.train.seed)).unwrap();
        let weights = dir.path().join("w.safetensors");
        weights::save(&fresh.params, &weights).unwrap();
        export_and_compare(dir.path(), &file, &[], &weights);
    }
}

/// A table's model standardises its features itself (`normalize = true`, the default):
/// the exported graph subtracts the training rows' mean and divides by their deviation,
/// as saved with the weights, so onnxruntime is fed the table's raw features and must give
/// what nnc gives, on every row. Wine's features run from about 0.1 to 1680 (proline), so
/// a wrong or missing standardisation shows at once; diabetes is a regression (one output).
#[test]
fn table_models_run_in_onnxruntime_on_raw_features_as_in_nnc() {
    let dir = tempfile::tempdir().unwrap();
    sklearn::wine(dir.path());
    sklearn::diabetes(dir.path());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    // (example, rows in its table)
    for (name, rows) in [("wine", 178), ("diabetes", 442)] {
        let file = dir.path().join(format!("{name}.nn"));
        std::fs::copy(examples.join(format!("{name}.nn")), &file).unwrap();
        let weights = dir.path().join(format!("{name}.safetensors"));
        nnc()
            .arg("run")
            .arg(&file)
            .arg("--quiet")
            .arg("--save")
            .arg(&weights)
            .assert()
            .success();
        let compared = export_and_compare_inputs(dir.path(), &file, &[], &weights);
        assert_eq!(compared.report["samples"], rows, "{name}: every row");
        // The inputs are the file's numbers, not standardised ones (which stay within a
        // few units of 0).
        let largest = compared.inputs.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(largest > 100.0, "{name}: largest input {largest}");
    }
}

/// `data = npz(...)`: Keras' `mnist.npz` layout with real MNIST digits as `uint8`
/// `[N, 28, 28]`, fed to `input(784)`; the ONNX model takes the pixels scaled by 1/255, as
/// nnc feeds them.
#[test]
fn an_npz_model_runs_in_onnxruntime_as_in_nnc() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = shared_mnist();
    let (x_train, y_train) = mnist_arrays(&mnist.train, 500);
    let (x_test, y_test) = mnist_arrays(&mnist.test, SAMPLES);
    let arrays = [
        ("x_train", x_train),
        ("y_train", y_train),
        ("x_test", x_test),
        ("y_test", y_test),
    ];
    write_npz(&dir.path().join("mnist.npz"), &arrays, true);
    let file = write_model(dir.path(), "npz.nn", NPZ_MLP);
    let compared = train_export_and_compare(dir.path(), &file, &[]);
    assert_eq!(compared["input_shape"], serde_json::json!(["batch", "784"]));
}

/// Trains `file` briefly (500 samples, one epoch) with the binary, then [`export_and_compare`].
fn train_export_and_compare(dir: &Path, file: &Path, sets: &[&str]) -> serde_json::Value {
    let weights = dir.join("w.safetensors");
    let set_args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
    nnc()
        .arg("run")
        .arg(file)
        .args(&set_args)
        .args([
            "--samples",
            "500",
            "--epochs",
            "1",
            "--batch",
            "32",
            "--quiet",
        ])
        .arg("--save")
        .arg(&weights)
        .assert()
        .success();
    export_and_compare(dir, file, sets, &weights)
}

/// What [`export_and_compare`] compared: `onnx_check.py`'s report and the inputs both
/// were fed, `[samples, features]`.
struct Compared {
    report: serde_json::Value,
    inputs: Vec<f32>,
}

/// Exports `file` with `weights` by the binary, computes nnc's outputs on real samples
/// through the library and has onnxruntime compare, to [`TOLERANCE`].
fn export_and_compare(dir: &Path, file: &Path, sets: &[&str], weights: &Path) -> serde_json::Value {
    export_and_compare_inputs(dir, file, sets, weights).report
}

/// [`export_and_compare`], returning the inputs compared as well.
fn export_and_compare_inputs(dir: &Path, file: &Path, sets: &[&str], weights: &Path) -> Compared {
    let onnx = dir.join("model.onnx");
    let set_args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
    let exported = json(
        nnc()
            .arg("export")
            .arg(file)
            .args(&set_args)
            .arg("--weights")
            .arg(weights)
            .arg("--out")
            .arg(&onnx)
            .arg("--json"),
    );
    assert_eq!(exported["path"], onnx.display().to_string());
    assert!(exported["opset"].as_i64().unwrap() >= 17);
    assert!(exported["nodes"].as_u64().unwrap() > 0);

    let (inputs, outputs, samples) = nnc_forward(file, sets, weights);
    let inputs_path = dir.join("inputs.f32");
    let outputs_path = dir.join("expected.f32");
    std::fs::write(&inputs_path, to_bytes(&inputs)).unwrap();
    std::fs::write(&outputs_path, to_bytes(&outputs)).unwrap();
    let report = onnx_check(&onnx, &inputs_path, &outputs_path);
    eprintln!("{}: {report}", file.display());
    torch_export(file, sets, weights, &inputs_path, &outputs_path);
    assert_eq!(report["samples"], samples);
    assert!(report["max_abs_diff"].as_f64().unwrap() <= TOLERANCE);
    // Outputs that vary from sample to sample, and the same class nearly everywhere (a
    // difference of 1e-5 can only flip a near-tie).
    let first = &outputs[..outputs.len() / samples];
    assert!(outputs.chunks(first.len()).any(|row| row != first));
    assert!(report["agree_on_class"].as_f64().unwrap() >= 0.999);
    Compared { report, inputs }
}

/// nnc's own forward pass at evaluation (dropout off) on up to [`SAMPLES`] samples: the
/// test split's first, then the training split's, so a small table is compared row for
/// row. Returns the inputs it fed, `[samples, features]` (what the ONNX model's `input`
/// takes: scaled pixels, raw table features), its output node's values and the number of
/// samples. The data is opened as the binary opens it: a file the model names is
/// relative to the model's folder, and a table's test rows are drawn with its seed.
fn nnc_forward(file: &Path, sets: &[&str], weights_path: &Path) -> (Vec<f32>, Vec<f32>, usize) {
    let graph = build(file, sets);
    let mut model = Model::init(&graph, &mut Generator::seed_from_u64(0)).unwrap();
    weights::load(&mut model.params, weights_path).unwrap();
    let files = FileOptions {
        base: file.parent().unwrap().to_owned(),
        seed: graph.train.seed,
    };
    let data = open_with(&graph.train.data, &shared_data(), &files).unwrap();
    let (mut inputs, mut outputs, mut samples) = (Vec::new(), Vec::new(), 0);
    for split in [&data.test, &data.train] {
        let n = split.len().min(SAMPLES - samples);
        if n == 0 {
            continue;
        }
        let (split_inputs, split_outputs) = forward(&graph, &model, split, n);
        inputs.extend(split_inputs);
        outputs.extend(split_outputs);
        samples += n;
    }
    (inputs, outputs, samples)
}

/// The inputs fed and the output node's values of `model` on the first `n` samples of
/// `split`, as one batch.
fn forward(
    graph: &nnc::graph::Graph,
    model: &Model,
    split: &Split,
    n: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut tape = Tape::new();
    tape.set_training(false);
    let mut net =
        Network::record(graph, &model.params, &model.node_params, tape, n, false).unwrap();
    let indices: Vec<u32> = (0..n as u32).collect();
    let mut targets = split.target_buffer(n);
    split.write_batch_to(
        &indices,
        net.tape.value_mut(net.input).unwrap(),
        &mut targets,
    );
    net.tape.forward(&model.params);
    (
        net.tape.value(net.input).to_vec(),
        net.tape.value(net.output).to_vec(),
    )
}

/// The graph of `file` with the `--set` overrides `sets`, as the binary builds it.
fn build(file: &Path, sets: &[&str]) -> nnc::graph::Graph {
    let source = Source {
        path: file.display().to_string(),
        text: std::fs::read_to_string(file).unwrap(),
    };
    let overrides = sets
        .iter()
        .map(|s| {
            let (name, value) = s.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let options = BuildOptions {
        overrides,
        color: false,
    };
    build_graph(&source, &options).unwrap_or_else(|e| panic!("{}", e.rendered))
}

/// The shared datasets, decompressed into the tests' shared cache (as `util::nnc` sets up
/// for the binary).
fn shared_data() -> Search {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Search {
        data_dir: None,
        nnc_data: Some(root.join("../shared/data")),
        local: root.join("data"),
        cache: PathBuf::from(concat!(env!("CARGO_TARGET_TMPDIR"), "/nnc-cache")),
        system: false,
    }
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Exports `file` as a PyTorch module, which must compile (`python3 -m py_compile`); with
/// `NNC_TORCH_CHECK=1` (by hand: it needs torch, several GB), `tests/torch_check.py` also
/// loads the weights into it with `strict=True` and compares its outputs with nnc's.
fn torch_export(file: &Path, sets: &[&str], weights: &Path, inputs: &Path, expected: &Path) {
    let module = inputs.with_file_name("model.py");
    let set_args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
    let exported = json(
        nnc()
            .arg("export")
            .arg(file)
            .args(&set_args)
            .arg("--weights")
            .arg(weights)
            .args(["--format", "torch", "--json", "--out"])
            .arg(&module),
    );
    assert_eq!(exported["format"], "torch");
    let python = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new("python3")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    python(&["-m".as_ref(), "py_compile".as_ref(), module.as_os_str()]);
    if std::env::var("NNC_TORCH_CHECK").as_deref() == Ok("1") {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torch_check.py");
        let report = python(&[
            script.as_os_str(),
            module.as_os_str(),
            weights.as_os_str(),
            inputs.as_os_str(),
            expected.as_os_str(),
            "--tolerance".as_ref(),
            TOLERANCE.to_string().as_ref(),
        ]);
        eprintln!("{} in PyTorch: {}", file.display(), report.trim());
    }
}

/// Runs `tests/onnx_check.py` on the model and the two raw `f32` files; it must pass.
fn onnx_check(model: &Path, inputs: &Path, expected: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/onnx_check.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(model)
        .arg(inputs)
        .arg(expected)
        .args(["--tolerance", &TOLERANCE.to_string()])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): the export tests need python3 with onnxruntime, \
                 onnx and numpy (`python3 -m pip install -r tests/requirements.txt`, as .ci/run does)"
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "onnxruntime disagrees with nnc, or could not run ({}); install with \
         `python3 -m pip install -r tests/requirements.txt`:\n{}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A quick run of `mnist_sigmoid.nn` with 32 hidden units, saved to `dir/w.safetensors`.
fn saved_weights(dir: &Path) -> PathBuf {
    let weights = dir.join("w.safetensors");
    util::quick_run()
        .arg("--save")
        .arg(&weights)
        .assert()
        .success();
    weights
}

fn export(weights: &Path, out: &Path) -> assert_cmd::Command {
    let mut cmd = nnc();
    cmd.arg("export")
        .arg(model("mnist_sigmoid"))
        .args(["--set", "hidden=32", "--weights"])
        .arg(weights)
        .arg("--out")
        .arg(out);
    cmd
}

#[test]
fn export_says_what_it_wrote_and_replaces_the_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let weights = saved_weights(dir.path());
    let out = dir.path().join("m.onnx");
    std::fs::write(&out, b"an older file").unwrap();
    export(&weights, &out)
        .assert()
        .success()
        .stdout(contains("mnist_sigmoid as ONNX (opset 17, 4 nodes, "));
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes.len() > 4 * (32 * 784 + 10 * 32),
        "{} bytes",
        bytes.len()
    );
    // No temporary file left beside it.
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 3, "w.safetensors, its run record and m.onnx");
}

#[test]
fn export_without_weights_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    nnc()
        .arg("export")
        .arg(model("mnist_sigmoid"))
        .arg("--out")
        .arg(dir.path().join("m.onnx"))
        .assert()
        .code(2)
        .stderr(contains("--weights"))
        .stderr(contains("panicked").not());
    assert!(!dir.path().join("m.onnx").exists());
}

#[test]
fn export_without_out_is_a_usage_error() {
    nnc()
        .arg("export")
        .arg(model("mnist_sigmoid"))
        .args(["--weights", "w.safetensors"])
        .assert()
        .code(2)
        .stderr(contains("--out"));
}

#[test]
fn export_of_missing_or_mismatched_weights_fails_cleanly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.onnx");
    export(&dir.path().join("none.safetensors"), &out)
        .assert()
        .code(1)
        .stderr(contains("cannot read weights"))
        .stderr(contains("panicked").not());
    let weights = saved_weights(dir.path());
    // Weights of 32 hidden units for a model of 256.
    nnc()
        .arg("export")
        .arg(model("mnist_sigmoid"))
        .arg("--weights")
        .arg(&weights)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("do not match the model"))
        .stderr(contains(
            "`h.weight` has shape [32, 784], the model needs [256, 784]",
        ))
        .stderr(contains("panicked").not());
    assert!(!out.exists());
}

#[test]
fn export_to_an_unwritable_place_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let weights = saved_weights(dir.path());
    // A missing folder is made; one whose name a file has cannot be.
    let nested = dir.path().join("no/such/folder/m.onnx");
    export(&weights, &nested).assert().success();
    assert!(nested.is_file());
    let file = dir.path().join("a_file");
    std::fs::write(&file, "not a folder").unwrap();
    export(&weights, &file.join("m.onnx"))
        .assert()
        .code(1)
        .stderr(contains("cannot write"))
        .stderr(contains("a_file/m.onnx"))
        .stderr(contains("panicked").not());
    export(&weights, dir.path())
        .assert()
        .code(1)
        .stderr(contains("cannot write"))
        .stderr(contains("folder"));
}

#[test]
fn export_of_a_broken_model_is_a_model_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_model(
        dir.path(),
        "broken.nn",
        "model m {\n    x = input(4)\n    output = x |> sigmod\n}\n",
    );
    nnc()
        .arg("export")
        .arg(&file)
        .args(["--weights", "w.safetensors", "--out"])
        .arg(dir.path().join("m.onnx"))
        .assert()
        .code(2)
        .stderr(contains("unknown activation `sigmod`"));
}
