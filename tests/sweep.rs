//! `nnc sweep`: the grid in flag order, one run per cell, the markdown and pivot tables,
//! and a bad value found before anything trains.

mod util;

use predicates::prelude::*;
use predicates::str::contains;
use util::{json, model, nnc};

/// A sweep of `models/mnist_sigmoid.nn` on 500 samples, one epoch.
fn quick_sweep(sets: &[&str]) -> assert_cmd::Command {
    let mut cmd = nnc();
    cmd.arg("sweep").arg(model("mnist_sigmoid")).args([
        "--samples",
        "500",
        "--epochs",
        "1",
        "--batch",
        "16",
    ]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    cmd
}

const GRID: [&str; 2] = ["hidden=16,32", "act=sigmoid,relu"];

#[test]
fn sweep_json_has_one_run_per_cell_in_flag_order() {
    let report = json(quick_sweep(&GRID).args(["--json", "--quiet"]));
    let runs = report["runs"].as_array().unwrap();
    let cells: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["set"]["hidden"].as_str().unwrap(),
                r["set"]["act"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("16", "sigmoid"),
            ("16", "relu"),
            ("32", "sigmoid"),
            ("32", "relu")
        ]
    );
    for run in runs {
        let accuracy = run["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy));
        assert!(run["train_seconds"].as_f64().unwrap() > 0.0);
    }
    // Each cell is the run `nnc run` would do: the hidden width shows in the parameters.
    assert_eq!(runs[0]["params"], 784 * 16 + 16 + 16 * 10 + 10);
    assert_eq!(runs[2]["params"], 784 * 32 + 32 + 32 * 10 + 10);
}

#[test]
fn sweep_prints_a_markdown_table_and_pivots_two_names() {
    let output = quick_sweep(&GRID).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stdout.starts_with("| hidden | act | test accuracy (%) | train seconds |\n"));
    assert_eq!(stdout.matches("| 16 | sigmoid |").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("| 32 | relu |").count(), 1, "{stdout}");
    // Two pivot tables, accuracy then seconds, hidden down and act across.
    assert_eq!(
        stdout.matches("| hidden \\ act | sigmoid | relu |").count(),
        2,
        "{stdout}"
    );
    let accuracy_at = stdout.find("test accuracy (%):").expect(&stdout);
    let seconds_at = stdout.find("train seconds:").expect(&stdout);
    assert!(accuracy_at < seconds_at);
    // Progress on stderr, one line per run started.
    for i in 1..=4 {
        assert!(stderr.contains(&format!("[{i}/4]")), "{stderr}");
    }
}

#[test]
fn a_single_value_applies_without_a_pivot() {
    let output = quick_sweep(&["hidden=16,32", "act=relu"])
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stdout.contains("| 32 | relu |"));
    assert!(!stdout.contains("\\"), "{stdout}");
}

#[test]
fn a_bad_value_in_any_cell_stops_the_sweep_before_training() {
    quick_sweep(&["hidden=16,32", "act=sigmoid,relux"])
        .assert()
        .code(2)
        .stderr(contains("unknown activation `relux`"))
        .stderr(contains("act=relux"))
        .stderr(contains("[1/").not())
        .stderr(contains("epoch").not());
}

#[test]
fn sweep_flags_that_make_no_sense_are_usage_errors() {
    quick_sweep(&["hidden=16", "hidden=32"])
        .assert()
        .code(2)
        .stderr(contains("given twice"));
    quick_sweep(&["hidden=16,,32"])
        .assert()
        .code(2)
        .stderr(contains("empty value"));
    quick_sweep(&GRID)
        .args(["--save", "w.safetensors"])
        .assert()
        .code(2)
        .stderr(contains("--save"));
}
