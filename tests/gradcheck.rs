//! `nnc gradcheck`: the engine's gradients of the shipped models agree with central
//! differences on real samples, dropout and relu kinks included.

mod util;

use predicates::str::contains;
use util::{json, model, nnc, write_model};

fn gradcheck(name: &str, sets: &[&str]) -> serde_json::Value {
    let mut cmd = nnc();
    cmd.arg("gradcheck").arg(model(name)).arg("--json");
    for set in sets {
        cmd.args(["--set", set]);
    }
    json(&mut cmd)
}

fn assert_passes(report: &serde_json::Value) {
    assert_eq!(report["ok"], true, "{report}");
    let error = report["max_rel_error"].as_f64().unwrap();
    assert!(error <= report["tolerance"].as_f64().unwrap(), "{report}");
    assert!(report["checked"].as_u64().unwrap() > 0, "{report}");
}

#[test]
fn gradcheck_passes_on_the_sigmoid_model() {
    let report = gradcheck("mnist_sigmoid", &[]);
    assert_passes(&report);
    assert_eq!(report["model"], "mnist_sigmoid");
    assert_eq!(report["batch"], 4);
    // No relu, so no kink to step around.
    assert_eq!(report["one_sided"], 0);
}

#[test]
fn gradcheck_passes_on_the_deep_model_with_dropout_and_relu() {
    // A narrower first layer: the check of every element costs two forward passes.
    assert_passes(&gradcheck("mnist_deep", &["width=64"]));
}

#[test]
fn gradcheck_passes_on_the_relu_model() {
    assert_passes(&gradcheck("mnist_relu", &["hidden=64"]));
}

#[test]
fn gradcheck_prints_a_summary_line() {
    nnc()
        .arg("gradcheck")
        .arg(model("mnist_tanh"))
        .args(["--set", "hidden=32"])
        .assert()
        .success()
        .stdout(contains("mnist_tanh: ok"))
        .stdout(contains("max relative error"));
}

#[test]
fn gradcheck_needs_a_loss() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_model(
        dir.path(),
        "no_loss.nn",
        "model no_loss {
    x      = input(784)
    output = x |> dense(10) |> softmax
}

train {
    data = mnist
}
",
    );
    nnc().arg("gradcheck").arg(&file).assert().code(2);
}
