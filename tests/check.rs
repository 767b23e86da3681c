//! `nnc check`: every model in `models/` passes, and every check of the language contract
//! has golden broken files asserting exit 2, `file:line:col` and the message's key words.

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use predicates::str::contains;

mod util;

fn model_path(name: &str) -> String {
    format!("{}/models/{name}.nn", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_model_passes_check() {
    for name in util::model_names() {
        cargo_bin_cmd!("nnc")
            .arg("check")
            .arg(model_path(&name))
            .assert()
            .success()
            .stdout(contains(format!("ok: {name} (")));
    }
}

#[test]
fn check_json_reports_ok_model_and_params() {
    let output = cargo_bin_cmd!("nnc")
        .args(["check", "--json"])
        .arg(model_path("mnist_sigmoid"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["model"], "mnist_sigmoid");
    assert_eq!(json["params"], 784 * 256 + 256 + 256 * 10 + 10);
}

#[test]
fn check_quiet_prints_nothing() {
    cargo_bin_cmd!("nnc")
        .args(["check", "--quiet"])
        .arg(model_path("mnist_relu"))
        .assert()
        .success()
        .stdout("");
}

#[test]
fn a_model_without_loss_can_be_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.nn");
    std::fs::write(
        &path,
        "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\n",
    )
    .unwrap();
    cargo_bin_cmd!("nnc")
        .arg("check")
        .arg(&path)
        .assert()
        .success()
        .stdout(contains("ok: m (7,850 parameters)"));
}

/// `nnc run` refuses a model whose input does not fit its dataset; for a built-in dataset
/// (here the default, `mnist`, with no `train` block) `check` knows the shape without
/// reading a file, so it refuses it too, with the same diagnostic.
#[test]
fn check_refuses_an_input_that_does_not_fit_a_builtin_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cifar_shaped.nn");
    std::fs::write(
        &path,
        "model m {\n    x = input(3, 32, 32)\n    output = x |> flatten |> dense(10) |> softmax\n    loss = cross_entropy\n}\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        cargo_bin_cmd!("nnc")
            .arg(command)
            .arg(&path)
            .env(
                "NNC_DATA",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"),
            )
            .assert()
            .code(2)
            .stderr(contains(
                "`input(3, 32, 32)` does not match `mnist`, whose samples have 784 values",
            ))
            .stderr(contains("cifar_shaped.nn:2:9"));
    }
}

#[test]
fn set_overrides_parameters_and_rejects_malformed_flags() {
    let model = model_path("mnist_sigmoid");
    cargo_bin_cmd!("nnc")
        .args(["check", "--set", "hidden=32"])
        .arg(&model)
        .assert()
        .success()
        .stdout(contains("(25,450 parameters)"));
    cargo_bin_cmd!("nnc")
        .args(["check", "--set", "hidden"])
        .arg(&model)
        .assert()
        .code(2)
        .stderr(contains("NAME=VALUE"));
    cargo_bin_cmd!("nnc")
        .args(["check", "--set", "hiden=32"])
        .arg(&model)
        .assert()
        .code(2)
        .stderr(contains("`--set hiden=...` names no `let`"))
        .stderr(contains("did you mean `hidden`?"))
        .stderr(contains("mnist_sigmoid.nn:2:5"));
}

/// Found by the `front_end` fuzz target (`fuzz/`): this panicked with exit 101.
#[test]
fn set_near_a_refused_let_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("refused.nn");
    std::fs::write(
        &path,
        "let hidden = 2 * 96\n\nmodel m {\n    x      = input(4)\n    output = x |> dense(hidden) |> softmax\n}\n",
    )
    .unwrap();
    cargo_bin_cmd!("nnc")
        .args(["check", "--set", "hiddn=64"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(contains("`let hidden` must be a number"))
        .stderr(contains("`--set hiddn=...` names no `let`"))
        .stderr(contains("did you mean `hidden`?"))
        .stderr(contains("refused.nn:1:5"));
}

#[test]
fn a_missing_file_is_a_runtime_error() {
    cargo_bin_cmd!("nnc")
        .args(["check", "no/such/file.nn"])
        .assert()
        .code(1)
        .stderr(contains("cannot read"));
}

#[test]
fn a_model_file_that_is_not_utf8_is_a_diagnostic_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.nn");
    // `é` saved as Latin-1: one byte 0xe9, which is not UTF-8.
    std::fs::write(
        &path,
        b"model m {\n    x = input(784)  # caf\xe9\n    output = x |> dense(10) |> softmax\n}\n",
    )
    .unwrap();
    let weights = dir.path().join("w.safetensors");
    let commands: [&[&str]; 7] = [
        &["check"],
        &["show"],
        &["run", "--samples", "10"],
        &["eval", "--weights", weights.to_str().unwrap()],
        &["sweep", "--set", "a=1,2"],
        &["bench"],
        &["gradcheck"],
    ];
    for args in commands {
        util::nnc()
            .arg(args[0])
            .arg(&path)
            .args(&args[1..])
            .assert()
            .code(2)
            .stderr(contains("error: the model file is not valid UTF-8 text"))
            .stderr(contains("latin1.nn:2:26"))
            .stderr(contains("invalid byte 0xe9 here"))
            .stderr(contains("stream did not contain").not())
            .stderr(contains("panicked").not());
    }
    cargo_bin_cmd!("nnc")
        .args(["check", "--json"])
        .arg(&path)
        .assert()
        .code(2)
        .stdout(contains("\"ok\":false"))
        .stdout(contains("not valid UTF-8"));
}

#[test]
fn json_errors_still_exit_2_with_diagnostics_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.nn");
    std::fs::write(
        &path,
        "model m {\n    x = input(4)\n    output = x |> sigmod\n}\n",
    )
    .unwrap();
    cargo_bin_cmd!("nnc")
        .args(["check", "--json"])
        .arg(&path)
        .assert()
        .code(2)
        .stdout(contains("\"ok\":false"))
        .stderr(contains("unknown activation `sigmod`"))
        .stderr(contains("broken.nn:3:"));
}

