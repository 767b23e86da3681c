//! A run's checkpoint: one safetensors file holding everything a run needs to go on
//! exactly where it was ([`RunState`] and the model's tensors), so that a run continued
//! from it ends with the bits the uninterrupted run ends with.
//!
//! Tensors are kept as the engine holds them (`f32`, flat, not transposed into the saved
//! layout) so that nothing is converted on the way out or back: `model/NAME` (weights and
//! buffers), `best/NAME` (early stopping's best epoch), `optimizer/BUFFER/NAME`
//! (`velocity`, Adam's `m` and `v`) and `order` (`u32`, the epoch's sample order). The
//! rest (position, history, generators' states, the loss guard) is JSON in the file's
//! metadata under `nnc`, beside whatever the caller saves to recognise its run (the
//! command line's source, overrides and data) under `run`. The whole file is written
//! atomically: a crash at any instant leaves the previous checkpoint or this one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::divergence::LossGuard;
use super::optimizer::Optimizer;
use super::trainer::{Best, EpochReport, Model, RunState, TrainConfig, training_rows};
use crate::rng::GeneratorState;

/// The checkpoint's file in a `--checkpoint` folder.
pub const FILE_NAME: &str = "checkpoint.safetensors";

/// This layout's number: a file of another is refused rather than misread.
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read the checkpoint {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the checkpoint {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a checkpoint nnc can continue from: {what}")]
    Damaged { path: PathBuf, what: String },
}

/// Everything but the tensors, as the metadata's JSON.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Position {
    format: u32,
    epochs_done: usize,
    step: usize,
    loss_sum: f64,
    epoch_seconds: f64,
    train_seconds: f64,
    infer_seconds: f64,
    history: Vec<EpochReport>,
    /// Early stopping's best validation loss and its epoch (its weights are `best/*`).
    best: Option<(f32, usize)>,
    stopped_early: bool,
    guard: LossGuard,
    adam_steps: i32,
    shuffle: GeneratorState,
    dropout: [GeneratorState; 2],
    augment: GeneratorState,
}

