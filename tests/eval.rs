//! `nnc eval`: saved weights evaluate to what the run reported; the weights are required
//! and must match the model.

mod util;

use predicates::prelude::*;
use predicates::str::contains;
use util::{json, model, nnc, quick_run};

#[test]
fn a_saved_and_reloaded_model_evaluates_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("w.safetensors");
    let run = json(quick_run().arg("--json").arg("--save").arg(&weights));
    let eval = json(
        nnc()
            .arg("eval")
            .arg(model("mnist_sigmoid"))
            .args(["--set", "hidden=32", "--json", "--weights"])
            .arg(&weights),
    );
    assert_eq!(eval["model"], "mnist_sigmoid");
    assert_eq!(eval["samples"], 10_000);
    assert_eq!(eval["test_accuracy"], run["test_accuracy"]);
    assert_eq!(eval["test_loss"], run["test_loss"]);
    // The human line says the same.
    let percent = format!("{:.2} %", run["test_accuracy"].as_f64().unwrap() * 100.0);
    nnc()
        .arg("eval")
        .arg(model("mnist_sigmoid"))
        .args(["--set", "hidden=32", "--weights"])
        .arg(&weights)
        .assert()
        .success()
        .stdout(contains(percent))
        .stdout(contains("10000 samples"));
}

#[test]
fn eval_without_weights_is_a_usage_error() {
    nnc()
        .arg("eval")
        .arg(model("mnist_sigmoid"))
        .assert()
        .code(2)
        .stderr(contains("--weights"));
}

#[test]
fn eval_of_weights_for_another_shape_lists_the_differences() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("h32.safetensors");
    quick_run().arg("--save").arg(&weights).assert().success();
    nnc()
        .arg("eval")
        .arg(model("mnist_sigmoid"))
        .arg("--weights")
        .arg(&weights)
        .assert()
        .code(1)
        .stderr(contains("do not match the model"))
        .stderr(contains(
            "`h.weight` has shape [32, 784], the model needs [256, 784]",
        ));
}

#[test]
fn eval_of_a_file_that_is_not_safetensors_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("junk.safetensors");
    std::fs::write(&weights, b"not a safetensors file").unwrap();
    nnc()
        .arg("eval")
        .arg(model("mnist_sigmoid"))
        .arg("--weights")
        .arg(&weights)
        .assert()
        .code(1)
        .stderr(contains("is not a valid safetensors file"))
        .stderr(contains("panicked").not());
    nnc()
        .arg("eval")
        .arg(model("mnist_sigmoid"))
        .arg("--weights")
        .arg(dir.path().join("missing.safetensors"))
        .assert()
        .code(1)
        .stderr(contains("cannot read weights"));
}
