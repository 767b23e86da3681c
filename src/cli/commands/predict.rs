//! `nnc predict FILE --weights W INPUT...`: saved weights run on a user's own inputs:
//! pictures (PNG, JPEG, PGM/PPM), CSV rows with the training table's feature columns, and
//! `.npy` arrays. Prints each input's most likely classes, named as the training data
//! named them (the note the weights file keeps, see `weights::TrainedOn`), or a
//! regression's value. An input that cannot be read is named with why; the others are
//! still predicted, and the command then ends with exit 1.

use std::io::Write;
use std::path::Path;

use image::imageops::FilterType;
use rand::SeedableRng;

use crate::autodiff::Tape;
use crate::cli::args::PredictArgs;
use crate::cli::commands::check::print_json;
use crate::cli::config::load_model;
use crate::data::Builtin;
use crate::graph::Graph;
use crate::graph::lower::Network;
use crate::rng::Generator;
use crate::training::{Model, weights};

/// Inputs run at once: enough for the products to be efficient, few enough for any net.
const BATCH: usize = 64;

/// One input's outcome, in the order the inputs were given.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Prediction {
    Class {
        input: String,
        class: String,
        probability: f32,
        top: Vec<Ranked>,
    },
    Value {
        input: String,
        value: f32,
    },
    Failed {
        input: String,
        error: String,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Ranked {
    pub class: String,
    pub probability: f32,
}

/// What the model reads per sample and how to read pictures for it.
struct Reading<'a> {
    features: usize,
    /// `[channels, rows, cols]` of a picture, when the model reads pictures.
    image: Option<[usize; 3]>,
    /// A table's feature columns, when the model learnt from one.
    columns: &'a [String],
    resize: bool,
    invert: bool,
}

/// An input's samples (a CSV file or an array has many), each named, or why it failed.
type Samples = Vec<(String, Result<Vec<f32>, String>)>;

pub fn run(args: &PredictArgs) -> anyhow::Result<()> {
    if args.top == 0 {
        return Err(crate::Error::Usage("`--top 0`: ask for at least one class".into()).into());
    }
    let (_, graph) = load_model(&args.model)?;
    let mut rng = Generator::seed_from_u64(graph.train.seed);
    let mut model = Model::init(&graph, &mut rng).map_err(crate::Error::Train)?;
    weights::load(&mut model.params, &args.weights).map_err(|e| crate::Error::Train(e.into()))?;
    let note = weights::trained_on(&args.weights)
        .map_err(|e| crate::Error::Train(e.into()))?
        .unwrap_or_default();
    let input_shape = graph.node(graph.input).shape.dims();
    let features: usize = input_shape.iter().product();
    let reading = Reading {
        features,
        image: image_shape(&input_shape, note.sample_shape),
        columns: &note.features,
        resize: args.resize,
        invert: args.invert,
    };
    let classes = if note.classes.is_empty() {
        Builtin::from_source(&graph.train.data)
            .map(Builtin::class_names)
            .unwrap_or_default()
    } else {
        note.classes.clone()
    };
    let samples: Samples = args
        .inputs
        .iter()
        .flat_map(|path| read_input(path, &reading))
        .collect();
    let readable: Vec<&[f32]> = samples
        .iter()
        .filter_map(|(_, s)| s.as_deref().ok())
        .collect();
    let outputs = forward(&graph, &model, &readable, features)?;
    let width = graph.node(graph.output).shape.numel();
    let output_kind = graph.node(graph.output).op.kind();
    let mut outputs = outputs.chunks(width.max(1));
    let predictions: Vec<Prediction> = samples
        .into_iter()
        .map(|(input, sample)| match sample {
            Err(error) => Prediction::Failed { input, error },
            Ok(_) => {
                let output = outputs.next().expect("one output per readable sample");
                describe(input, output, output_kind, &classes, args.top)
            }
        })
        .collect();
    let failed = predictions
        .iter()
        .filter(|p| matches!(p, Prediction::Failed { .. }))
        .count();
    if args.model.flags.json {
        print_json(&predictions)?;
    } else {
        let mut out = std::io::stdout().lock();
        for prediction in &predictions {
            match prediction {
                Prediction::Failed { input, error } => eprintln!("error: {input}: {error}"),
                other if !args.model.flags.quiet => writeln!(out, "{}", line(other))?,
                _ => {}
            }
        }
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} inputs could not be predicted (named above)",
            predictions.len()
        );
    }
    Ok(())
}

/// The picture a model reads: its own `[c, h, w]` input, or for a vector input the
/// training data's sample shape (an MLP on MNIST reads 28×28 pictures as 784 values), or
/// a square when the weights do not say.
fn image_shape(input: &[usize], trained: Option<[usize; 3]>) -> Option<[usize; 3]> {
    if let [c, h, w] = *input {
        return Some([c, h, w]);
    }
    let features: usize = input.iter().product();
    if let Some([c, h, w]) = trained {
        // Vectors (`[1, 1, d]`, a table's rows) are not pictures.
        return (h > 1 && c * h * w == features).then_some([c, h, w]);
    }
    let side = (features as f64).sqrt().round() as usize;
    (side > 1 && side * side == features).then_some([1, side, side])
}

