//! What the command tests share: the binary with real MNIST from `../shared/data`, a
//! decompression cache shared by every test (the `.gz` files are unpacked once, written
//! atomically, so tests running at the same time can share it), and JSON output.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;

pub mod npz;
pub mod sklearn;

/// `nnc` reading the shared datasets, with the shared cache.
pub fn nnc() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("nnc");
    cmd.env(
        "NNC_DATA",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"),
    )
    .env(
        "NNC_CACHE",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/nnc-cache"),
    );
    cmd
}

/// The names of every model in `models/` (`mnist_sigmoid` for `models/mnist_sigmoid.nn`),
/// sorted: tests that cover every model read the folder, so a new model is covered the
/// day it is added.
pub fn model_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("models/ is readable")
        .map(|entry| entry.expect("models/ is readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "nn"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 9, "models/ lost files: {names:?}");
    names
}

/// A tiny run of `file` with `hidden` units: 1000 samples, 3 epochs, batch 32, quiet.
pub fn tiny_run(file: &Path, hidden: &str) -> assert_cmd::Command {
    let mut cmd = nnc();
    cmd.arg("run").arg(file).args([
        "--set",
        &format!("hidden={hidden}"),
        "--samples",
        "1000",
        "--epochs",
        "3",
        "--batch",
        "32",
        "--quiet",
    ]);
    cmd
}

/// A model of `models/`.
pub fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(format!("{name}.nn"))
}

/// Runs `cmd`, which must succeed, and parses its stdout as one JSON object.
pub fn json(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let output = cmd.output().expect("nnc runs");
    assert!(
        output.status.success(),
        "nnc failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A small, quick `nnc run` of `models/mnist_sigmoid.nn`: 32 hidden units, 2000 samples,
/// one epoch of batches of 32.
pub fn quick_run() -> assert_cmd::Command {
    quick_run_for(1)
}

/// [`quick_run`] for `epochs` epochs.
pub fn quick_run_for(epochs: u32) -> assert_cmd::Command {
    let mut cmd = nnc();
    cmd.arg("run")
        .arg(model("mnist_sigmoid"))
        .args(["--set", "hidden=32", "--samples", "2000", "--batch", "32"])
        .args(["--epochs", &epochs.to_string(), "--quiet"]);
    cmd
}

/// Writes a model file into `dir`.
pub fn write_model(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the temporary folder is writable");
    path
}