/// A broken file: its text, the `(line, col)` the first diagnostic must point at, and
/// words the rendered diagnostics must contain.
struct Broken {
    name: &'static str,
    text: &'static str,
    at: (usize, usize),
    words: &'static [&'static str],
}

const fn broken(
    name: &'static str,
    text: &'static str,
    at: (usize, usize),
    words: &'static [&'static str],
) -> Broken {
    Broken {
        name,
        text,
        at,
        words,
    }
}

#[rustfmt::skip]
const BROKEN: &[Broken] = &[
    // Syntax errors, with what was expected.
    broken("syntax_unclosed_call", "model m {\n    x = input(784\n}\n", (2, 18), &["expected", "`)`", "`,`"]),
    broken("syntax_dangling_operator", "model m {\n    x = input(784)\n    output = x |> dense(10) +\n}\n", (3, 30), &["expected a name", "a number"]),
    broken("syntax_missing_brace", "model m {\n    x = input(784)\n    output = x |> dense(10)\n", (3, 29), &["expected", "`}`"]),
    broken("syntax_two_statements_on_a_line", "model m {\n    x = input(784) output = x\n}\n", (2, 20), &["expected", "the end of the line"]),
    broken("syntax_let_without_name", "let 3 = 4\n", (1, 5), &["expected a name"]),
    broken("syntax_number_too_large", "let big = 1e999\n", (1, 11), &["too large"]),
    // Unknown function, activation, setting, dataset, option.
    broken("unknown_activation", "let hidden = 256\nmodel m {\n    x = input(784)\n    h = x |> dense(hidden) |> sigmod\n    output = h |> dense(10)\n}\n", (4, 31), &["unknown activation `sigmod`", "did you mean `sigmoid`?"]),
    broken("unknown_function", "model m {\n    x = input(784)\n    output = x |> dens(10)\n}\n", (3, 19), &["unknown function `dens`", "did you mean `dense`?"]),
    broken("unknown_setting", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    epoch = 3\n}\n", (6, 5), &["unknown setting `epoch`", "did you mean `epochs`?"]),
    broken("unknown_dataset", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    data = mnsit\n}\n", (6, 12), &["unknown dataset `mnsit`", "did you mean `mnist`?"]),
    broken("unknown_option", "model m {\n    x = input(784)\n    output = x |> dense(10, bais = false)\n}\n", (3, 29), &["unknown option `bais` for `dense`", "did you mean `bias`?"]),
    broken("unknown_init", "model m {\n    x = input(784)\n    output = x |> dense(10, init = hee)\n}\n", (3, 36), &["unknown init `hee`", "did you mean `he`?"]),
    broken("unknown_optimizer", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    optimizer = sgdd(lr = 0.1)\n}\n", (6, 17), &["unknown optimizer `sgdd`", "did you mean `sgd`?"]),
    broken("unknown_optimizer_option", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    optimizer = sgd(lr = 0.1, momentun = 0.9)\n}\n", (6, 31), &["unknown option `momentun`", "did you mean `momentum`?"]),
    broken("unknown_loss", "model m {\n    x = input(784)\n    output = x |> dense(10)\n    loss = cross_entropi\n}\n", (4, 12), &["unknown loss `cross_entropi`", "did you mean `cross_entropy`?"]),
    // Names.
    broken("undefined_name", "model m {\n    x = input(784)\n    hidden = x |> dense(10)\n    output = hiden |> softmax\n}\n", (4, 14), &["undefined name `hiden`", "did you mean `hidden`?"]),
    broken("used_before_bound", "model m {\n    x = input(784)\n    output = h |> dense(10)\n    h = x |> relu\n}\n", (3, 14), &["`h` is used before it is bound"]),
    broken("bound_twice", "model m {\n    x = input(784)\n    h = x |> relu\n    h = x |> tanh\n    output = h |> dense(10)\n}\n", (4, 5), &["`h` is bound twice", "line 3"]),
    broken("let_bound_twice", "let a = 1\nlet a = 2\nmodel m {\n    x = input(784)\n    output = x |> dense(10)\n}\n", (2, 5), &["`a` is bound twice"]),
    broken("binding_shadows_let", "let h = 1\nmodel m {\n    x = input(784)\n    h = x |> relu\n    output = h |> dense(10)\n}\n", (4, 5), &["`h` is bound twice"]),
    broken("let_is_not_a_function", "let act = 3\nmodel m {\n    x = input(784)\n    output = x |> dense(10) |> act\n}\n", (4, 32), &["`act` is the number 3, not a function"]),
    // Wrong number or type of arguments.
    broken("too_many_arguments", "model m {\n    x = input(784)\n    output = x |> dense(10, true, he, 4)\n}\n", (3, 39), &["too many arguments to `dense`"]),
    broken("missing_argument", "model m {\n    x = input(784)\n    output = x |> dense()\n}\n", (3, 19), &["`dense` needs `units`"]),
    broken("wrong_argument_type", "model m {\n    x = input(784)\n    output = x |> dense(10, bias = 1)\n}\n", (3, 36), &["`bias` of `dense` must be `true` or `false`"]),
    broken("layer_expected", "model m {\n    x = input(784)\n    output = dense(10, 10)\n}\n", (3, 20), &["`dense` expects a layer as `x`, found the number 10"]),
    broken("not_a_whole_number", "model m {\n    x = input(784)\n    output = x |> dense(2.5)\n}\n", (3, 25), &["must be a whole number", "2.5"]),
    broken("binding_is_not_a_layer", "model m {\n    x = input(784)\n    k = 3\n    output = x |> dense(10)\n}\n", (3, 9), &["`k` must be a layer"]),
    // Shapes.
    broken("add_of_different_widths", "model m {\n    x = input(784)\n    a = x |> dense(20)\n    b = x |> dense(30)\n    output = a + b\n}\n", (5, 14), &["`+` needs two layers of the same size, found 20 and 30"]),
    broken("concat_of_one", "model m {\n    x = input(784)\n    output = concat(x)\n}\n", (3, 14), &["`concat` joins two or more layers"]),
    // Missing input, output; a second model or input.
    broken("missing_input", "model m {\n    output = 3\n}\n", (1, 7), &["model `m` has no `input`", "`output` must be a layer"]),
    broken("no_input_line", "model m {\n}\n", (1, 7), &["model `m` has no `input`"]),
    broken("missing_output", "model m {\n    x = input(784)\n    h = x |> dense(10)\n}\n", (1, 7), &["model `m` has no `output`"]),
    broken("no_model", "let a = 1\n", (1, 11), &["this file has no `model`"]),
    broken("second_model", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\nmodel n {\n}\n", (5, 7), &["exactly one `model`"]),
    broken("second_input", "model m {\n    x = input(784)\n    y = input(784)\n    output = x + y\n}\n", (3, 9), &["exactly one `input`"]),
    // Sizes against the dataset.
    broken("input_does_not_match_dataset", "model m {\n    x = input(100)\n    output = x |> dense(10)\n}\ntrain {\n    data = mnist\n}\n", (2, 9), &["`input(100)` does not match `mnist`", "784"]),
    broken("output_does_not_match_classes", "model m {\n    x = input(784)\n    output = x |> dense(5)\n}\ntrain {\n    data = fashion_mnist\n}\n", (3, 19), &["`output` has 5 values but `fashion_mnist` has 10 classes"]),
    // Numbers out of range.
    broken("lr_not_positive", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    optimizer = sgd(lr = 0)\n}\n", (6, 26), &["learning rate must be positive"]),
    broken("batch_zero", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    batch = 0\n}\n", (6, 13), &["`batch` must be at least 1"]),
    broken("epochs_zero", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    epochs = 0\n}\n", (6, 14), &["`epochs` must be at least 1"]),
    broken("dropout_out_of_range", "model m {\n    x = input(784)\n    output = x |> dropout(1) |> dense(10)\n}\n", (3, 27), &["dropout probability must be in [0, 1)"]),
    broken("validation_out_of_range", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    validation = 1.5\n}\n", (6, 18), &["`validation` must be a fraction in [0, 1)"]),
    broken("width_too_large", "model m {\n    x = input(784)\n    output = x |> dense(100000000)\n}\n", (3, 25), &["too large to allocate"]),
    broken("params_too_large", "model m {\n    x = input(16000000)\n    output = x |> dense(1000)\n}\n", (3, 19), &["too large to allocate"]),
    broken("setting_written_twice", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    seed = 1\n    seed = 2\n}\n", (7, 5), &["setting `seed` is written twice"]),
    broken("shuffle_not_a_boolean", "model m {\n    x = input(784)\n    output = x |> dense(10)\n}\ntrain {\n    shuffle = 3\n}\n", (6, 15), &["`shuffle` must be `true` or `false`"]),
    // Images: the image contract's diagnostics (../shared/spec/nn-language-images.md).
    broken("conv_kernel_larger_than_input", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 30)\n    output = c |> flatten |> dense(10)\n}\n", (3, 14), &["30×30 kernel of `conv2d` is larger than its 28×28 input", "no pixels"]),
    broken("pool_window_larger_than_input", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 5) |> maxpool(25)\n    output = c |> flatten |> dense(10)\n}\n", (3, 30), &["25×25 window of `maxpool` is larger than its 24×24 input"]),
    broken("conv_no_pixels", "model m {\n    x = input(1, 28, 28)\n    c = x |> maxpool(2) |> maxpool(2) |> maxpool(2) |> maxpool(2) |> maxpool(2)\n    output = c |> flatten |> dense(10)\n}\n", (3, 70), &["the output would have no pixels"]),
    broken("stride_zero", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 3, stride = 0)\n    output = c |> flatten |> dense(10)\n}\n", (3, 36), &["`stride` of `conv2d` must be at least 1"]),
    broken("filters_not_whole", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4.5, 3)\n    output = c |> flatten |> dense(10)\n}\n", (3, 21), &["`filters` of `conv2d` must be a whole number", "4.5"]),
    broken("kernel_negative", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, -3)\n    output = c |> flatten |> dense(10)\n}\n", (3, 24), &["`kernel` of `conv2d` must be at least 1"]),
    broken("pool_size_zero", "model m {\n    x = input(1, 28, 28)\n    c = x |> avgpool(0)\n    output = c |> flatten |> dense(10)\n}\n", (3, 22), &["`size` of `avgpool` must be at least 1"]),
    broken("pad_not_same", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 3, pad = valid)\n    output = c |> flatten |> dense(10)\n}\n", (3, 33), &["`pad` of `conv2d` must be a whole number of pixels or `same`"]),
    broken("momentum_out_of_range", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 3) |> batchnorm(momentum = 1.5)\n    output = c |> flatten |> dense(10)\n}\n", (3, 51), &["`momentum` must be in (0, 1)", "1.5"]),
    broken("eps_not_positive", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 3) |> batchnorm(eps = 0)\n    output = c |> flatten |> dense(10)\n}\n", (3, 46), &["`eps` must be positive"]),
    broken("dense_on_image", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(4, 3)\n    output = c |> dense(10)\n}\n", (4, 19), &["`dense` takes a vector, found an image [4, 26, 26]", "flatten"]),
    broken("conv_on_vector", "model m {\n    x = input(784)\n    c = x |> conv2d(4, 3)\n    output = c |> flatten |> dense(10)\n}\n", (3, 14), &["`conv2d` takes an image [c, h, w], found a vector [784]"]),
    broken("add_of_different_images", "model m {\n    x = input(1, 28, 28)\n    a = x |> conv2d(4, 3)\n    b = x |> conv2d(4, 5)\n    output = (a + b) |> flatten |> dense(10)\n}\n", (5, 15), &["[4, 26, 26] and [4, 24, 24]"]),
    broken("concat_of_different_sizes", "model m {\n    x = input(1, 28, 28)\n    a = x |> conv2d(4, 3)\n    b = x |> conv2d(4, 5)\n    output = concat(a, b) |> flatten |> dense(10)\n}\n", (5, 14), &["`concat` joins vectors, or images of one height and width", "[4, 26, 26], [4, 24, 24]"]),
    broken("image_input_dataset_cannot_feed", "model m {\n    x = input(3, 32, 32)\n    output = x |> flatten |> dense(10)\n}\ntrain {\n    data = mnist\n}\n", (2, 9), &["`input(3, 32, 32)` does not match `mnist`", "input(1, 28, 28)"]),
    broken("conv_too_large", "model m {\n    x = input(1, 28, 28)\n    c = x |> conv2d(100000000, 3)\n    output = c |> flatten |> dense(10)\n}\n", (3, 21), &["too large to allocate"]),
];

