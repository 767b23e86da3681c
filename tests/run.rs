//! `nnc run`: the JSON report, reproducible weights, a diverging run, early stopping,
//! mismatched weights and bad flags, through the real binary on real MNIST.

mod util;

use predicates::prelude::*;
use predicates::str::contains;
use util::{json, model, nnc, quick_run, quick_run_for, write_model};

#[test]
fn run_json_has_the_contract_keys_with_sane_values() {
    let report = json(quick_run_for(2).arg("--json"));
    assert_eq!(report["model"], "mnist_sigmoid");
    assert_eq!(report["params"], 784 * 32 + 32 + 32 * 10 + 10);
    assert_eq!(report["epochs"], 2);
    assert_eq!(report["batch"], 32);
    assert_eq!(report["samples"], 2000);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    // Ten classes: anything that learned at all is far above chance.
    assert!((0.3..=1.0).contains(&accuracy), "{accuracy}");
    assert!(report["test_loss"].as_f64().unwrap().is_finite());
    assert!(report["train_seconds"].as_f64().unwrap() > 0.0);
    assert!(report["samples_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["infer_samples_per_second"].as_f64().unwrap() > 0.0);
    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    for (i, epoch) in history.iter().enumerate() {
        assert_eq!(epoch["epoch"], i + 1);
        for key in ["train_loss", "test_accuracy", "test_loss", "seconds"] {
            assert!(epoch[key].as_f64().is_some(), "history lacks `{key}`");
        }
    }
    // The loss falls over the second epoch.
    assert!(history[1]["train_loss"].as_f64() < history[0]["train_loss"].as_f64());
    // The summary is the last epoch's (no early stopping here).
    assert_eq!(report["test_accuracy"], history[1]["test_accuracy"]);
}

/// Trains `models/mnist_sigmoid.nn` with 256 hidden units in batches of 64 (large enough
/// that matrixmultiply splits the products between threads) and returns the saved bytes.
fn saved_weights(dir: &std::path::Path, name: &str, threads: &str, seed: &str) -> Vec<u8> {
    let path = dir.join(name);
    nnc()
        .arg("run")
        .arg(model("mnist_sigmoid"))
        .args(["--samples", "2000", "--epochs", "1", "--batch", "64"])
        .args(["--threads", threads, "--seed", seed, "--quiet", "--save"])
        .arg(&path)
        .assert()
        .success();
    std::fs::read(path).unwrap()
}

#[test]
fn the_same_seed_gives_bit_identical_weights_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let first = saved_weights(dir.path(), "a.safetensors", "2", "5");
    let again = saved_weights(dir.path(), "b.safetensors", "2", "5");
    let one_thread = saved_weights(dir.path(), "c.safetensors", "1", "5");
    assert!(first == again, "two runs with the same seed differ");
    assert!(first == one_thread, "--threads 1 and --threads 2 differ");
    // The comparison can tell runs apart.
    let other_seed = saved_weights(dir.path(), "d.safetensors", "2", "6");
    assert!(first != other_seed, "another seed gave the same weights");
}

#[test]
fn a_diverging_run_fails_cleanly_at_its_node() {
    let dir = tempfile::tempdir().unwrap();
    // A linear regression onto one-hot targets with an absurd step overflows at the
    // second step, before the loss could count as exploding while finite.
    let file = write_model(
        dir.path(),
        "diverges.nn",
        "model diverges {
    x      = input(784)
    h      = x |> dense(32) |> tanh
    output = h |> dense(10)
    loss   = mse
}

train {
    data      = mnist
    optimizer = sgd(lr = 1e30)
    epochs    = 1
    batch     = 32
    seed      = 1
}
",
    );
    nnc()
        .arg("run")
        .arg(&file)
        .args(["--samples", "2000"])
        .assert()
        .code(1)
        .stderr(contains("diverged at epoch 1, step"))
        .stderr(contains("the loss is"))
        .stderr(contains("(first non-finite value: node `output`)"))
        .stderr(contains("smaller learning rate"))
        .stderr(contains("diverges.nn:4:19"))
        .stderr(contains("went non-finite here first"))
        .stderr(contains("panicked").not());
}

