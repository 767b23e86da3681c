//! The training loop: shuffled mini-batches, an optimizer step per batch, evaluation
//! after every epoch, an optional validation hold-out with early stopping, and a check of
//! every step's loss for divergence (the rule and the blame are `divergence.rs`'s).

use std::time::{Duration, Instant};

use crate::rng::Generator;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::TrainError;
use super::divergence::{self, Cause, LossGuard};
use super::evaluate::{Evaluator, set_targets};
use super::optimizer::Optimizer;
use super::progress::{PROGRESS_INTERVAL, Progress, ProgressTimer};
use crate::autodiff::{Params, Tape};
use crate::data::{Augment, Dataset, Split};
use crate::graph::lower::{Network, NodeParams, init_params};
use crate::graph::{Graph, Schedule, TrainSettings};
use crate::ops::standardize::Standardize;
use crate::ops::{Owned, Tensors};

/// Most samples evaluated at once: enough to run the products efficiently.
const EVAL_BATCH: usize = 1000;

/// About how much memory one evaluation batch's values may take. A convolutional
/// network's values are large per sample (`fashion_cnn`'s 0.6 MB): a thousand of them,
/// on the test and the validation tapes, took gigabytes.
const EVAL_MEMORY: usize = 256 << 20;

/// The evaluation batch for `graph`: [`EVAL_BATCH`], or fewer when its values (every
/// node's, and as much again for scratch such as patch matrices) would pass
/// [`EVAL_MEMORY`]. An MLP keeps the full batch.
pub(super) fn eval_batch(graph: &Graph) -> usize {
    let floats: usize = graph.nodes.iter().map(|node| node.shape.numel()).sum();
    let per_sample = floats.saturating_mul(2 * size_of::<f32>()).max(1);
    (EVAL_MEMORY / per_sample).clamp(64, EVAL_BATCH)
}

/// What a run needs beyond the graph: the `train` block after command-line overrides.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub settings: TrainSettings,
    /// Train on only the first N training samples (`--samples`).
    pub samples: Option<usize>,
    /// How often an epoch reports [`Progress::Steps`]: [`PROGRESS_INTERVAL`] by
    /// default (tests pass zero, to get a report at every read of the clock).
    pub progress_interval: Duration,
}

impl TrainConfig {
    /// The run `settings` say, on the first `samples`, reporting progress as usual.
    pub fn new(settings: TrainSettings, samples: Option<usize>) -> TrainConfig {
        TrainConfig {
            settings,
            samples,
            progress_interval: PROGRESS_INTERVAL,
        }
    }
}

/// One epoch's numbers (read back from run records, too). A classifier has accuracies; a
/// regression (a table's label read as a number) has mean squared errors and R² instead.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f32>,
    pub test_loss: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_mse: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_r2: Option<f32>,
    /// Wall time of the epoch's training steps (evaluation excluded).
    pub seconds: f64,
}

/// The outcome of [`train`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    pub history: Vec<EpochReport>,
    /// Of the weights kept (the best validation epoch's under early stopping): the test
    /// scores.
    pub test: Scores,
    pub train_seconds: f64,
    pub samples_per_second: f64,
    /// Test images per second in the last epoch's evaluation (batches of 1000, forward
    /// only), the inference speed a user of the trained model sees.
    pub infer_samples_per_second: f64,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    pub stopped_early: bool,
    /// The largest running loss over the divergence reference (see [`divergence`]): the
    /// run would have stopped as diverged above [`divergence::DIVERGENCE_FACTOR`].
    pub peak_loss_ratio: f64,
}

/// How a model does on a split: its mean loss and, for a classifier, its accuracy (0..1);
/// for a regression, the mean squared error of its predictions and their coefficient of
/// determination `R² = 1 − Σ(y − t)² / Σ(t − mean t)²` (`None` when every target is the
/// same, where it is undefined).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    pub loss: f32,
    pub accuracy: Option<f32>,
    pub mse: Option<f32>,
    pub r2: Option<f32>,
}

