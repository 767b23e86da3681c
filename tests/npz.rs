//! `data = npz(...)`: NumPy arrays in Keras' `mnist.npz` layout, written here with npyz
//! (as NumPy's `np.savez` and `np.savez_compressed` would). A real MNIST subset trains to
//! exactly what the same samples train to from the IDX files; vectors, one-channel and
//! many-channel images feed the inputs the contract lists; every error names the file and
//! the array.

mod util;

use std::path::{Path, PathBuf};

use predicates::str::contains;
use util::npz::{Array, mnist_arrays, shared_mnist, write_npz};
use util::{json, nnc, write_model};

const MLP: &str = "model mlp {\n    x = input(784)\n    h = x |> dense(32) |> relu\n    output = h |> dense(10) |> softmax\n    loss = cross_entropy\n}\n";

fn train_block(data: &str) -> String {
    format!(
        "train {{\n    data = {data}\n    optimizer = adam(lr = 0.001)\n    epochs = 2\n    batch = 32\n    seed = 5\n}}\n"
    )
}

#[test]
fn a_real_mnist_subset_trains_as_the_idx_files_do() {
    let mnist = shared_mnist();
    let dir = tempfile::tempdir().unwrap();
    let (x_train, y_train) = mnist_arrays(&mnist.train, 2000);
    let (x_test, y_test) = mnist_arrays(&mnist.test, 10_000);
    let npz = dir.path().join("mnist.npz");
    write_npz(
        &npz,
        &[
            ("x_train", x_train),
            ("y_train", y_train),
            ("x_test", x_test),
            ("y_test", y_test),
        ],
        true,
    );
    let from_npz = write_model(
        dir.path(),
        "npz.nn",
        &format!("{MLP}{}", train_block("npz(\"mnist.npz\")")),
    );
    let from_idx = write_model(
        dir.path(),
        "idx.nn",
        &format!("{MLP}{}", train_block("mnist")),
    );
    let npz_run = json(nnc().arg("run").arg(&from_npz).arg("--json"));
    let idx_run = json(
        nnc()
            .arg("run")
            .arg(&from_idx)
            .args(["--json", "--samples", "2000"]),
    );
    // The same 2000 samples, the same bytes scaled by 1/255, the same seed: the same run.
    assert_eq!(npz_run["samples"], 2000);
    assert_eq!(npz_run["test_accuracy"], idx_run["test_accuracy"]);
    assert_eq!(npz_run["test_loss"], idx_run["test_loss"]);
    let accuracy = npz_run["test_accuracy"].as_f64().unwrap();
    // 84.17 % with this seed.
    assert!(accuracy > 0.8, "2000 MNIST samples, 2 epochs: {accuracy}");
}

/// A tiny dataset of `shape`-shaped float samples (per sample), four classes.
fn float_arrays(dir: &Path, shape: &[u64]) -> PathBuf {
    let per: u64 = shape.iter().product();
    let make = |n: u64| {
        let values: Vec<f32> = (0..n * per).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
        let labels: Vec<i64> = (0..n as i64).map(|i| i % 4).collect();
        let mut dims = vec![n];
        dims.extend_from_slice(shape);
        (Array::F32(dims, values), Array::I64(vec![n], labels))
    };
    let (x_train, y_train) = make(24);
    let (x_test, y_test) = make(8);
    let path = dir.join("arrays.npz");
    write_npz(
        &path,
        &[
            ("x_train", x_train),
            ("y_train", y_train),
            ("x_test", x_test),
            ("y_test", y_test),
        ],
        false,
    );
    path
}

#[test]
fn vectors_and_images_feed_the_inputs_the_contract_lists() {
    let dir = tempfile::tempdir().unwrap();
    // (per-sample shape, the input lines that take it)
    let cases: [(&[u64], &[&str]); 3] = [
        (&[6], &["input(6)"]),
        (&[4, 4], &["input(16)", "input(1, 4, 4)"]),
        (&[3, 4, 4], &["input(3, 4, 4)", "input(48)"]),
    ];
    for (shape, inputs) in cases {
        float_arrays(dir.path(), shape);
        for input in inputs {
            let flatten = if input.contains(',') {
                " |> flatten"
            } else {
                ""
            };
            let text = format!(
                "model m {{\n    x = {input}\n    output = x{flatten} |> dense(4) |> softmax\n    loss = cross_entropy\n}}\n{}",
                train_block("npz(\"arrays.npz\")")
            );
            let model = write_model(dir.path(), "m.nn", &text);
            let report = json(nnc().arg("run").arg(&model).arg("--json"));
            assert_eq!(report["samples"], 24, "{shape:?} into {input}");
        }
    }
    // An input that does not match is a diagnostic naming both.
    float_arrays(dir.path(), &[3, 4, 4]);
    let text = format!(
        "model m {{\n    x = input(1, 4, 4)\n    output = x |> flatten |> dense(4) |> softmax\n    loss = cross_entropy\n}}\n{}",
        train_block("npz(\"arrays.npz\")")
    );
    let model = write_model(dir.path(), "m.nn", &text);
    nnc()
        .arg("run")
        .arg(&model)
        .assert()
        .code(2)
        .stderr(contains("does not match"))
        .stderr(contains("declare `input(3, 4, 4)`"));
}

#[test]
fn npz_errors_name_the_file_and_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("bad.npz");
    let model = write_model(
        dir.path(),
        "m.nn",
        &format!(
            "{MLP}{}",
            train_block("npz(\"bad.npz\")").replace("784", "4")
        ),
    );
    let x = |n: u64| Array::U8(vec![n, 4], vec![1; n as usize * 4]);
    let y = |n: u64| Array::I64(vec![n], vec![1; n as usize]);
    let shown = npz.display().to_string();
    let cases: Vec<(Vec<(&str, Array)>, String)> = vec![
        (
            vec![("x_train", x(4)), ("y_train", y(4)), ("x_test", x(2))],
            format!("{shown}, array `y_test`: missing: the file holds x_test, x_train, y_train"),
        ),
        (
            vec![
                ("x_train", Array::F64(vec![4, 4], vec![0.5; 16])),
                ("y_train", y(4)),
                ("x_test", x(2)),
                ("y_test", y(2)),
            ],
            format!("{shown}, array `x_train`: its dtype is '<f8': samples are read as uint8"),
        ),
        (
            vec![
                ("x_train", x(4)),
                ("y_train", Array::F32(vec![4], vec![1.0; 4])),
                ("x_test", x(2)),
                ("y_test", y(2)),
            ],
            format!("{shown}, array `y_train`: its dtype is '<f4': labels are whole class numbers"),
        ),
        (
            vec![
                ("x_train", x(4)),
                ("y_train", y(3)),
                ("x_test", x(2)),
                ("y_test", y(2)),
            ],
            format!("{shown}, array `y_train`: 3 labels, but x_train holds 4 samples"),
        ),
        (
            vec![
                ("x_train", x(4)),
                ("y_train", Array::I64(vec![4], vec![0, 1, -2, 1])),
                ("x_test", x(2)),
                ("y_test", y(2)),
            ],
            format!("{shown}, array `y_train`: element 2 is -2"),
        ),
    ];
    for (arrays, expected) in cases {
        write_npz(&npz, &arrays, true);
        nnc()
            .arg("run")
            .arg(&model)
            .assert()
            .code(1)
            .stderr(contains(expected));
    }
    std::fs::write(&npz, b"not a zip").unwrap();
    nnc()
        .arg("run")
        .arg(&model)
        .assert()
        .code(1)
        .stderr(contains(format!("{shown}: not an .npz file")));
}
