//! `nnc predict`: saved weights on a user's own inputs. The oracle for pictures and arrays
//! is `nnc eval`: the 10,000 MNIST test digits given as one `.npy` array must be classified
//! right exactly as often as `eval` says; the same digits as PNG files, inverted with
//! `--invert`, or drawn at twice the size with `--resize`, must get the classes the array
//! gets. Tables are read by column name; bad inputs are named and the rest predicted.

mod util;

use std::path::{Path, PathBuf};

use util::nnc;
use util::npz::{mnist_arrays, npy, shared_mnist};

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(format!("{name}.nn"))
}

/// `models/NAME.nn` trained briefly, its weights saved in `dir`.
fn trained(dir: &Path, name: &str) -> PathBuf {
    let weights = dir.join(format!("{name}.safetensors"));
    nnc()
        .arg("run")
        .arg(model(name))
        .args(["--samples", "3000", "--epochs", "1", "--quiet", "--save"])
        .arg(&weights)
        .assert()
        .success();
    weights
}

fn json(output: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
        .as_array()
        .unwrap()
        .clone()
}

fn predict(
    file: &Path,
    weights: &Path,
    inputs: &[PathBuf],
    flags: &[&str],
) -> std::process::Output {
    nnc()
        .arg("predict")
        .arg(file)
        .arg("--weights")
        .arg(weights)
        .args(flags)
        .args(inputs)
        .output()
        .unwrap()
}