/// A model's state: its tensors and which graph node owns which.
#[derive(Debug, Clone)]
pub struct Model {
    pub params: Params,
    pub node_params: NodeParams,
}

impl Model {
    /// Fresh parameters drawn from `rng`.
    pub fn init(graph: &Graph, rng: &mut Generator) -> Result<Model, TrainError> {
        let (params, node_params) = init_params(graph, rng)?;
        Ok(Model {
            params,
            node_params,
        })
    }

    /// Writes the mean and standard deviation of `rows`' features into every
    /// `standardize` node of the model (a table's, after its input), so that the model
    /// standardises its input as those rows' statistics say. Whether it has one is the
    /// graph's business: without one, this does nothing.
    pub fn standardize_with(&mut self, graph: &Graph, rows: &Split) {
        for (node, owned) in graph.nodes.iter().zip(&self.node_params) {
            let Some(standardize) = node.op.downcast_ref::<Standardize>() else {
                continue;
            };
            let Ok(tensors) =
                standardize.declare(&graph.input_shapes(node), &mut Owned::new(owned))
            else {
                continue;
            };
            let (mean, std) = rows.feature_stats();
            self.params.value_mut(tensors.mean).copy_from_slice(&mean);
            self.params.value_mut(tensors.std).copy_from_slice(&std);
        }
    }
}

/// The training samples a run uses (`--samples`, less the validation hold-out) and, after
/// them, the validation samples: `(trained, available)`, samples `trained..available` of
/// the training split validating.
pub fn training_rows(config: &TrainConfig, train_len: usize) -> (usize, usize) {
    let available = config.samples.map_or(train_len, |n| n.min(train_len));
    let held_out = ((available as f64) * config.settings.validation as f64).round() as usize;
    (available - held_out.min(available), available)
}

/// Recorded networks for a full batch and, when the data does not divide evenly, for the
/// last partial batch; each keeps its own tape so switching allocates nothing.
pub(super) struct Networks {
    pub(super) full: Network,
    pub(super) rest: Option<Network>,
}

impl Networks {
    pub(super) fn new(
        graph: &Graph,
        model: &Model,
        batch: usize,
        total: usize,
        training: bool,
    ) -> Result<Networks, TrainError> {
        let record = |b: usize| -> Result<Network, TrainError> {
            let mut tape = Tape::new();
            tape.set_training(training);
            Ok(Network::record(
                graph,
                &model.params,
                &model.node_params,
                tape,
                b,
                true,
            )?)
        };
        let full = record(batch.min(total.max(1)))?;
        let remainder = total % batch;
        let rest = if remainder != 0 && total > batch {
            Some(record(remainder)?)
        } else {
            None
        };
        Ok(Networks { full, rest })
    }

    /// Copies the tapes' dropout generators into `into` (full batches', partial batch's).
    fn save_generators(&self, into: &mut [Generator; 2]) {
        into[0].clone_from(self.full.tape.generator());
        if let Some(rest) = &self.rest {
            into[1].clone_from(rest.tape.generator());
        }
    }

    pub(super) fn for_batch(&mut self, size: usize) -> &mut Network {
        match &mut self.rest {
            Some(rest) if rest.batch == size => rest,
            _ => &mut self.full,
        }
    }
}

/// Where a run is between two steps: everything beyond the model's tensors that decides
/// what it does next. A run continued from a copy of it (a checkpoint) draws the same
/// samples, masks and shifts, takes the same steps and reports the same history as the
/// run that made the copy.
#[derive(Debug, Clone)]
pub struct RunState {
    /// Epochs finished: trained, evaluated, in `history`.
    pub epochs_done: usize,
    /// Steps taken in the epoch after them; 0 before its shuffle.
    pub step: usize,
    /// The sample order of the epoch under way (the last one's, between epochs: the next
    /// epoch shuffles it again).
    pub order: Vec<u32>,
    /// Sum of the batch losses of the epoch under way.
    pub loss_sum: f64,
    /// Training seconds of the epoch under way so far.
    pub epoch_seconds: f64,
    pub train_seconds: f64,
    /// Seconds of the last epoch's test evaluation.
    pub infer_seconds: f64,
    pub history: Vec<EpochReport>,
    /// Under early stopping: the best validation epoch so far and its weights.
    pub best: Option<Best>,
    pub stopped_early: bool,
    pub guard: LossGuard,
    pub optimizer: Optimizer,
    /// The sample order's generator.
    pub shuffle: Generator,
    /// Dropout's generators: the full batches' tape's and the last partial batch's.
    pub dropout: [Generator; 2],
    pub augment: Generator,
}