fn read_input(path: &Path, reading: &Reading<'_>) -> Samples {
    let name = path.display().to_string();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" | "jpg" | "jpeg" | "pgm" | "ppm" | "pnm" => {
            vec![(name, read_image(path, reading))]
        }
        "csv" => read_csv(path, reading),
        "npy" => match crate::data::npz::read_samples(path, reading.features) {
            Ok((values, count)) => values
                .chunks(reading.features)
                .enumerate()
                .map(|(i, sample)| {
                    let name = if count == 1 {
                        name.clone()
                    } else {
                        format!("{name}[{i}]")
                    };
                    (name, Ok(sample.to_vec()))
                })
                .collect(),
            Err(e) => vec![(name, Err(without_path(&e.to_string(), path)))],
        },
        _ => vec![(
            name,
            Err("not a picture (.png, .jpg, .pgm, .ppm), a table (.csv) or an array (.npy)".into()),
        )],
    }
}

/// An error message without the path it starts with (the prediction names the input).
fn without_path(message: &str, path: &Path) -> String {
    let path = path.display().to_string();
    message
        .strip_prefix(&path)
        .map(|rest| rest.trim_start_matches(':').trim_start())
        .unwrap_or(message)
        .to_owned()
}

/// A picture as the model reads it: gray (or RGB for three channels), scaled to 0..1 as
/// the training images were, inverted with `--invert`.
fn read_image(path: &Path, reading: &Reading<'_>) -> Result<Vec<f32>, String> {
    let Some([channels, rows, cols]) = reading.image else {
        return Err(format!(
            "the model reads {} values per sample, not a picture",
            reading.features
        ));
    };
    let mut picture = image::ImageReader::open(path)
        .map_err(|e| format!("cannot be read: {e}"))?
        .with_guessed_format()
        .map_err(|e| format!("cannot be read: {e}"))?
        .decode()
        .map_err(|e| format!("is not a picture nnc can decode: {e}"))?;
    let (width, height) = (picture.width() as usize, picture.height() as usize);
    if (height, width) != (rows, cols) {
        if !reading.resize {
            return Err(format!(
                "is {width}×{height} pixels, the model reads {cols}×{rows} (`--resize` scales it)"
            ));
        }
        picture = picture.resize_exact(cols as u32, rows as u32, FilterType::Triangle);
    }
    let scale = |byte: u8| {
        let v = f32::from(byte) / 255.0;
        if reading.invert { 1.0 - v } else { v }
    };
    match channels {
        1 => Ok(picture
            .to_luma8()
            .into_raw()
            .into_iter()
            .map(scale)
            .collect()),
        3 => {
            // Planes, as the model reads them: all reds, then greens, then blues.
            let rgb = picture.to_rgb8().into_raw();
            Ok((0..3)
                .flat_map(|c| rgb.iter().skip(c).step_by(3).map(|&b| scale(b)))
                .collect())
        }
        c => Err(format!(
            "the model reads pictures of {c} channels; a picture gives 1 (gray) or 3 (RGB)"
        )),
    }
}

