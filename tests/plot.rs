//! `--plot`: the learning curves of `nnc run` and the heat map of `nnc sweep`, as SVG (one
//! line per curve, a dot per epoch, the labels as text) and PNG (decodes, at the size
//! drawn); and the flags' bad paths, found before anything trains.

mod util;

use predicates::prelude::*;
use predicates::str::contains;
use util::{json, model, nnc, tiny_run, write_model};

/// The curves of an SVG drawn by nnc: its 2-pixel polylines (axes and ticks are 1 pixel
/// wide; legend marks are rectangles), each as its list of points.
fn curves(svg: &str) -> Vec<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .map(|n| {
            n.attribute("points")
                .expect("a polyline has points")
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').expect("points are x,y");
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// Every text of the SVG, trimmed.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
        .collect()
}

#[test]
fn run_plot_svg_has_one_line_per_curve_with_a_point_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("curves.svg");
    tiny_run(&model("mnist_relu"), "16")
        .arg("--plot")
        .arg(&svg_path)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    // Train and test loss on the left, test accuracy on the right.
    let lines = curves(&svg);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert_eq!(line.len(), 3, "one point per epoch: {line:?}");
        assert!(
            line.windows(2).all(|w| w[0].0 < w[1].0),
            "epochs left to right"
        );
    }
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count(),
        9
    );
    let texts = texts(&svg);
    for expected in [
        "epoch",
        "loss (cross-entropy)",
        "accuracy (%)",
        "train",
        "test",
        "mnist_relu: learning curves",
        "sgd lr 0.05 momentum 0.9, batch 32, 3 epochs, seed 1, hidden=16",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "no text {expected:?} in {texts:?}"
        );
    }
}

#[test]
fn run_plot_draws_validation_curves_when_the_file_holds_some_out() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(model("mnist_relu"))
        .unwrap()
        .replace("seed      = 1", "seed      = 1\n    validation = 0.2");
    let file = write_model(dir.path(), "held_out.nn", &text);
    let svg_path = dir.path().join("curves.svg");
    tiny_run(&file, "16")
        .arg("--plot")
        .arg(&svg_path)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    // Train, test and validation loss; test and validation accuracy.
    let lines = curves(&svg);
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines.iter().all(|l| l.len() == 3));
    assert!(texts(&svg).iter().any(|t| t == "validation"));
}

#[test]
fn run_plot_png_decodes_at_the_size_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("curves.png");
    tiny_run(&model("mnist_relu"), "16")
        .arg("--plot")
        .arg(&png_path)
        .assert()
        .success();
    let bytes = std::fs::read(&png_path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let (width, height) = (reader.info().width, reader.info().height);
    assert_eq!((width, height), (1000, 460));
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader
        .next_frame(&mut pixels)
        .expect("the image data decodes");
    // Not blank: the curves' colours are there, not only white and grey.
    assert!(
        pixels.chunks(3).any(|p| p == [31, 119, 180]),
        "no blue train curve"
    );
}

#[test]
fn sweep_plot_labels_every_cell_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("grid.svg");
    let report = json(
        nnc()
            .arg("sweep")
            .arg(model("mnist_sigmoid"))
            .args(["--samples", "500", "--epochs", "1", "--batch", "16"])
            .args(["--set", "hidden=16,32", "--set", "act=sigmoid,relu"])
            .args(["--json", "--quiet", "--plot"])
            .arg(&svg_path),
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let texts = texts(&svg);
    let has = |t: &str| texts.iter().any(|x| x == t);
    for run in report["runs"].as_array().unwrap() {
        let accuracy = format!("{:.2}", run["test_accuracy"].as_f64().unwrap() * 100.0);
        assert!(has(&accuracy), "no cell {accuracy} in {texts:?}");
        let seconds = format!("{:.1}", run["train_seconds"].as_f64().unwrap());
        assert!(has(&seconds), "no cell {seconds} in {texts:?}");
    }
    // The pivot's headers: hidden down, act across, in both tables.
    for header in ["hidden \\ act", "sigmoid", "relu", "16", "32"] {
        assert_eq!(texts.iter().filter(|t| *t == header).count(), 2, "{header}");
    }
    assert!(has("test accuracy (%)") && has("training time (seconds)"));
    // Two tables of four cells, each cell a filled rectangle with a white outline.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let outlined = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some("#FFFFFF"))
        .count();
    assert_eq!(outlined, 8);
}

#[test]
fn plot_into_a_missing_folder_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/curves.svg");
    nnc()
        .arg("run")
        .arg(model("mnist_relu"))
        .args(["--set", "hidden=16", "--samples", "1000", "--epochs", "1"])
        .arg("--plot")
        .arg(&path)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
}

#[test]
fn plot_into_a_folder_that_cannot_be_made_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "a file, not a folder").unwrap();
    // Not `--quiet`: an epoch line on stderr would mean it trained first.
    nnc()
        .arg("run")
        .arg(model("mnist_relu"))
        .args(["--set", "hidden=16", "--samples", "1000", "--epochs", "3"])
        .arg("--plot")
        .arg(file.join("curves.svg"))
        .assert()
        .code(1)
        .stderr(contains("cannot write").and(contains("curves.svg")))
        .stderr(contains("cannot be created"))
        .stderr(contains("epoch").not());
}

#[test]
fn plot_with_an_unknown_extension_is_a_usage_error() {
    for command in ["run", "sweep"] {
        nnc()
            .arg(command)
            .arg(model("mnist_relu"))
            .args(["--plot", "curves.txt", "--samples", "100", "--epochs", "1"])
            .assert()
            .code(2)
            .stderr(contains("`.svg` or `.png`"));
    }
}