#[test]
fn a_loss_that_explodes_while_finite_is_a_divergence() {
    let dir = tempfile::tempdir().unwrap();
    // A relu MLP at lr 1e6 reaches a train loss of 2e30 and never a NaN: without the
    // divergence rule it would exit 0 with 10 % accuracy.
    let file = write_model(
        dir.path(),
        "explodes.nn",
        "model explodes {
    x      = input(784)
    h      = x |> dense(128) |> relu
    output = h |> dense(10) |> softmax
    loss   = cross_entropy
}

train {
    data      = mnist
    optimizer = sgd(lr = 1000000)
    epochs    = 1
    batch     = 16
    seed      = 1
}
",
    );
    nnc()
        .arg("run")
        .arg(&file)
        .args(["--samples", "2000"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("error: training diverged at epoch 1, step "))
        .stderr(contains("the running loss is "))
        .stderr(contains("over 1000 × its reference "))
        .stderr(contains("(largest value: node `output.dense`, magnitude "))
        .stderr(contains("; try a smaller learning rate (lr = 1000000 now)"))
        .stderr(contains("explodes.nn:4:19"))
        .stderr(contains("the value of `output.dense` is the largest here"))
        .stderr(contains("help: try a smaller learning rate"))
        .stderr(contains("test accuracy").not());
}

#[test]
fn early_stopping_keeps_the_best_epochs_weights() {
    let dir = tempfile::tempdir().unwrap();
    // Adam with a large step on 400 samples overfits within a few epochs, so the
    // validation loss soon rises.
    let file = write_model(
        dir.path(),
        "overfits.nn",
        "model overfits {
    x      = input(784)
    h      = x |> dense(64) |> sigmoid
    output = h |> dense(10) |> softmax
    loss   = cross_entropy
}

train {
    data           = mnist
    optimizer      = adam(lr = 0.05)
    epochs         = 30
    batch          = 16
    seed           = 7
    validation     = 0.2
    early_stopping = 1
}
",
    );
    let weights = dir.path().join("best.safetensors");
    let report = json(
        nnc()
            .arg("run")
            .arg(&file)
            .args(["--samples", "500", "--quiet", "--json", "--save"])
            .arg(&weights),
    );
    assert_eq!(report["stopped_early"], true, "{report}");
    let history = report["history"].as_array().unwrap();
    let best_epoch = report["best_epoch"].as_u64().unwrap() as usize;
    // Patience 1: the run stops one epoch after the best.
    assert_eq!(best_epoch + 1, history.len(), "{report}");
    let best = &history[best_epoch - 1];
    let validation_loss = |e: &serde_json::Value| e["validation_loss"].as_f64().unwrap();
    assert!(validation_loss(history.last().unwrap()) >= validation_loss(best));
    assert_eq!(report["test_accuracy"], best["test_accuracy"]);
    // The saved weights are the best epoch's, not the last one's.
    let evaluated = json(
        nnc()
            .arg("eval")
            .arg(&file)
            .args(["--json", "--weights"])
            .arg(&weights),
    );
    assert_eq!(evaluated["test_accuracy"], best["test_accuracy"]);
    assert_eq!(evaluated["test_loss"], best["test_loss"]);
}

#[test]
fn weights_that_do_not_match_the_model_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("h32.safetensors");
    quick_run().arg("--save").arg(&weights).assert().success();
    nnc()
        .arg("run")
        .arg(model("mnist_sigmoid"))
        .args(["--set", "hidden=64", "--samples", "100", "--quiet"])
        .arg("--weights")
        .arg(&weights)
        .assert()
        .code(1)
        .stderr(contains("do not match the model"))
        .stderr(contains(
            "`h.weight` has shape [32, 784], the model needs [64, 784]",
        ))
        .stderr(contains("`h.bias` has shape [32]"))
        .stderr(contains("`output.weight` has shape [10, 32]"));
}

#[test]
fn saving_into_a_missing_folder_creates_it_and_one_that_cannot_be_made_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/w.safetensors");
    quick_run().arg("--save").arg(&path).assert().success();
    assert!(path.is_file());
    let file = dir.path().join("a_file");
    std::fs::write(&file, "not a folder").unwrap();
    let path = file.join("w.safetensors");
    quick_run()
        .arg("--save")
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains("cannot write weights to"))
        .stderr(contains("a_file/w.safetensors"))
        .stderr(contains("panicked").not());
    assert!(!path.exists());
}