/// A CSV file's rows, each with the training table's feature columns (found by name; the
/// label and other columns are ignored), raw: the model standardises them itself.
fn read_csv(path: &Path, reading: &Reading<'_>) -> Samples {
    let name = path.display().to_string();
    let fail = |why: String| vec![(name.clone(), Err(why))];
    if reading.columns.is_empty() {
        return fail(
            "the weights do not name a table's columns: the model did not learn from a CSV table (or the weights were saved without the note)".into(),
        );
    }
    let mut reader = match csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
    {
        Ok(reader) => reader,
        Err(e) => return fail(format!("cannot be read: {e}")),
    };
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => return fail(format!("cannot be read: {e}")),
    };
    let mut at = Vec::with_capacity(reading.columns.len());
    for column in reading.columns {
        match header.iter().position(|h| h == column) {
            Some(i) => at.push(i),
            None => {
                return fail(format!(
                    "its header (line 1) has no column `{column}`: the model reads {}",
                    reading
                        .columns
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    let mut samples = Vec::new();
    for record in reader.records() {
        let (line, row) = match record {
            Ok(r) => (r.position().map_or(0, |p| p.line()), r),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                samples.push((
                    format!("{name}:{line}"),
                    Err(format!("cannot be read: {e}")),
                ));
                continue;
            }
        };
        let values = at
            .iter()
            .zip(reading.columns)
            .map(|(&i, column)| {
                let field = row.get(i).unwrap_or("");
                crate::data::table::number(field).map_err(|why| format!("column `{column}` {why}"))
            })
            .collect::<Result<Vec<f32>, String>>();
        samples.push((format!("{name}:{line}"), values));
    }
    if samples.is_empty() {
        return fail("it has a header but no rows".into());
    }
    samples
}

/// The model's outputs for `samples`, one after the other, in evaluation mode.
fn forward(
    graph: &Graph,
    model: &Model,
    samples: &[&[f32]],
    features: usize,
) -> anyhow::Result<Vec<f32>> {
    let mut outputs = Vec::new();
    let mut net: Option<Network> = None;
    for chunk in samples.chunks(BATCH) {
        let fits = net.as_ref().is_some_and(|n| n.batch == chunk.len());
        if !fits {
            let mut tape = Tape::new();
            tape.set_training(false);
            net = Some(
                Network::record(
                    graph,
                    &model.params,
                    &model.node_params,
                    tape,
                    chunk.len(),
                    false,
                )
                .map_err(crate::Error::Tape)?,
            );
        }
        let net = net.as_mut().expect("recorded above");
        let input = net.tape.value_mut(net.input).map_err(crate::Error::Tape)?;
        for (slot, sample) in input.chunks_mut(features).zip(chunk) {
            slot.copy_from_slice(sample);
        }
        net.tape.forward(&model.params);
        outputs.extend_from_slice(net.tape.value(net.output));
    }
    Ok(outputs)
}

/// One output as a prediction: a regression's value, or the classes by probability.
fn describe(
    input: String,
    output: &[f32],
    output_kind: &str,
    classes: &[String],
    top: usize,
) -> Prediction {
    if output.len() == 1 {
        return Prediction::Value {
            input,
            value: output[0],
        };
    }
    let probabilities: Vec<f32> = match output_kind {
        "softmax" => output.to_vec(),
        "log_softmax" => output.iter().map(|v| v.exp()).collect(),
        // Scores of another kind: their softmax.
        _ => {
            let max = output.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = output.iter().map(|v| (v - max).exp()).collect();
            let sum: f32 = exps.iter().sum();
            exps.iter().map(|e| e / sum).collect()
        }
    };
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    // Most likely first; ties in class order.
    order.sort_by(|&a, &b| {
        probabilities[b]
            .total_cmp(&probabilities[a])
            .then(a.cmp(&b))
    });
    let name = |i: usize| classes.get(i).cloned().unwrap_or_else(|| i.to_string());
    let ranked: Vec<Ranked> = order
        .iter()
        .take(top)
        .map(|&i| Ranked {
            class: name(i),
            probability: probabilities[i],
        })
        .collect();
    Prediction::Class {
        input,
        class: ranked[0].class.clone(),
        probability: ranked[0].probability,
        top: ranked,
    }
}

/// A prediction as one line: `digit.png: 7 (98.1 %), 3 (1.2 %), 9 (0.4 %)`.
fn line(prediction: &Prediction) -> String {
    match prediction {
        Prediction::Class { input, top, .. } => {
            let ranked: Vec<String> = top
                .iter()
                .map(|r| format!("{} ({:.1} %)", r.class, r.probability * 100.0))
                .collect();
            format!("{input}: {}", ranked.join(", "))
        }
        Prediction::Value { input, value } => format!("{input}: {value}"),
        Prediction::Failed { input, error } => format!("{input}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_model_reads_the_training_pictures_or_a_square() {
        assert_eq!(image_shape(&[1, 28, 28], None), Some([1, 28, 28]));
        assert_eq!(image_shape(&[784], Some([1, 28, 28])), Some([1, 28, 28]));
        assert_eq!(image_shape(&[784], None), Some([1, 28, 28]));
        assert_eq!(image_shape(&[3072], Some([3, 32, 32])), Some([3, 32, 32]));
        assert_eq!(image_shape(&[4], Some([1, 1, 4])), None);
        assert_eq!(image_shape(&[13], None), None);
    }

    #[test]
    fn classes_are_ranked_by_probability_and_named() {
        let names: Vec<String> = ["cat", "dog", "owl"].map(str::to_owned).to_vec();
        let Prediction::Class {
            class,
            probability,
            top,
            ..
        } = describe("x".into(), &[0.2, 0.7, 0.1], "softmax", &names, 2)
        else {
            panic!("a class")
        };
        assert_eq!(class, "dog");
        assert_eq!(probability, 0.7);
        assert_eq!(top.len(), 2);
        assert_eq!(top[1].class, "cat");
        // Raw scores become probabilities; unnamed classes are numbered.
        let Prediction::Class { top, .. } = describe("x".into(), &[0.0, 2.0], "dense", &[], 5)
        else {
            panic!("a class")
        };
        assert_eq!(top[0].class, "1");
        assert!((top[0].probability + top[1].probability - 1.0).abs() < 1e-6);
        assert!(matches!(
            describe("x".into(), &[3.5], "dense", &[], 3),
            Prediction::Value { value: 3.5, .. }
        ));
    }
}
