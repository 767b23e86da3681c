//! Weights on disk in the safetensors format, named after the graph's nodes
//! (`h.weight` is `[units, n_in]` as in PyTorch's `nn.Linear`, `h.bias` is `[units]`), so
//! Python's `safetensors` and PyTorch load them as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};

use crate::autodiff::Params;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot write weights to {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read weights from {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid safetensors file: {what}")]
    Corrupt { path: PathBuf, what: String },
    #[error("the weights in {path} do not match the model:\n{}", differences.join("\n"))]
    Mismatch {
        path: PathBuf,
        differences: Vec<String>,
    },
}

/// The type a tensor is saved as: `f32`, or a 64-bit integer for a count (a batch
/// norm's `num_batches_tracked`, as PyTorch saves it).
fn saved_dtype(params: &Params, id: crate::autodiff::ParamId) -> Dtype {
    if params.is_count(id) {
        Dtype::I64
    } else {
        Dtype::F32
    }
}

/// What a weights file says about the data its model learnt from, beside the tensors (the
/// safetensors metadata's `nnc` entry, which PyTorch and `safetensors` ignore): enough for
/// `nnc predict` to name the classes and read a table's columns without the data.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainedOn {
    /// The dataset's name (`mnist`, a CSV file's path, ...).
    pub dataset: String,
    /// The classes' names in class order; empty for a regression, or unnamed classes.
    #[serde(default)]
    pub classes: Vec<String>,
    /// A table's feature columns in the order the model reads them.
    #[serde(default)]
    pub features: Vec<String>,
    /// One sample's `[channels, rows, cols]` (`[1, 1, d]` for a vector): an MLP on
    /// MNIST reads 28×28 images as 784 values.
    #[serde(default)]
    pub sample_shape: Option<[usize; 3]>,
}

/// The metadata key [`TrainedOn`] is saved under.
const TRAINED_ON: &str = "nnc";

/// Serialises every tensor, little-endian, in name order.
pub fn to_bytes(params: &Params) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    to_bytes_with(params, None)
}

