//! `data = csv(...)`: real tables (scikit-learn's iris, wine, breast cancer and diabetes,
//! see `util/sklearn.rs`) train to sensible accuracy and R²; the hold-out is seeded and
//! stratified; every error names the file and the line; the training rows' statistics
//! are saved with the weights, and `nnc eval` of saved weights gives the run's own figures.

mod util;

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;
use util::{json, nnc, sklearn, write_model};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples")
}

/// `nnc run FILE --json` of a model written into `dir`.
fn run_json(model: &Path, extra: &[&str]) -> serde_json::Value {
    json(nnc().arg("run").arg(model).arg("--json").args(extra))
}

#[test]
fn the_iris_example_classifies_at_least_90_percent() {
    // docs/examples/iris.csv is scikit-learn's iris, written as the README shows.
    let dir = tempfile::tempdir().unwrap();
    let converted = std::fs::read_to_string(sklearn::iris(dir.path())).unwrap();
    let shipped = std::fs::read_to_string(examples().join("iris.csv")).unwrap();
    assert_eq!(converted, shipped);
    let report = run_json(&examples().join("iris.nn"), &[]);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    // Seed 0 gives 96.67 % (29 of 30); seeds 0 to 7 range from 90.00 to 100 %.
    assert!(accuracy >= 0.9, "iris test accuracy {accuracy}");
    assert_eq!(report["samples"], 120, "a fifth of 150 rows held out");
    assert!(report.get("test_r2").is_none());
}

/// `docs/examples/{name}.nn` copied into `dir`, beside the table it reads.
fn example(dir: &Path, name: &str) -> PathBuf {
    let model = dir.join(format!("{name}.nn"));
    std::fs::copy(examples().join(format!("{name}.nn")), &model).unwrap();
    model
}

#[test]
fn wine_and_breast_cancer_classify_well() {
    let dir = tempfile::tempdir().unwrap();
    sklearn::wine(dir.path());
    sklearn::breast_cancer(dir.path());
    // The lowest accuracy over seeds 0 to 7 (measured: wine 95.56 to 100 %, breast
    // cancer 94.37 to 98.59 %); seed 0 gives 100 % and 98.59 %.
    for (name, bound) in [("wine", 0.95), ("breast_cancer", 0.94)] {
        let report = run_json(&example(dir.path(), name), &[]);
        let accuracy = report["test_accuracy"].as_f64().unwrap();
        assert!(accuracy >= bound, "{name}: test accuracy {accuracy}");
    }
}

