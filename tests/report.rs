//! Run records (beside `--save` weights, or in `--record DIR`) and `nnc report`: the
//! record's fields, the table and the overlaid picture of several records, and the bad
//! paths.

mod util;

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;
use util::{model, nnc, tiny_run};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The records in `dir`.
fn records_in(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".run.json"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn a_record_is_kept_beside_saved_weights() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("w.safetensors");
    tiny_run(&model("mnist_relu"), "16")
        .args(["--threads", "1", "--save"])
        .arg(&weights)
        .assert()
        .success();
    let record = read_json(&dir.path().join("w.run.json"));
    assert_eq!(record["tool"], "nnc");
    assert_eq!(record["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(record["model"], "mnist_relu");
    assert_eq!(record["file"], model("mnist_relu").display().to_string());
    let source = std::fs::read_to_string(model("mnist_relu")).unwrap();
    assert_eq!(record["source"], source.as_str());
    assert_eq!(record["overrides"], serde_json::json!([["hidden", "16"]]));
    assert_eq!(record["seed"], 1);
    assert_eq!(record["epochs"], 3);
    assert_eq!(record["batch"], 32);
    assert_eq!(record["samples"], 1000);
    assert!(record["cores"].as_u64().unwrap() >= 1);
    assert_eq!(record["threads"], 1);
    assert_eq!(record["optimizer"], "sgd lr 0.05 momentum 0.9");
    assert_eq!(record["loss"], "cross-entropy");
    let accuracy = record["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert!(record["test_loss"].as_f64().unwrap().is_finite());
    assert!(record["train_seconds"].as_f64().unwrap() > 0.0);
    let history = record["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["test_accuracy"], record["test_accuracy"]);
}

#[test]
fn record_dir_names_the_record_after_model_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    tiny_run(&model("mnist_relu"), "16")
        .arg("--record")
        .arg(dir.path())
        .assert()
        .success();
    let records = records_in(dir.path());
    assert_eq!(records.len(), 1, "{records:?}");
    let name = records[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with("mnist_relu-1-"), "{name}");
    let record = read_json(&records[0]);
    assert!(record["threads"].is_null());
    assert_eq!(record["history"].as_array().unwrap().len(), 3);
}

#[test]
fn record_into_a_missing_folder_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("runs/today");
    tiny_run(&model("mnist_relu"), "16")
        .arg("--record")
        .arg(&missing)
        .assert()
        .success();
    let records: Vec<_> = std::fs::read_dir(&missing).unwrap().collect();
    assert_eq!(records.len(), 1, "{records:?}");
}

#[test]
fn record_into_a_folder_that_cannot_be_made_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "a file, not a folder").unwrap();
    tiny_run(&model("mnist_relu"), "16")
        .arg("--record")
        .arg(file.join("runs"))
        .assert()
        .code(1)
        .stderr(contains("cannot write").and(contains("taken")))
        .stderr(contains("epoch").not());
}

#[test]
fn report_compares_two_records_in_a_table_and_a_picture() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    tiny_run(&model("mnist_relu"), "16")
        .arg("--save")
        .arg(&a)
        .assert()
        .success();
    tiny_run(&model("mnist_relu"), "32")
        .arg("--save")
        .arg(&b)
        .assert()
        .success();
    let picture = dir.path().join("compare.svg");
    let output = nnc()
        .arg("report")
        .arg(dir.path().join("a.run.json"))
        .arg(dir.path().join("b.run.json"))
        .arg("--plot")
        .arg(&picture)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("| record | model | overrides |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| a | mnist_relu | hidden=16 | 1 | 3 | 32 |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| b | mnist_relu | hidden=32 | 1 | 3 | 32 |"),
        "{stdout}"
    );
    // Train loss and test accuracy of each record: four lines of three points.
    let svg = std::fs::read_to_string(&picture).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses");
    let lines: Vec<usize> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .map(|n| n.attribute("points").unwrap().split_whitespace().count())
        .collect();
    assert_eq!(lines, [3, 3, 3, 3]);
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::trim))
        .collect();
    assert!(
        texts.contains(&"a (hidden=16)") && texts.contains(&"b (hidden=32)"),
        "{texts:?}"
    );

    let report = util::json(
        nnc()
            .arg("report")
            .arg(dir.path().join("a.run.json"))
            .arg("--json"),
    );
    assert_eq!(report["records"][0]["record"], "a");
    assert_eq!(
        report["records"][0]["overrides"],
        serde_json::json!([["hidden", "16"]])
    );
}

#[test]
fn report_of_a_missing_or_foreign_file_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    nnc()
        .arg("report")
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(1)
        .stderr(contains("cannot read").and(contains("missing.json")));
    let foreign = dir.path().join("other.json");
    std::fs::write(&foreign, "{\"tool\": \"other\"}").unwrap();
    nnc()
        .arg("report")
        .arg(&foreign)
        .assert()
        .code(1)
        .stderr(contains("other.json is not an nnc run record"));
}

#[test]
fn report_without_records_is_a_usage_error() {
    nnc().arg("report").assert().code(2);
}
