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

/// A sweep of the iris example (six cells, a fraction of a second each).
fn iris_sweep() -> Vec<String> {
    let iris = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/iris.nn");
    [
        "sweep",
        iris.to_str().unwrap(),
        "--set",
        "hidden=4,8,16",
        "--set",
        "lr=0.01,0.05",
        "--epochs",
        "20",
        "--quiet",
    ]
    .map(String::from)
    .to_vec()
}

/// A markdown table with every training time (the one number that is not the same from
/// run to run) replaced by `s`.
fn without_seconds(table: &str) -> String {
    let seconds = |cell: &str| {
        cell.split_once('.').is_some_and(|(a, b)| {
            b.len() == 1 && (a.chars().chain(b.chars())).all(|c| c.is_ascii_digit())
        })
    };
    table
        .lines()
        .map(|line| {
            line.split('|')
                .map(|cell| if seconds(cell.trim()) { " s " } else { cell })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn two_shards_reported_together_equal_the_unsharded_sweep() {
    let whole = nnc().args(iris_sweep()).output().unwrap();
    assert!(whole.status.success(), "{whole:?}");
    let whole = String::from_utf8(whole.stdout).unwrap();
    assert_eq!(whole.matches("| 16 | 0.05 |").count(), 1, "{whole}");

    // Two processes at once, as two machines sharing a folder would run them, into a
    // folder neither has made yet: both create it.
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let shards: Vec<std::process::Child> = ["1/2", "2/2"]
        .iter()
        .map(|shard| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin!("nnc"))
                .args(iris_sweep())
                .args(["--shard", shard, "--record"])
                .arg(&runs)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut shard in shards {
        assert!(shard.wait().unwrap().success());
    }
    let mut names: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for (i, name) in names.iter().enumerate() {
        assert!(
            name.starts_with("iris-") && name.ends_with(&format!("-cell-{}-of-6.run.json", i + 1)),
            "{name}"
        );
    }

    let reported = nnc().arg("report").arg(&runs).output().unwrap();
    assert!(reported.status.success(), "{reported:?}");
    let reported = String::from_utf8(reported.stdout).unwrap();
    assert_eq!(without_seconds(&reported), without_seconds(&whole));
    // The records may be named one by one, in any order.
    let mut paths: Vec<_> = names.iter().rev().map(|n| runs.join(n)).collect();
    paths.rotate_left(2);
    let again = nnc().arg("report").args(&paths).output().unwrap();
    assert_eq!(
        without_seconds(&String::from_utf8(again.stdout).unwrap()),
        without_seconds(&whole)
    );
}

#[test]
fn a_shard_runs_every_nth_cell_and_the_report_names_the_missing() {
    let dir = tempfile::tempdir().unwrap();
    let output = nnc()
        .args(iris_sweep())
        .args(["--shard", "2/4", "--record"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    // Cells 2 and 6 of six: hidden=4 lr=0.05 and hidden=16 lr=0.05.
    let stdout = String::from_utf8(output.stdout).unwrap();
    let runs = stdout.split("\n\n").next().unwrap();
    assert_eq!(runs.lines().count(), 4, "{stdout}");
    assert!(
        runs.contains("| 4 | 0.05 |") && runs.contains("| 16 | 0.05 |"),
        "{stdout}"
    );
    nnc()
        .arg("report")
        .arg(dir.path())
        .assert()
        .success()
        .stderr(contains("2 of 6 cells have records; missing: hidden=4 lr=0.01; hidden=8 lr=0.01; hidden=8 lr=0.05; hidden=16 lr=0.01"))
        .stdout(contains("| 16 | 0.05 |"))
        .stdout(contains("| 4 | – |"));
    // More shards than cells: the extra ones have nothing to do.
    nnc()
        .args(iris_sweep())
        .args(["--shard", "7/7"])
        .assert()
        .success();
    for bad in ["0/2", "3/2", "2", "a/b"] {
        nnc()
            .args(iris_sweep())
            .args(["--shard", bad])
            .assert()
            .code(2)
            .stderr(contains("is not K/N"));
    }
}

#[test]
fn a_regression_sweep_tabulates_r2_and_mse() {
    let dir = tempfile::tempdir().unwrap();
    util::sklearn::diabetes(dir.path());
    let model = util::write_model(
        dir.path(),
        "d.nn",
        "let hidden = 8\nmodel d {\n    x = input(10)\n    h = x |> dense(hidden) |> relu\n    output = h |> dense(1)\n    loss = mse\n}\n\
         train {\n    data = csv(\"diabetes.csv\", label = \"progression\")\n    optimizer = adam(lr = 0.05)\n    epochs = 5\n}\n",
    );
    let output = nnc()
        .arg("sweep")
        .arg(&model)
        .args(["--set", "hidden=4,8", "--quiet"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("| hidden | test R² | test mse | train seconds |\n"),
        "{stdout}"
    );
}