/// The bytes of a checkpoint of `model` at `state`, with `run` (the caller's description
/// of the run) beside them.
pub fn encode(
    run: &impl Serialize,
    model: &Model,
    state: &RunState,
) -> Result<Vec<u8>, serde_json::Error> {
    let position = Position {
        format: FORMAT,
        epochs_done: state.epochs_done,
        step: state.step,
        loss_sum: state.loss_sum,
        epoch_seconds: state.epoch_seconds,
        train_seconds: state.train_seconds,
        infer_seconds: state.infer_seconds,
        history: state.history.clone(),
        best: state.best.as_ref().map(|b| (b.loss, b.epoch)),
        stopped_early: state.stopped_early,
        guard: state.guard.clone(),
        adam_steps: state.optimizer.steps_taken(),
        shuffle: GeneratorState::of(&state.shuffle),
        dropout: [
            GeneratorState::of(&state.dropout[0]),
            GeneratorState::of(&state.dropout[1]),
        ],
        augment: GeneratorState::of(&state.augment),
    };
    let metadata = std::collections::HashMap::from([
        ("nnc".to_owned(), serde_json::to_string(&position)?),
        ("run".to_owned(), serde_json::to_string(run)?),
    ]);
    let mut tensors: Vec<(String, Dtype, Vec<u8>)> = Vec::new();
    let floats = |values: &[f32]| {
        let mut bytes = Vec::with_capacity(values.len() * 4);
        values
            .iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        bytes
    };
    let params = &model.params;
    for id in params.ids() {
        tensors.push((
            format!("model/{}", params.name(id)),
            Dtype::F32,
            floats(params.value(id)),
        ));
    }
    if let Some(best) = &state.best {
        for id in best.params.ids() {
            tensors.push((
                format!("best/{}", best.params.name(id)),
                Dtype::F32,
                floats(best.params.value(id)),
            ));
        }
    }
    for (buffer, values) in state.optimizer.buffers() {
        for (id, values) in params.ids().zip(values.iter()) {
            tensors.push((
                format!("optimizer/{buffer}/{}", params.name(id)),
                Dtype::F32,
                floats(values),
            ));
        }
    }
    tensors.push((
        "order".to_owned(),
        Dtype::U32,
        state
            .order
            .iter()
            .flat_map(|i| i.to_le_bytes())
            .collect::<Vec<u8>>(),
    ));
    let views = tensors
        .iter()
        .map(|(name, dtype, bytes)| {
            // Both kinds kept are 4 bytes wide.
            TensorView::new(*dtype, vec![bytes.len() / 4], bytes).map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .expect("a flat tensor's shape matches its bytes");
    Ok(safetensors::serialize(views, Some(metadata))
        .expect("serialising tensors in memory does not fail"))
}

/// Writes a checkpoint into `dir` (created if missing), atomically.
pub fn save(dir: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let path = dir.join(FILE_NAME);
    crate::atomic_file::write(&path, bytes)
        .map_err(|source| CheckpointError::Write { path, source })
}

/// Removes the temporary files a killed run left in `dir` while writing its checkpoint
/// (best effort: a folder that cannot be listed has none to remove); how many there were.
pub fn clear_leftovers(dir: &Path) -> usize {
    crate::atomic_file::remove_leftovers(&dir.join(FILE_NAME)).unwrap_or(0)
}

/// A checkpoint read from disk, to be checked against the run it should continue and
/// then [restored](Saved::restore).
pub struct Saved {
    path: PathBuf,
    bytes: Vec<u8>,
    position: Position,
    run: String,
}

impl Saved {
    /// Reads `dir`'s checkpoint.
    pub fn read(dir: &Path) -> Result<Saved, CheckpointError> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|source| CheckpointError::Read {
            path: path.clone(),
            source,
        })?;
        let damaged = |what: String| CheckpointError::Damaged {
            path: path.clone(),
            what,
        };
        let (_, header) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| damaged(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let field = |key: &str| {
            meta.get(key)
                .cloned()
                .ok_or_else(|| damaged(format!("it has no `{key}` metadata")))
        };
        let position: Position =
            serde_json::from_str(&field("nnc")?).map_err(|e| damaged(e.to_string()))?;
        if position.format != FORMAT {
            return Err(damaged(format!(
                "its layout is version {}, this nnc reads version {FORMAT}",
                position.format
            )));
        }
        let run = field("run")?;
        Ok(Saved {
            path,
            bytes,
            position,
            run,
        })
    }

    /// The caller's description of the run, as it was saved.
    pub fn run<T: DeserializeOwned>(&self) -> Result<T, CheckpointError> {
        serde_json::from_str(&self.run).map_err(|e| self.damaged(e.to_string()))
    }

    /// Epochs the checkpointed run had finished.
    pub fn epochs_done(&self) -> usize {
        self.position.epochs_done
    }

    /// Steps it had taken in the epoch after them.
    pub fn step(&self) -> usize {
        self.position.step
    }

    fn damaged(&self, what: String) -> CheckpointError {
        CheckpointError::Damaged {
            path: self.path.clone(),
            what,
        }
    }

    /// Puts the checkpoint's tensors into `model` (built from the same graph) and returns
    /// the state to continue from under `config`. Every tensor must be there with its
    /// length, none extra; otherwise `model` may be partly overwritten and the error says
    /// what is wrong.
    pub fn restore(
        &self,
        model: &mut Model,
        config: &TrainConfig,
        train_len: usize,
    ) -> Result<RunState, CheckpointError> {
        let p = &self.position;
        let damaged = |what: String| self.damaged(what);
        let file = safetensors::SafeTensors::deserialize(&self.bytes)
            .map_err(|e| damaged(e.to_string()))?;
        let mut tensors = Tensors {
            saved: self,
            left: file.tensors().into_iter().collect(),
        };
        for id in model.params.ids() {
            let name = format!("model/{}", model.params.name(id));
            tensors.floats_into(&name, model.params.value_mut(id))?;
        }
        let best = match p.best {
            Some((loss, epoch)) => {
                let mut params = model.params.clone();
                for id in params.ids() {
                    let name = format!("best/{}", params.name(id));
                    tensors.floats_into(&name, params.value_mut(id))?;
                }
                Some(Best {
                    loss,
                    epoch,
                    params,
                })
            }
            None => None,
        };
        let s = &config.settings;
        let mut optimizer =
            Optimizer::new(s.optimizer, &model.params).with_weight_decay(s.weight_decay);
        for (buffer, values) in optimizer.buffers_mut() {
            for (id, values) in model.params.ids().zip(values.iter_mut()) {
                let name = format!("optimizer/{buffer}/{}", model.params.name(id));
                tensors.floats_into(&name, values)?;
            }
        }
        optimizer.set_steps_taken(p.adam_steps);
        let (train_count, _) = training_rows(config, train_len);
        let order: Vec<u32> = tensors
            .take("order", Dtype::U32, train_count)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let tensors = tensors.left;
        if let Some(extra) = tensors.keys().next() {
            return Err(damaged(format!(
                "it holds the tensor `{extra}`, which the model does not have"
            )));
        }
        let mut seen = vec![false; train_count];
        for &i in &order {
            match seen.get_mut(i as usize) {
                Some(seen) if !*seen => *seen = true,
                _ => {
                    return Err(damaged(format!(
                        "its sample order repeats or passes {train_count} samples"
                    )));
                }
            }
        }
        let steps = train_count.div_ceil(s.batch.max(1));
        if p.step >= steps.max(1) || p.history.len() != p.epochs_done {
            return Err(damaged(format!(
                "its position (epoch {}, step {}) does not fit the run",
                p.epochs_done + 1,
                p.step
            )));
        }
        let generator = |state: &GeneratorState| {
            state
                .restore()
                .ok_or_else(|| damaged(format!("a generator's state is not one: {state:?}")))
        };
        Ok(RunState {
            epochs_done: p.epochs_done,
            step: p.step,
            order,
            loss_sum: p.loss_sum,
            epoch_seconds: p.epoch_seconds,
            train_seconds: p.train_seconds,
            infer_seconds: p.infer_seconds,
            history: p.history.clone(),
            best,
            stopped_early: p.stopped_early,
            guard: p.guard.clone(),
            optimizer,
            shuffle: generator(&p.shuffle)?,
            dropout: [generator(&p.dropout[0])?, generator(&p.dropout[1])?],
            augment: generator(&p.augment)?,
        })
    }
}

/// The tensors of a checkpoint not restored yet.
struct Tensors<'a> {
    saved: &'a Saved,
    left: BTreeMap<String, TensorView<'a>>,
}

impl Tensors<'_> {
    /// The bytes of tensor `name`, which must be `dtype` with `len` (4-byte) elements.
    fn take(&mut self, name: &str, dtype: Dtype, len: usize) -> Result<&[u8], CheckpointError> {
        let view = self.left.remove(name).ok_or_else(|| {
            self.saved
                .damaged(format!("the tensor `{name}` is missing"))
        })?;
        if view.dtype() != dtype || view.data().len() != len * 4 {
            return Err(self.saved.damaged(format!(
                "the tensor `{name}` is {:?} of {} bytes, the model needs {dtype:?} of {}",
                view.dtype(),
                view.data().len(),
                len * 4
            )));
        }
        Ok(view.data())
    }

    /// Copies the `f32` tensor `name` into `into`, which it must fill exactly.
    fn floats_into(&mut self, name: &str, into: &mut [f32]) -> Result<(), CheckpointError> {
        let bytes = self.take(name, Dtype::F32, into.len())?;
        for (value, b) in into.iter_mut().zip(bytes.chunks_exact(4)) {
            *value = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(())
    }
}