/// The weights of the best validation epoch so far.
#[derive(Debug, Clone)]
pub struct Best {
    pub loss: f32,
    pub epoch: usize,
    pub params: Params,
}

impl RunState {
    /// A run about to start its first epoch: samples in order, fresh optimizer state,
    /// sample order drawn from `shuffle` (the generator that drew the initial weights),
    /// dropout and augmentation from streams of their own derived from the seed, so that
    /// adding either changes neither the shuffle nor the other.
    pub fn start(
        graph: &Graph,
        model: &Model,
        config: &TrainConfig,
        train_len: usize,
        shuffle: Generator,
    ) -> Result<RunState, TrainError> {
        let s = &config.settings;
        let (train_count, _) = training_rows(config, train_len);
        let loss_kind = graph.loss.ok_or(TrainError::NoLoss)?;
        Ok(RunState {
            epochs_done: 0,
            step: 0,
            order: (0..train_count as u32).collect(),
            loss_sum: 0.0,
            epoch_seconds: 0.0,
            train_seconds: 0.0,
            infer_seconds: 0.0,
            history: Vec::with_capacity(s.epochs),
            best: None,
            stopped_early: false,
            guard: LossGuard::new(loss_kind, graph.node(graph.output).shape.numel()),
            optimizer: Optimizer::new(s.optimizer, &model.params).with_weight_decay(s.weight_decay),
            shuffle,
            dropout: [
                Generator::seed_from_u64(s.seed ^ 0x9e37_79b9_7f4a_7c15),
                Generator::seed_from_u64(s.seed ^ 0x6a09_e667_f3bc_c908),
            ],
            augment: Generator::seed_from_u64(s.seed ^ 0x3c6e_f372_fe94_f82b),
        })
    }

    /// Whether the run has nothing left to train.
    pub fn is_finished(&self, epochs: usize) -> bool {
        self.stopped_early || self.epochs_done >= epochs
    }
}

/// Where and how often [`train_from`] hands its state over to be kept: after every epoch,
/// and every `every_steps` steps if given.
pub struct Checkpoints<'a> {
    pub every_steps: Option<usize>,
    pub keep: &'a mut dyn FnMut(&Model, &RunState) -> Result<(), TrainError>,
}