#[test]
fn diabetes_regression_reports_mse_and_r2() {
    let dir = tempfile::tempdir().unwrap();
    sklearn::diabetes(dir.path());
    let model = example(dir.path(), "diabetes");
    let report = run_json(&model, &[]);
    // Seed 0 gives 0.4517; seeds 0 to 7 range from 0.43 to 0.58, where scikit-learn's
    // linear regression gets 0.33 to 0.53 on random splits of the same size.
    let r2 = report["test_r2"].as_f64().unwrap();
    assert!(r2 >= 0.4, "diabetes test R² {r2}");
    let mse = report["test_mse"].as_f64().unwrap();
    assert!(mse > 0.0 && mse < 4000.0, "test mse {mse}");
    assert_eq!(
        report["test_loss"], report["test_mse"],
        "the mse is the loss"
    );
    assert!(
        report.get("test_accuracy").is_none(),
        "no accuracy: {report}"
    );
    let last = report["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["test_r2"], report["test_r2"]);
    assert!(last.get("test_accuracy").is_none());
    // The human summary says R² and mse, not accuracy.
    nnc()
        .arg("run")
        .arg(&model)
        .args(["--epochs", "3"])
        .assert()
        .success()
        .stdout(contains("test R² ").and(contains("test mse ")))
        .stdout(contains("accuracy").not());
}

#[test]
fn saved_weights_evaluate_to_the_runs_own_figures() {
    let dir = tempfile::tempdir().unwrap();
    sklearn::diabetes(dir.path());
    let iris = examples().join("iris.nn");
    let diabetes = example(dir.path(), "diabetes");
    for (model, keys) in [
        (&iris, &["test_accuracy", "test_loss"][..]),
        (&diabetes, &["test_mse", "test_r2", "test_loss"][..]),
    ] {
        let weights = dir.path().join("w.safetensors");
        let run = run_json(model, &["--save", weights.to_str().unwrap()]);
        let eval = json(
            nnc()
                .arg("eval")
                .arg(model)
                .arg("--json")
                .arg("--weights")
                .arg(&weights),
        );
        for key in keys {
            assert_eq!(eval[key], run[key], "{key} of {}", model.display());
        }
    }
}

/// The named tensor of a safetensors file, as `f32`s.
fn tensor(path: &Path, name: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn the_training_rows_statistics_are_saved_with_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    // Training rows (a file of their own, so all of them train): x1 is 1, 2, 3, 4 (mean
    // 2.5, deviation sqrt(1.25)); x2 never varies (deviation 1: standardised to 0).
    std::fs::write(
        dir.path().join("train.csv"),
        "x1,x2,y\n1,7,a\n2,7,b\n3,7,a\n4,7,b\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("test.csv"), "x1,x2,y\n0,7,a\n5,7,b\n").unwrap();
    let text = "model t {\n    x = input(2)\n    output = x |> dense(2) |> softmax\n    loss = cross_entropy\n}\n\
                train {\n    data = csv(\"train.csv\", label = \"y\", test = \"test.csv\")\n    epochs = 2\n    batch = 2\n}\n";
    let model = write_model(dir.path(), "t.nn", text);
    let weights = dir.path().join("w.safetensors");
    let run = run_json(&model, &["--save", weights.to_str().unwrap()]);
    assert_eq!(run["samples"], 4);
    assert_eq!(tensor(&weights, "x.mean"), [2.5, 7.0]);
    assert_eq!(tensor(&weights, "x.std"), [1.25f32.sqrt(), 1.0]);
    // Weights trained on standardised features do not load into the model without it.
    let raw = text.replace(
        "test = \"test.csv\")",
        "test = \"test.csv\", normalize = false)",
    );
    let raw = write_model(dir.path(), "raw.nn", &raw);
    nnc()
        .arg("eval")
        .arg(&raw)
        .arg("--weights")
        .arg(&weights)
        .assert()
        .code(1)
        .stderr(contains("unexpected: `x.mean`"));
    // `nnc show` lists the node that standardises, with the input's name.
    nnc()
        .arg("show")
        .arg(&model)
        .assert()
        .success()
        .stdout(contains("x.standardize  standardize(training mean, std)"));
}

#[test]
fn the_holdout_is_seeded_and_stratified() {
    let dir = tempfile::tempdir().unwrap();
    let iris = examples().join("iris.nn");
    let run = |seed: &str| run_json(&iris, &["--epochs", "1", "--seed", seed]);
    let (a, b, c) = (run("3"), run("3"), run("4"));
    assert_eq!(
        a["test_loss"], b["test_loss"],
        "the same seed, the same run"
    );
    assert_ne!(a["test_loss"], c["test_loss"], "another seed, other rows");
    // A validation fraction comes out of the training rows: 120 train, of which 30 validate.
    let report = run_json(&iris, &["--epochs", "2", "--set", "hidden=4"]);
    assert!(report["history"][0].get("validation_accuracy").is_none());
    let text = std::fs::read_to_string(&iris).unwrap().replace(
        "    seed      = 0\n",
        "    seed      = 0\n    validation = 0.25\n",
    );
    std::fs::copy(examples().join("iris.csv"), dir.path().join("iris.csv")).unwrap();
    let model = write_model(dir.path(), "iris.nn", &text);
    let report = run_json(&model, &["--epochs", "2"]);
    assert!(
        report["history"][1]["validation_accuracy"].is_number(),
        "{report}"
    );
    assert_eq!(report["samples"], 120);
}

/// Runs `model` (with a table written beside it) and returns what it printed on stderr,
/// checking the exit status.
fn failure(dir: &Path, csv: &str, model_text: &str, code: i32) -> String {
    std::fs::write(dir.join("t.csv"), csv).unwrap();
    let model = write_model(dir, "t.nn", model_text);
    let output = nnc().arg("run").arg(&model).output().unwrap();
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

const CLASSIFY: &str = "model t {\n    x = input(2)\n    output = x |> dense(2) |> softmax\n    loss = cross_entropy\n}\n\
                        train {\n    data = csv(\"t.csv\", label = \"y\", test = 0.5)\n    epochs = 1\n}\n";

#[test]
fn table_errors_name_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let csv = dir.join("t.csv").display().to_string();
    let cases = [
        ("", "1: the file is empty"),
        (
            "x1,x2,y\n1,2,a\n3,4\n5,6,b\n",
            "3: 2 fields, but the header (line 1) names 3 columns",
        ),
        (
            "x1,x2,y\n1,2,a\n\n3,four,b\n",
            "4: column `x2` holds `four`, not a number",
        ),
        ("x1,x2,y\n1,2,a\n3,,b\n", "3: column `x2` is empty"),
        (
            "x1,x2,label\n1,2,a\n3,4,b\n",
            "1: no column is named `y`; the header names `x1`, `x2`, `label`",
        ),
        (
            "x1,x2,yy\n1,2,a\n3,4,b\n",
            "1: no column is named `y`; did you mean `yy`?",
        ),
        ("x1,x2,y\n", "1: the table has a header but no rows of data"),
        (
            "x1,x2,y\n1,2,0\n3,4,1.5\n",
            "3: the label `1.5` is not a whole number",
        ),
        (
            "x1,x2,y\n1,2,a\n3,4,b\n",
            " `test = 0.5` of each class's rows leaves 2 test rows and 0 training rows of its 2",
        ),
    ];
    for (text, expected) in cases {
        let stderr = failure(dir, text, CLASSIFY, 1);
        assert!(
            stderr.contains(&format!("error: {csv}:{expected}")),
            "{text:?}: expected `{csv}:{expected}` in\n{stderr}"
        );
    }
}

#[test]
fn a_test_file_class_unseen_in_training_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.csv"), "x1,x2,y\n1,2,a\n3,4,c\n").unwrap();
    let text = CLASSIFY.replace("test = 0.5", "test = \"test.csv\"");
    let stderr = failure(dir.path(), "x1,x2,y\n1,2,a\n3,4,b\n", &text, 1);
    let test = dir.path().join("test.csv").display().to_string();
    assert!(
        stderr.contains(&format!(
            "{test}:3: the class `c` never appears in the training rows, whose classes are `a`, `b`"
        )),
        "{stderr}"
    );
    // A test file must have the training file's columns.
    std::fs::write(dir.path().join("test.csv"), "x2,x1,y\n1,2,a\n").unwrap();
    let stderr = failure(dir.path(), "x1,x2,y\n1,2,a\n3,4,b\n", &text, 1);
    assert!(
        stderr.contains(&format!("{test}:1: its columns differ")),
        "{stderr}"
    );
}

#[test]
fn a_regression_label_must_be_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let text = "model t {\n    x = input(2)\n    output = x |> dense(1)\n    loss = mse\n}\n\
                train {\n    data = csv(\"t.csv\", label = \"y\")\n    epochs = 1\n}\n";
    let stderr = failure(dir.path(), "x1,x2,y\n1,2,0.5\n3,4,high\n", text, 1);
    assert!(
        stderr.contains("t.csv:3: column `y` holds `high`, not a number: `loss = mse` predicts"),
        "{stderr}"
    );
}