#[test]
fn bad_flags_are_usage_errors() {
    for batch in ["--batch=0", "--batch=abc", "--batch=-1"] {
        nnc()
            .arg("run")
            .arg(model("mnist_sigmoid"))
            .arg(batch)
            .assert()
            .code(2)
            .stderr(contains("--batch"));
    }
    nnc()
        .arg("run")
        .arg(model("mnist_sigmoid"))
        .args(["--samples", "0"])
        .assert()
        .code(2);
    nnc()
        .arg("run")
        .arg(model("mnist_sigmoid"))
        .args(["--threads", "0"])
        .assert()
        .code(2);
}

/// Weights after two epochs of a small model whose train block ends with `extra`.
fn weights_with(dir: &std::path::Path, name: &str, extra: &str) -> Vec<u8> {
    let text = format!(
        "model m {{\n    x = input(784)\n    h = x |> dense(16) |> sigmoid\n    output = h |> dense(10) |> softmax\n    loss = cross_entropy\n}}\ntrain {{\n    data = mnist\n    batch = 32\n    epochs = 2\n{extra}}}\n"
    );
    let file = util::write_model(dir, &format!("{name}.nn"), &text);
    let path = dir.join(format!("{name}.safetensors"));
    nnc()
        .arg("run")
        .arg(&file)
        .args(["--samples", "1000", "--quiet", "--save"])
        .arg(&path)
        .assert()
        .success();
    std::fs::read(path).unwrap()
}

#[test]
fn lr_decay_scales_the_learning_rate_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let plain = weights_with(dir.path(), "plain", "");
    let one = weights_with(dir.path(), "one", "    lr_decay = 1\n");
    let half = weights_with(dir.path(), "half", "    lr_decay = 0.5\n");
    assert!(plain == one, "lr_decay = 1 must leave training unchanged");
    assert!(plain != half, "lr_decay = 0.5 changed nothing");
}

#[test]
fn weight_decay_and_schedules_change_training_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let plain = weights_with(dir.path(), "plain", "");
    let no_decay = weights_with(
        dir.path(),
        "nodecay",
        "    weight_decay = 0
",
    );
    let constant = weights_with(
        dir.path(),
        "constant",
        "    schedule = constant
",
    );
    let decay = weights_with(
        dir.path(),
        "decay",
        "    weight_decay = 0.01
",
    );
    let adamw = weights_with(
        dir.path(),
        "adamw",
        "    optimizer = adam
    weight_decay = 0.01
",
    );
    let adam = weights_with(
        dir.path(),
        "adam",
        "    optimizer = adam
",
    );
    let cosine = weights_with(
        dir.path(),
        "cosine",
        "    schedule = cosine
",
    );
    let onecycle = weights_with(
        dir.path(),
        "onecycle",
        "    schedule = onecycle(0.5)
",
    );
    assert!(
        plain == no_decay,
        "weight_decay = 0 must leave training unchanged"
    );
    assert!(
        plain == constant,
        "schedule = constant must leave training unchanged"
    );
    assert!(plain != decay, "weight_decay changed nothing with sgd");
    assert!(adam != adamw, "weight_decay changed nothing with adam");
    assert!(plain != cosine && plain != onecycle && cosine != onecycle);
}

#[test]
fn augmentation_changes_training_only_when_asked_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let plain = weights_with(dir.path(), "plain", "");
    let off = weights_with(dir.path(), "off", "    flip = 0\n    shift = 0\n");
    let flip = weights_with(dir.path(), "flip", "    flip = 0.5\n");
    let shift = weights_with(dir.path(), "shift", "    shift = 2\n");
    let both = weights_with(dir.path(), "both", "    flip = 0.5\n    shift = 2\n");
    let again = weights_with(dir.path(), "again", "    flip = 0.5\n    shift = 2\n");
    assert!(
        plain == off,
        "flip = 0 and shift = 0 must leave training unchanged"
    );
    assert!(plain != flip, "flip = 0.5 changed nothing");
    assert!(plain != shift, "shift = 2 changed nothing");
    assert!(
        flip != both && shift != both,
        "flip and shift do not combine"
    );
    assert!(
        both == again,
        "augmented training is not reproducible for a seed"
    );
}