/// Trains `model` in place as `config` says, reporting progress through `progress`;
/// `rng` (which drew the initial weights) draws the sample order.
pub fn train(
    graph: &Graph,
    model: &mut Model,
    data: &Dataset,
    config: &TrainConfig,
    rng: &mut Generator,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<TrainReport, TrainError> {
    let mut state = RunState::start(graph, model, config, data.train.len(), rng.clone())?;
    let report = train_from(graph, model, data, config, &mut state, progress, None);
    *rng = state.shuffle;
    report
}

/// Trains `model` from `state` to the end of the run, handing the state to `checkpoints`
/// as it goes.
pub fn train_from(
    graph: &Graph,
    model: &mut Model,
    data: &Dataset,
    config: &TrainConfig,
    st: &mut RunState,
    progress: &mut dyn FnMut(Progress<'_>),
    mut checkpoints: Option<Checkpoints<'_>>,
) -> Result<TrainReport, TrainError> {
    let s = &config.settings;
    let (train_count, available) = training_rows(config, data.train.len());
    let held_out = available - train_count;
    if train_count == 0 {
        return Err(TrainError::NoData {
            what: "no training samples are left after the validation split".into(),
        });
    }
    let batch = s.batch.max(1);
    let mut nets = Networks::new(graph, model, batch, train_count, true)?;
    nets.full.tape.set_generator(st.dropout[0].clone());
    if let Some(rest) = &mut nets.rest {
        rest.tape.set_generator(st.dropout[1].clone());
    }
    let augment = Augment {
        flip: s.flip,
        shift: s.shift,
    };
    let mut targets = data.train.target_buffer(batch);
    let mut validation = if held_out > 0 {
        Some(Evaluator::new(
            graph,
            model,
            &data.train,
            train_count..available,
        )?)
    } else {
        None
    };
    let mut test = Evaluator::new(graph, model, &data.test, 0..data.test.len())?;
    let steps = train_count.div_ceil(batch);
    let base_lr = s.optimizer.lr();
    let first_epoch = st.epochs_done + 1;
    for epoch in first_epoch..=s.epochs {
        if st.stopped_early {
            break;
        }
        if s.lr_decay != 1.0 {
            st.optimizer.set_lr(
                base_lr
                    * s.lr_decay
                        .powi(i32::try_from(epoch - 1).unwrap_or(i32::MAX)),
            );
        }
        if st.step == 0 && s.shuffle {
            st.order.shuffle(&mut st.shuffle);
        }
        progress(Progress::EpochStarted {
            epoch,
            epochs: s.epochs,
            steps,
        });
        let started = Instant::now();
        let carried_seconds = st.epoch_seconds;
        let first_step = st.step;
        let mut timer = ProgressTimer::start(config.progress_interval, started);
        for step in first_step..steps {
            if s.schedule != Schedule::Constant {
                let done = (epoch - 1) * steps + step;
                st.optimizer
                    .set_lr(s.schedule.lr_at(base_lr, done, s.epochs * steps));
            }
            let chunk = &st.order[step * batch..((step + 1) * batch).min(train_count)];
            let net = nets.for_batch(chunk.len());
            let inputs = net.tape.value_mut(net.input)?;
            if augment.is_identity() {
                data.train.write_batch_to(chunk, inputs, &mut targets);
            } else {
                data.train.write_batch_augmented(
                    chunk,
                    inputs,
                    &mut targets,
                    &augment,
                    &mut st.augment,
                );
            }
            set_targets(net, &targets, chunk.len())?;
            net.tape.forward(&model.params);
            let loss_var = net.loss.ok_or(TrainError::NoLoss)?;
            let loss = net.tape.value(loss_var)[0];
            let diverged = if loss.is_finite() {
                st.guard.observe(loss).err().map(Cause::Exploded)
            } else {
                Some(Cause::NonFinite { loss })
            };
            if let Some(cause) = diverged {
                let at = divergence::Step {
                    graph,
                    net,
                    params: &model.params,
                    epoch,
                    step: step + 1,
                    lr: st.optimizer.lr(),
                };
                return Err(at.diverged(cause));
            }
            st.loss_sum += loss as f64;
            st.optimizer
                .backward_and_step(&mut net.tape, loss_var, &mut model.params);
            st.step = step + 1;
            if timer.tick(Instant::now) {
                let taken = st.step - first_step;
                let samples = (taken * batch).min(train_count);
                progress(Progress::Steps {
                    done: st.step,
                    train_loss: (st.loss_sum / st.step as f64) as f32,
                    samples_per_second: samples as f64 / started.elapsed().as_secs_f64(),
                });
            }
            let overall = (epoch - 1) * steps + st.step;
            if let Some(Checkpoints {
                every_steps: Some(every),
                keep,
            }) = &mut checkpoints
                && st.step < steps
                && overall.is_multiple_of(*every)
            {
                st.epoch_seconds = carried_seconds + started.elapsed().as_secs_f64();
                nets.save_generators(&mut st.dropout);
                keep(model, st)?;
            }
        }
        let seconds = carried_seconds + started.elapsed().as_secs_f64();
        st.train_seconds += seconds;
        let validated = validation.as_mut().map(|v| v.run(model)).transpose()?;
        let evaluation = Instant::now();
        let tested = test.run(model)?;
        st.infer_seconds = evaluation.elapsed().as_secs_f64();
        let report = EpochReport {
            epoch,
            train_loss: (st.loss_sum / steps as f64) as f32,
            test_accuracy: tested.accuracy,
            test_loss: tested.loss,
            test_mse: tested.mse,
            test_r2: tested.r2,
            validation_accuracy: validated.and_then(|v| v.accuracy),
            validation_loss: validated.map(|v| v.loss),
            validation_r2: validated.and_then(|v| v.r2),
            seconds,
        };
        progress(Progress::EpochFinished(&report));
        st.history.push(report);
        if let (Some(patience), Some(loss)) = (s.early_stopping, validated.map(|v| v.loss)) {
            if st.best.as_ref().is_none_or(|best| loss < best.loss) {
                st.best = Some(Best {
                    loss,
                    epoch,
                    params: model.params.clone(),
                });
            } else if st
                .best
                .as_ref()
                .is_some_and(|best| epoch - best.epoch >= patience)
            {
                st.stopped_early = true;
            }
        }
        st.epochs_done = epoch;
        st.step = 0;
        st.loss_sum = 0.0;
        st.epoch_seconds = 0.0;
        if let Some(Checkpoints { keep, .. }) = &mut checkpoints {
            nets.save_generators(&mut st.dropout);
            keep(model, st)?;
        }
    }
    let mut best_epoch = st.history.len();
    if let Some(best) = &st.best {
        if best.epoch != st.history.len() {
            model.params.clone_from(&best.params);
        }
        best_epoch = best.epoch;
    }
    let tested = match st.history.get(best_epoch.wrapping_sub(1)) {
        Some(r) => Scores {
            loss: r.test_loss,
            accuracy: r.test_accuracy,
            mse: r.test_mse,
            r2: r.test_r2,
        },
        None => test.run(model)?,
    };
    let trained = (train_count * st.history.len()) as f64;
    let infer_seconds = st.infer_seconds;
    Ok(TrainReport {
        history: st.history.clone(),
        test: tested,
        train_seconds: st.train_seconds,
        samples_per_second: if st.train_seconds > 0.0 {
            trained / st.train_seconds
        } else {
            0.0
        },
        infer_samples_per_second: if infer_seconds > 0.0 {
            data.test.len() as f64 / infer_seconds
        } else {
            0.0
        },
        best_epoch,
        stopped_early: st.stopped_early,
        peak_loss_ratio: st.guard.peak_ratio(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{BuildOptions, build_graph};
    use crate::language::Source;

    fn graph(body: &str) -> Graph {
        let text = format!("model m {{\n{body}\n loss = cross_entropy\n}}\n");
        let source = Source {
            path: "m.nn".into(),
            text,
        };
        build_graph(&source, &BuildOptions::default()).unwrap()
    }

    #[test]
    fn an_mlp_evaluates_a_thousand_at_once_and_a_wide_cnn_fewer_within_the_budget() {
        let mlp = graph(
            " x = input(784)\n h = x |> dense(1024) |> relu\n output = h |> dense(10) |> softmax",
        );
        assert_eq!(eval_batch(&mlp), EVAL_BATCH);
        let cnn = graph(
            " x = input(1, 28, 28)\n c = x |> conv2d(64, 3, pad = same) |> relu |> maxpool(2)\n output = c |> flatten |> dense(10) |> softmax",
        );
        let batch = eval_batch(&cnn);
        assert!(batch < EVAL_BATCH, "{batch}");
        let floats: usize = cnn.nodes.iter().map(|n| n.shape.numel()).sum();
        assert!(batch * floats * 2 * size_of::<f32>() <= EVAL_MEMORY);
    }
}