#[test]
fn scikit_learns_count_line_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = std::fs::read_to_string(Path::new(sklearn::DATA).join("iris.csv")).unwrap();
    let text = CLASSIFY.replace("input(2)", "input(4)");
    let stderr = failure(dir.path(), &bundled, &text, 1);
    assert!(
        stderr.contains("t.csv:1: no column is named `y`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("looks like counts (150 rows, 4 features"),
        "{stderr}"
    );
}

#[test]
fn sizes_that_do_not_fit_the_table_are_diagnostics_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "x1,x2,y\n1,2,a\n3,4,b\n5,6,c\n7,8,a\n9,10,b\n11,12,c\n";
    // Two classes declared, three in the table.
    let stderr = failure(dir.path(), csv, CLASSIFY, 2);
    assert!(
        stderr.contains("`output` has 2 values but `t.csv` has 3 classes"),
        "{stderr}"
    );
    assert!(stderr.contains("t.nn:3:"), "{stderr}");
    // Three features declared, two in the table.
    let text = CLASSIFY
        .replace("input(2)", "input(3)")
        .replace("dense(2)", "dense(3)");
    let stderr = failure(dir.path(), csv, &text, 2);
    assert!(
        stderr.contains("`input(3)` does not match `t.csv`, whose samples have 2 features"),
        "{stderr}"
    );
    // A regression predicts one number.
    let text = CLASSIFY
        .replace("dense(2) |> softmax", "dense(2)")
        .replace("cross_entropy", "mse");
    let stderr = failure(dir.path(), "x1,x2,y\n1,2,0.5\n3,4,1.5\n", &text, 2);
    assert!(
        stderr.contains("`output` has 2 values but `t.csv` has one value to predict per row"),
        "{stderr}"
    );
}