#[test]
fn train_settings_out_of_range_are_model_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "lr_decay = 0",
            "`lr_decay` must be a factor in (0, 1]",
            "7:16",
        ),
        (
            "lr_decay = 1.5",
            "`lr_decay` must be a factor in (0, 1]",
            "7:16",
        ),
        (
            "lr_decay = -0.1",
            "`lr_decay` must be a factor in (0, 1]",
            "7:16",
        ),
        (
            "flip = 1.5",
            "`flip` must be a probability in [0, 1]",
            "7:12",
        ),
        (
            "flip = -1",
            "`flip` must be a probability in [0, 1]",
            "7:12",
        ),
        (
            "flip = true",
            "`flip` must be a probability in [0, 1]",
            "7:12",
        ),
        ("shift = 1.5", "`shift` must be a whole number", "7:13"),
        (
            "weight_decay = -1",
            "`weight_decay` must be in [0, 1)",
            "7:20",
        ),
        ("schedule = cosin", "unknown schedule `cosin`", "7:16"),
        ("schedule = onecycle", "`onecycle` needs `max_lr`", "7:16"),
        (
            "schedule = onecycle(0)",
            "the peak learning rate must be positive",
            "7:25",
        ),
        (
            "lr_decay = 0.9\n    schedule = cosine",
            "`lr_decay` and `schedule` both change the learning rate",
            "8:5",
        ),
        (
            "shift = 100000",
            "`shift` of 100000 pixels is too large",
            "7:13",
        ),
    ];
    for (setting, message, at) in cases {
        let text = format!(
            "model m {{\n    x = input(784)\n    output = x |> dense(10) |> softmax\n    loss = cross_entropy\n}}\ntrain {{\n    {setting}\n}}\n"
        );
        let file = util::write_model(dir.path(), "bad.nn", &text);
        nnc()
            .arg("check")
            .arg(&file)
            .assert()
            .code(2)
            .stderr(contains(message))
            .stderr(contains(format!("bad.nn:{at}")));
    }
}

/// Saved weights of a 784-300-100-90-10 network (widths and batches that are multiples of
/// neither 8, 16 nor 64, so products are cut mid-way through their dimensions) trained with
/// `optimizer` for one epoch of 1,200 samples at `batch` on `threads` threads.
fn odd_shaped_weights(
    dir: &std::path::Path,
    optimizer: &str,
    batch: &str,
    threads: &str,
) -> Vec<u8> {
    let name = format!("odd-{}-{batch}-{threads}", optimizer.len());
    let file = write_model(
        dir,
        &format!("{name}.nn"),
        &format!(
            "model odd {{
    x      = input(784)
    h1     = x |> dense(300) |> relu
    h2     = h1 |> dense(100) |> tanh
    h3     = h2 |> dense(90) |> sigmoid
    output = h3 |> dense(10) |> softmax
    loss   = cross_entropy
}}

train {{
    data      = mnist
    optimizer = {optimizer}
    epochs    = 1
    batch     = 1
    seed      = 3
}}
"
        ),
    );
    let path = dir.join(format!("{name}.safetensors"));
    nnc()
        .arg("run")
        .arg(&file)
        .args([
            "--samples",
            "1200",
            "--batch",
            batch,
            "--threads",
            threads,
            "--quiet",
            "--save",
        ])
        .arg(&path)
        .assert()
        .success();
    std::fs::read(path).unwrap()
}

/// Issue 11: bit-identical weights for any `--threads` must hold by construction, not
/// for the band sizes one CPU happens to pick (the products here are cut into bands of
/// rows and of columns; see `BAND_ALIGN` in `src/kernels/gemm/sgemm.rs`).
#[test]
fn odd_widths_and_batches_give_the_same_weights_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    for optimizer in ["sgd(lr = 0.05)", "adam(lr = 0.001)"] {
        for batch in ["36", "100"] {
            let one = odd_shaped_weights(dir.path(), optimizer, batch, "1");
            let two = odd_shaped_weights(dir.path(), optimizer, batch, "2");
            assert!(
                one == two,
                "{optimizer} at batch {batch}: --threads 1 and 2 differ"
            );
        }
    }
}