fn classes(predictions: &[serde_json::Value]) -> Vec<String> {
    predictions
        .iter()
        .map(|p| p["class"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_test_digits_as_an_array_are_classified_right_as_often_as_eval_says() {
    let dir = tempfile::tempdir().unwrap();
    let weights = trained(dir.path(), "mnist_relu");
    let mnist = shared_mnist();
    let n = mnist.test.len();
    let (pixels, _) = mnist_arrays(&mnist.test, n);
    let util::npz::Array::U8(shape, bytes) = pixels else {
        unreachable!()
    };
    let array = dir.path().join("test.npy");
    std::fs::write(&array, npy(&shape, &bytes)).unwrap();
    let out = predict(
        &model("mnist_relu"),
        &weights,
        &[array],
        &["--json", "--top", "1"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let predictions = json(&out);
    assert_eq!(predictions.len(), n);
    assert_eq!(
        predictions[3]["input"],
        format!("{}[3]", dir.path().join("test.npy").display())
    );
    let right = classes(&predictions)
        .iter()
        .enumerate()
        .filter(|(i, class)| **class == mnist.test.label(*i).to_string())
        .count();
    let eval = nnc()
        .arg("eval")
        .arg(model("mnist_relu"))
        .arg("--weights")
        .arg(&weights)
        .arg("--json")
        .output()
        .unwrap();
    let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let accuracy = eval["test_accuracy"].as_f64().unwrap();
    assert_eq!(
        right,
        (accuracy * n as f64).round() as usize,
        "eval: {accuracy}"
    );
}

#[test]
fn digits_as_pictures_get_the_classes_of_the_same_digits_as_an_array() {
    let dir = tempfile::tempdir().unwrap();
    let weights = trained(dir.path(), "mnist_cnn");
    let mnist = shared_mnist();
    let n = 12;
    let mut plain = Vec::new();
    let mut inverted = Vec::new();
    let mut doubled = Vec::new();
    let mut arrays = Vec::new();
    for i in 0..n {
        let pixels = mnist.test.image(i).to_vec();
        let picture = image::GrayImage::from_raw(28, 28, pixels.clone()).unwrap();
        let path = dir.path().join(format!("digit{i}.png"));
        picture.save(&path).unwrap();
        plain.push(path);
        let mut negative = picture.clone();
        image::imageops::invert(&mut negative);
        let path = dir.path().join(format!("negative{i}.jpg"));
        // JPEG is lossy: a few classes may move, so the check below counts.
        negative.save(&path).unwrap();
        inverted.push(path);
        let big = image::imageops::resize(&picture, 56, 56, image::imageops::FilterType::Nearest);
        let path = dir.path().join(format!("big{i}.pgm"));
        big.save(&path).unwrap();
        doubled.push(path);
        let path = dir.path().join(format!("digit{i}.npy"));
        std::fs::write(&path, npy(&[28, 28], &pixels)).unwrap();
        arrays.push(path);
    }
    let file = model("mnist_cnn");
    let of = |inputs: &[PathBuf], flags: &[&str]| {
        let out = predict(&file, &weights, inputs, &[&["--json"], flags].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    let from_arrays = of(&arrays, &[]);
    let from_pictures = of(&plain, &[]);
    assert_eq!(
        from_pictures.iter().map(|p| &p["top"]).collect::<Vec<_>>(),
        from_arrays.iter().map(|p| &p["top"]).collect::<Vec<_>>(),
        "a PNG and an array of the same bytes give the same probabilities"
    );
    let expected = classes(&from_arrays);
    let agree = |other: &[serde_json::Value]| {
        classes(other)
            .iter()
            .zip(&expected)
            .filter(|(a, b)| a == b)
            .count()
    };
    assert!(agree(&of(&inverted, &["--invert"])) >= n - 1);
    assert!(agree(&of(&doubled, &["--resize"])) >= n - 2);
    // Without --invert, the negatives are not digits the model knows.
    assert!(agree(&of(&inverted, &[])) < n - 2);
    let top = &from_arrays[0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 3, "--top defaults to 3");
    let sum: f64 = top.iter().map(|t| t["probability"].as_f64().unwrap()).sum();
    assert!(sum <= 1.0 + 1e-5);
}

#[test]
fn fashion_classes_are_named_as_their_publishers_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let weights = trained(dir.path(), "fashion_mnist");
    let out = nnc()
        .args(["predict"])
        .arg(model("fashion_mnist"))
        .arg("--weights")
        .arg(&weights)
        .arg(write_fashion_trouser(dir.path()))
        .args(["--top", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Fashion-MNIST's third test image is a pair of trousers.
    assert!(stdout.contains("trouser.png: Trouser ("), "{stdout}");
    assert_eq!(stdout.matches(" %)").count(), 2, "{stdout}");
}

fn write_fashion_trouser(dir: &Path) -> PathBuf {
    let search = nnc::data::Search {
        data_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fashion-mnist")),
        nnc_data: None,
        local: PathBuf::from("./data"),
        cache: Path::new(env!("CARGO_TARGET_TMPDIR")).join("nnc-cache"),
        system: false,
    };
    let fashion = nnc::data::open_in(&nnc::data::DataSource::FashionMnist, &search).unwrap();
    assert_eq!(fashion.test.label(2), 1, "the third test image is trousers");
    let path = dir.join("trouser.png");
    image::GrayImage::from_raw(28, 28, fashion.test.image(2).to_vec())
        .unwrap()
        .save(&path)
        .unwrap();
    path
}

#[test]
fn table_rows_are_read_by_column_name_and_a_bad_row_is_named_while_the_rest_are_predicted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = util::sklearn::iris(dir.path());
    let file = dir.path().join("iris.nn");
    std::fs::write(
        &file,
        "model iris {\n x = input(4)\n output = x |> dense(16) |> relu |> dense(3) |> softmax\n loss = cross_entropy\n}\ntrain {\n data = csv(\"iris.csv\", label = \"species\")\n optimizer = adam(lr = 0.01)\n epochs = 60\n batch = 16\n}\n",
    )
    .unwrap();
    let weights = dir.path().join("iris.safetensors");
    nnc()
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .arg("--save")
        .arg(&weights)
        .assert()
        .success();
    // Columns in another order, a column the model does not read, no label; the third
    // row is no measurement.
    let rows = dir.path().join("flowers.csv");
    std::fs::write(
        &rows,
        "note,petal_width,petal_length,sepal_width,sepal_length\nsmall,0.2,1.4,3.5,5.1\nlarge,2.3,5.4,3.1,6.9\nbad,wide,1.0,3.0,5.0\nmid,1.3,4.0,2.8,5.7\n",
    )
    .unwrap();
    let out = predict(
        &file,
        &weights,
        &[rows.clone(), csv.clone()],
        &["--json", "--top", "1"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of 154 inputs could not be predicted"),
        "{stderr}"
    );
    let predictions = json(&out);
    let name = |i: usize| format!("{}:{}", rows.display(), i);
    assert_eq!(predictions[0]["input"], name(2));
    assert_eq!(predictions[0]["class"], "setosa");
    assert_eq!(predictions[1]["class"], "virginica");
    assert_eq!(predictions[2]["input"], name(4));
    assert_eq!(
        predictions[2]["error"],
        "column `petal_width` holds `wide`, not a number"
    );
    assert_eq!(predictions[3]["class"], "versicolor");
    // The training table itself, label column and all: mostly right.
    let text = std::fs::read_to_string(&csv).unwrap();
    let labels: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    let right = predictions[4..]
        .iter()
        .zip(&labels)
        .filter(|(p, label)| p["class"] == **label)
        .count();
    assert!(right >= 140, "{right} of 150");
}

#[test]
fn unreadable_inputs_are_named_with_why_and_the_others_still_predicted() {
    let dir = tempfile::tempdir().unwrap();
    let weights = trained(dir.path(), "mnist_sigmoid");
    let big = dir.path().join("big.png");
    image::GrayImage::new(40, 30).save(&big).unwrap();
    let good = dir.path().join("good.png");
    image::GrayImage::new(28, 28).save(&good).unwrap();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot a picture").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let odd = dir.path().join("odd.npy");
    std::fs::write(&odd, npy(&[5, 7], &[0.5f32; 35])).unwrap();
    let missing = dir.path().join("missing.jpg");
    let table = dir.path().join("rows.csv");
    std::fs::write(&table, "a,b\n1,2\n").unwrap();
    let inputs = [big, good.clone(), broken, text, odd, missing, table];
    let out = predict(&model("mnist_sigmoid"), &weights, &inputs, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "big.png: is 40×30 pixels, the model reads 28×28 (`--resize` scales it)",
        "broken.png: is not a picture nnc can decode",
        "notes.txt: not a picture (.png, .jpg, .pgm, .ppm), a table (.csv) or an array (.npy)",
        "odd.npy: its shape [5, 7] holds 35 values: the model reads 784 per sample",
        "missing.jpg: cannot be read",
        "rows.csv: the weights do not name a table's columns",
        "6 of 7 inputs could not be predicted",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!("{}: ", good.display())),
        "{stdout}"
    );
    let out = predict(&model("mnist_sigmoid"), &weights, &[good], &["--top", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