#[test]
fn broken_files_get_a_diagnostic_at_the_right_spot() {
    let dir = tempfile::tempdir().unwrap();
    assert!(BROKEN.len() >= 25);
    let mut failures = Vec::new();
    for case in BROKEN {
        let path = dir.path().join(format!("{}.nn", case.name));
        std::fs::write(&path, case.text).unwrap();
        let output = cargo_bin_cmd!("nnc")
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.starts_with(" --> "))
            .unwrap_or_default()
            .to_owned();
        let at = format!("{}.nn:{}:{}", case.name, case.at.0, case.at.1);
        let missing: Vec<&&str> = case
            .words
            .iter()
            .filter(|word| !stderr.contains(*word))
            .collect();
        let ok = output.status.code() == Some(2)
            && first.ends_with(&at)
            && stderr.starts_with("error: ")
            && missing.is_empty();
        if !ok {
            failures.push(format!(
                "{}: expected {at}, missing {missing:?}, exit {:?}:\n{stderr}",
                case.name,
                output.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn several_independent_errors_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.nn");
    std::fs::write(&path, "model m {\n    x = input(784)\n    a = x |> sigmod\n    b = x |> dense(10, bais = true)\n    output = y\n}\ntrain {\n    batch = 0\n}\n").unwrap();
    cargo_bin_cmd!("nnc")
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(contains("many.nn:3:14"))
        .stderr(contains("many.nn:4:24"))
        .stderr(contains("many.nn:5:14"))
        .stderr(contains("many.nn:8:13"));
}
