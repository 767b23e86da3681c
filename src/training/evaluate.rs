//! Evaluating a model on part of a split (accuracy and loss, or the regression errors),
//! recorded once and run after every epoch; and writing a batch's targets.

use super::TrainError;
use super::trainer::{Model, Networks, Scores, eval_batch};
use crate::data::{Split, TargetBuffer};
use crate::graph::Graph;
use crate::graph::lower::Network;

/// The scores of `model` on `split[range]`.
pub fn evaluate(
    graph: &Graph,
    model: &Model,
    split: &Split,
    range: std::ops::Range<usize>,
) -> Result<Scores, TrainError> {
    Evaluator::new(graph, model, split, range)?.run(model)
}

/// The evaluation of one part of a split, recorded once and run after every epoch, so
/// that evaluating a small table costs no recording and no allocation per epoch.
pub(super) struct Evaluator {
    /// `None` for no samples.
    nets: Option<Networks>,
    split: Split,
    indices: Vec<u32>,
    targets: TargetBuffer,
    /// Samples per forward pass ([`eval_batch`]).
    batch: usize,
}

impl Evaluator {
    pub(super) fn new(
        graph: &Graph,
        model: &Model,
        split: &Split,
        range: std::ops::Range<usize>,
    ) -> Result<Evaluator, TrainError> {
        let split = split.range(range);
        let total = split.len();
        let batch = eval_batch(graph);
        let nets = if total == 0 {
            None
        } else {
            Some(Networks::new(graph, model, batch, total, false)?)
        };
        Ok(Evaluator {
            nets,
            indices: (0..total as u32).collect(),
            targets: split.target_buffer(batch.min(total)),
            batch,
            split,
        })
    }

    pub(super) fn run(&mut self, model: &Model) -> Result<Scores, TrainError> {
        let total = self.split.len();
        let regression = self.split.is_regression();
        let Some(nets) = &mut self.nets else {
            return Ok(Scores {
                loss: 0.0,
                accuracy: (!regression).then_some(0.0),
                mse: regression.then_some(0.0),
                r2: None,
            });
        };
        let (mut correct, mut loss_sum, mut squares) = (0usize, 0.0f64, 0.0f64);
        for chunk in self.indices.chunks(self.batch) {
            let net = nets.for_batch(chunk.len());
            let input = net.tape.value_mut(net.input)?;
            self.split.write_batch_to(chunk, input, &mut self.targets);
            set_targets(net, &self.targets, chunk.len())?;
            net.tape.forward(&model.params);
            if let Some(loss) = net.loss {
                loss_sum += net.tape.value(loss)[0] as f64 * chunk.len() as f64;
            }
            let output = net.tape.value(net.output);
            match &self.targets {
                TargetBuffer::Classes(labels) => {
                    let classes = output.len() / chunk.len();
                    for (row, &label) in output.chunks_exact(classes).zip(labels.iter()) {
                        correct += usize::from(argmax(row) == label as usize);
                    }
                }
                TargetBuffer::Values(values) => {
                    for (&y, &t) in output.iter().zip(values.iter()) {
                        squares += (f64::from(y) - f64::from(t)).powi(2);
                    }
                }
            }
        }
        let n = total as f64;
        let loss = (loss_sum / n) as f32;
        let net_has_loss = nets.full.loss.is_some();
        if !regression {
            return Ok(Scores {
                loss,
                accuracy: Some(correct as f32 / total as f32),
                mse: None,
                r2: None,
            });
        }
        let targets = self.split.values().expect("a regression split has values");
        let mean = targets.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
        let spread: f64 = targets.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
        let mse = (squares / n) as f32;
        Ok(Scores {
            // The loss is the mse: reported as the one figure, summed in f64 here rather
            // than from the batches' f32 means.
            loss: if net_has_loss { mse } else { loss },
            accuracy: None,
            mse: Some(mse),
            r2: (spread > 0.0).then(|| (1.0 - squares / spread) as f32),
        })
    }
}

/// Writes the first `count` targets of `targets` into `net`'s target node.
pub fn set_targets(
    net: &mut Network,
    targets: &TargetBuffer,
    count: usize,
) -> Result<(), TrainError> {
    match targets {
        TargetBuffer::Classes(labels) => net.set_targets(&labels[..count])?,
        TargetBuffer::Values(values) => net.set_values(&values[..count])?,
    }
    Ok(())
}

/// Index of the largest element (the first of equals; NaN never wins).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}