/// [`to_bytes`] with what the model was trained on in the metadata.
pub fn to_bytes_with(
    params: &Params,
    trained_on: Option<&TrainedOn>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = params
        .ids()
        .map(|id| {
            let values = params.saved_values(id);
            let dtype = saved_dtype(params, id);
            let bytes = match dtype {
                Dtype::I64 => values
                    .iter()
                    .flat_map(|&v| (v as i64).to_le_bytes())
                    .collect(),
                _ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            };
            (
                params.name(id).to_owned(),
                dtype,
                params.saved_shape(id).dims(),
                bytes,
            )
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = trained_on.map(|t| {
        std::collections::HashMap::from([(
            TRAINED_ON.to_owned(),
            serde_json::to_string(t).expect("plain data serialises"),
        )])
    });
    safetensors::serialize(views, metadata)
}

/// Writes `params` to `path` atomically.
pub fn save(params: &Params, path: &Path) -> Result<(), WeightsError> {
    save_with(params, path, None)
}

/// [`save`], noting what the model was trained on.
pub fn save_with(
    params: &Params,
    path: &Path,
    trained_on: Option<&TrainedOn>,
) -> Result<(), WeightsError> {
    let bytes = to_bytes_with(params, trained_on).map_err(|e| WeightsError::Write {
        path: path.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    crate::atomic_file::write(path, &bytes).map_err(|source| WeightsError::Write {
        path: path.to_owned(),
        source,
    })
}

/// What the weights file at `path` says its model was trained on; `None` for a file
/// without the note (written by another tool, or before nnc kept it).
pub fn trained_on(path: &Path) -> Result<Option<TrainedOn>, WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let corrupt = |what: String| WeightsError::Corrupt {
        path: path.to_owned(),
        what,
    };
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    match header.metadata().as_ref().and_then(|m| m.get(TRAINED_ON)) {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| corrupt(format!("its `{TRAINED_ON}` note: {e}"))),
    }
}

/// Loads saved weights into `params`. Every tensor of the model must be in the file with
/// the same shape and no tensor may be extra; otherwise nothing is changed and the error
/// lists each difference.
pub fn load(params: &mut Params, path: &Path) -> Result<(), WeightsError> {
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_bytes(params, &bytes, path)
}

/// [`load`] of a file's bytes already in memory; `path` only names the file in errors.
/// Public so that the fuzz targets (`fuzz/`) can feed it arbitrary bytes without a file.
pub fn load_bytes(params: &mut Params, bytes: &[u8], path: &Path) -> Result<(), WeightsError> {
    let corrupt = |what: String| WeightsError::Corrupt {
        path: path.to_owned(),
        what,
    };
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut in_file: BTreeMap<String, TensorView<'_>> = file.tensors().into_iter().collect();
    let mut differences = Vec::new();
    let mut loaded = Vec::new();
    for id in params.ids() {
        let name = params.name(id);
        let want = params.saved_shape(id);
        let dtype = saved_dtype(params, id);
        match in_file.remove(name) {
            None => differences.push(format!("  missing: `{name}` {want}")),
            Some(view) if view.dtype() != dtype => {
                differences.push(format!(
                    "  `{name}` is {:?}, expected {dtype:?}",
                    view.dtype()
                ));
            }
            Some(view) if view.shape() != want.dims().as_slice() => {
                differences.push(format!(
                    "  `{name}` has shape {:?}, the model needs {want}",
                    view.shape()
                ));
            }
            Some(view) => {
                let values: Vec<f32> = match dtype {
                    // A count far beyond 2²⁴ loses its last digits as an f32: harmless for
                    // a statistic nnc only carries.
                    Dtype::I64 => view
                        .data()
                        .chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().expect("chunks of 8")) as f32)
                        .collect(),
                    _ => view
                        .data()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                };
                loaded.push((id, values));
            }
        }
    }
    for (name, view) in &in_file {
        differences.push(format!(
            "  unexpected: `{name}` {:?} is not in the model",
            view.shape()
        ));
    }
    if !differences.is_empty() {
        return Err(WeightsError::Mismatch {
            path: path.to_owned(),
            differences,
        });
    }
    for (id, values) in loaded {
        params
            .load_saved(id, &values)
            .expect("the shape was checked above");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::Shape;

    fn params(units: usize) -> Params {
        let mut p = Params::new();
        p.add(
            "h.weight",
            Shape::matrix(units, 3).unwrap(),
            (0..units * 3).map(|i| i as f32 * 0.5).collect(),
        )
        .unwrap();
        p.add("h.bias", Shape::vector(units).unwrap(), vec![-1.5; units])
            .unwrap();
        p
    }

    #[test]
    fn save_then_load_round_trips_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let original = params(2);
        save(&original, &path).unwrap();
        let mut loaded = params(2);
        for id in loaded.ids() {
            loaded.value_mut(id).fill(0.0);
        }
        load(&mut loaded, &path).unwrap();
        for id in original.ids() {
            assert_eq!(original.value(id), loaded.value(id));
        }
    }

    #[test]
    fn what_the_model_was_trained_on_is_read_back_and_absent_without_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let note = TrainedOn {
            dataset: "iris.csv".into(),
            classes: vec!["setosa".into(), "versicolor".into()],
            features: vec!["sl".into(), "sw".into(), "pl".into()],
            sample_shape: Some([1, 1, 3]),
        };
        save_with(&params(2), &path, Some(&note)).unwrap();
        assert_eq!(trained_on(&path).unwrap(), Some(note));
        let mut loaded = params(2);
        load(&mut loaded, &path).unwrap();
        save(&params(2), &path).unwrap();
        assert_eq!(trained_on(&path).unwrap(), None);
    }

    #[test]
    fn mismatched_shapes_and_names_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        save(&params(2), &path).unwrap();
        let mut other = params(4);
        other
            .add("out.weight", Shape::matrix(1, 1).unwrap(), vec![0.0])
            .unwrap();
        let err = load(&mut other, &path).unwrap_err().to_string();
        assert!(
            err.contains("`h.weight` has shape [2, 3], the model needs [4, 3]"),
            "{err}"
        );
        assert!(err.contains("missing: `out.weight`"), "{err}");
    }

    #[test]
    fn garbage_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        std::fs::write(&path, b"\xff\xff\xff\xff\xff\xff\xff\xffnot json").unwrap();
        let err = load(&mut params(2), &path).unwrap_err();
        assert!(matches!(err, WeightsError::Corrupt { .. }), "{err}");
    }
}