#[test]
fn augmenting_a_table_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let text = CLASSIFY.replace("epochs = 1\n", "epochs = 1\n    flip = 0.5\n");
    let model = write_model(dir.path(), "t.nn", &text);
    nnc()
        .arg("check")
        .arg(&model)
        .assert()
        .code(2)
        .stderr(contains("`flip` augments images, and a table has none"));
}

#[test]
fn csv_arguments_are_checked_like_a_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("csv(\"t.csv\", lable = \"y\")", "did you mean `label`?"),
        ("csv(\"t.csv\")", "missing"),
        (
            "csv(\"t.csv\", label = \"y\", test = 1.5)",
            "must be a fraction in (0, 1) or a test file's path",
        ),
        (
            "csv(t, label = \"y\")",
            "must be a file's path in double quotes",
        ),
        ("cvs(\"t.csv\", label = \"y\")", "unknown data file `cvs`"),
    ];
    for (data, expected) in cases {
        let text = CLASSIFY.replace("csv(\"t.csv\", label = \"y\", test = 0.5)", data);
        let model = write_model(dir.path(), "t.nn", &text);
        nnc()
            .arg("check")
            .arg(&model)
            .assert()
            .code(2)
            .stderr(contains(expected));
    }
}

#[test]
fn a_relative_path_is_relative_to_the_model_file_or_to_data() {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("tables");
    std::fs::create_dir(&tables).unwrap();
    std::fs::copy(examples().join("iris.csv"), tables.join("iris.csv")).unwrap();
    let text = std::fs::read_to_string(examples().join("iris.nn"))
        .unwrap()
        .replace("\"iris.csv\"", "\"tables/iris.csv\"");
    let model = write_model(dir.path(), "iris.nn", &text);
    // Run from elsewhere: the path still resolves next to the model file.
    nnc()
        .current_dir(std::env::temp_dir())
        .arg("run")
        .arg(&model)
        .args(["--epochs", "1", "--quiet"])
        .assert()
        .success();
    // `--data DIR` replaces the model's folder.
    nnc()
        .arg("run")
        .arg(&model)
        .arg("--data")
        .arg(&tables)
        .args(["--epochs", "1", "--quiet"])
        .assert()
        .code(1)
        .stderr(contains("tables/tables/iris.csv"));
}

#[test]
fn thousands_of_epochs_of_iris_run() {
    // The whole table lives in memory and an epoch reuses its evaluation networks: 3000
    // epochs of iris take a fraction of a second (see the README for the figure).
    let report = run_json(&examples().join("iris.nn"), &["--epochs", "3000"]);
    assert_eq!(report["history"].as_array().unwrap().len(), 3000);
}
