//! Timing training steps and inference without training to convergence: the engine
//! behind `nnc bench` and the criterion train-step benches.

use std::time::{Duration, Instant};

use crate::rng::Generator;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::optimizer::Optimizer;
use super::{Model, TrainError};
use crate::autodiff::{Tape, Var};
use crate::data::{Split, TargetBuffer};
use crate::graph::lower::Network;
use crate::graph::{Graph, NodeId};

/// One recorded network with its model, optimizer and a stream of real batches: call
/// [`Stepper::train_step`] or [`Stepper::infer_step`] as often as needed.
pub struct Stepper<'a> {
    graph: &'a Graph,
    data: &'a Split,
    pub model: Model,
    optimizer: Optimizer,
    pub net: Network,
    order: Vec<u32>,
    cursor: usize,
    targets: TargetBuffer,
}

impl<'a> Stepper<'a> {
    /// Records `graph` at `batch` (with the loss when `training`), weights from `seed`.
    pub fn new(
        graph: &'a Graph,
        data: &'a Split,
        batch: usize,
        training: bool,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let mut rng = Generator::seed_from_u64(seed);
        let model = Model::init(graph, &mut rng)?;
        let optimizer = Optimizer::new(graph.train.optimizer, &model.params);
        let mut tape = Tape::new();
        tape.set_training(training);
        let net = Network::record(
            graph,
            &model.params,
            &model.node_params,
            tape,
            batch,
            training,
        )?;
        let mut order: Vec<u32> = (0..data.len() as u32).collect();
        order.shuffle(&mut rng);
        if order.len() < batch {
            return Err(TrainError::NoData {
                what: format!("batch {batch} is larger than the {} samples", data.len()),
            });
        }
        Ok(Stepper {
            graph,
            data,
            model,
            optimizer,
            net,
            order,
            cursor: 0,
            targets: data.target_buffer(batch),
        })
    }

    /// Loads the next batch into the input and target nodes.
    fn load_batch(&mut self) -> Result<(), TrainError> {
        let batch = self.net.batch;
        if self.cursor + batch > self.order.len() {
            self.cursor = 0;
        }
        let indices = &self.order[self.cursor..self.cursor + batch];
        self.cursor += batch;
        self.data.write_batch_to(
            indices,
            self.net.tape.value_mut(self.net.input)?,
            &mut self.targets,
        );
        super::set_targets(&mut self.net, &self.targets, batch)?;
        Ok(())
    }

    /// One full training step: batch in, forward, backward, optimizer update.
    pub fn train_step(&mut self) -> Result<f32, TrainError> {
        self.load_batch()?;
        let loss = self.net.loss.ok_or(TrainError::NoLoss)?;
        self.net.tape.forward(&self.model.params);
        let value = self.net.tape.value(loss)[0];
        self.optimizer
            .backward_and_step(&mut self.net.tape, loss, &mut self.model.params);
        Ok(value)
    }

    /// One inference pass over a batch.
    pub fn infer_step(&mut self) -> Result<(), TrainError> {
        self.load_batch()?;
        self.net.tape.forward(&self.model.params);
        Ok(())
    }

    /// Times `steps` training steps node by node, adding each node's forward and backward
    /// seconds to its graph node's row in `rows` (indexed by graph node; the last row is
    /// the optimizer update).
    pub fn profile_steps(&mut self, steps: usize, rows: &mut [OpTime]) -> Result<(), TrainError> {
        let loss = self.net.loss.ok_or(TrainError::NoLoss)?;
        let optimizer_row = rows.len() - 1;
        for _ in 0..steps {
            self.load_batch()?;
            for index in 0..self.net.tape.len() {
                let started = Instant::now();
                self.net.tape.forward_node(index, &self.model.params);
                rows[self.row_of(index, optimizer_row)].forward += started.elapsed();
            }
            // The same path as `train_step`: with fused SGD the update is part of each
            // dense node's backward time and the optimizer row stays empty.
            let fused = self.optimizer.fused_lr(&self.net.tape);
            self.net.tape.backward_prepare(loss);
            for index in (0..=loss.index()).rev() {
                let started = Instant::now();
                self.net
                    .tape
                    .backward_node_with(index, &mut self.model.params, fused);
                rows[self.row_of(index, optimizer_row)].backward += started.elapsed();
            }
            self.net.tape.backward_finish(&mut self.model.params);
            if fused.is_none() {
                let started = Instant::now();
                self.optimizer.step(&mut self.model.params);
                rows[optimizer_row].backward += started.elapsed();
            }
        }
        Ok(())
    }

    /// The row a tape node's time goes to: its graph node, or (for the loss and targets,
    /// which belong to no node of their own) the output's.
    fn row_of(&self, index: usize, fallback: usize) -> usize {
        match self.net.origin_of(Var::from_index(index)) {
            Some(NodeId(n)) => n as usize,
            None if self.net.tape.is_written_by_caller(Var::from_index(index)) => {
                self.graph.input.index()
            }
            None => fallback,
        }
    }
}

/// Accumulated time of one graph node (or the optimizer) over profiled steps.
#[derive(Debug, Clone, Default)]
pub struct OpTime {
    pub forward: Duration,
    pub backward: Duration,
}

/// Runs `step` for at least `duration` (after one untimed call) and returns the number of
/// calls and the seconds they took.
pub fn time_for(
    duration: Duration,
    mut step: impl FnMut() -> Result<(), TrainError>,
) -> Result<(u64, f64), TrainError> {
    step()?;
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < duration || calls == 0 {
        // Check the clock every few calls: at batch 1 a step is a few microseconds.
        for _ in 0..8 {
            step()?;
        }
        calls += 8;
    }
    Ok((calls, started.elapsed().as_secs_f64()))
}
