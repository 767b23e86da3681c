//! `nnc bench FILE [--batch 1,32,256]`: times training steps and inference at each batch
//! size on real samples, without training to convergence, and breaks a training step
//! down by node. The report names the CPU and the SIMD instructions it ran on.
//!
//! `gflops` is *dense-equivalent*: the graph's dense FLOP count per sample times the
//! samples per second. The products that skip the input's exact zeros (the first layer,
//! see `kernels::gemm`) do less arithmetic than that, so it can exceed what the cores can
//! do (120 on one Zen 3 core, whose AVX2 peak is 102.4: README, Performance). The FLOPs
//! actually done are not reported: they depend on which path `kernels::gemm` picks for
//! each product (density thresholds, batch sizes) and on the data, and counting them
//! outside the kernels would restate that choice where it can silently fall out of date.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use crate::cli::args::{BenchArgs, RunArgs, TrainFlags};
use crate::cli::commands::check::{group_digits, print_json};
use crate::cli::config::prepare;
use crate::cli::machine::Machine;
use crate::graph::Graph;
use crate::training::bench::{OpTime, Stepper, time_for};

/// Backward costs about twice the forward (two products per dense layer), so a training
/// step is about three forward passes.
const TRAIN_FLOPS_PER_FORWARD: u64 = 3;

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub model: String,
    /// `cpu`, `cores` and `simd` (`wide`, `matrixmultiply`): where the numbers come from.
    #[serde(flatten)]
    pub machine: Machine,
    pub params: usize,
    /// Forward FLOPs per sample; training counts three times this.
    pub flops_per_sample: u64,
    /// The first batch size's figures, repeated at the top level.
    pub train_samples_per_second: f64,
    pub infer_samples_per_second: f64,
    pub gflops: f64,
    pub ops: Vec<OpRow>,
    pub batches: Vec<BatchReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    pub batch: usize,
    pub train_samples_per_second: f64,
    pub infer_samples_per_second: f64,
    /// Training GFLOP/s, dense-equivalent: the graph's dense FLOP count (three forward
    /// passes per sample) at the measured rate, not the arithmetic actually done.
    pub gflops: f64,
    pub ops: Vec<OpRow>,
}

/// One node's share of a training step.
#[derive(Debug, Clone, Serialize)]
pub struct OpRow {
    pub name: String,
    pub op: String,
    pub forward_us: f64,
    pub backward_us: f64,
    /// Fraction of the profiled step time (0..1).
    pub share: f64,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let run_args = RunArgs {
        model: args.model.clone(),
        train: TrainFlags {
            data: args.data.clone(),
            threads: args.threads,
            ..TrainFlags::default()
        },
    };
    let session = prepare(&run_args, true)?;
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0) {
        return Err(crate::Error::Usage(format!(
            "`--seconds {}`: give a time between 0 and 3600",
            args.seconds
        ))
        .into());
    }
    let batches = if args.batch.is_empty() {
        vec![session.graph.train.batch]
    } else {
        args.batch.clone()
    };
    if let Some(zero) = batches
        .iter()
        .find(|&&b| b == 0 || b > session.data.train.len())
    {
        return Err(crate::Error::Usage(format!(
            "`--batch {zero}`: a batch needs 1 to {} samples",
            session.data.train.len()
        ))
        .into());
    }
    let mut results = Vec::new();
    for &batch in &batches {
        if !args.model.flags.quiet {
            eprintln!("timing batch {batch} for about {:.1} s ...", args.seconds);
        }
        results.push(bench_batch(
            &session.graph,
            &session.data.train,
            batch,
            args.seconds,
        )?);
    }
    let first = results[0].clone();
    let report = BenchReport {
        model: session.graph.name.clone(),
        machine: Machine::here(),
        params: session.graph.param_count(),
        flops_per_sample: session.graph.flops_per_sample(),
        train_samples_per_second: first.train_samples_per_second,
        infer_samples_per_second: first.infer_samples_per_second,
        gflops: first.gflops,
        ops: first.ops,
        batches: results,
    };
    if args.model.flags.json {
        print_json(&report)
    } else {
        print_table(&report)
    }
}

fn bench_batch(
    graph: &Graph,
    data: &crate::data::Split,
    batch: usize,
    seconds: f64,
) -> anyhow::Result<BatchReport> {
    let seed = graph.train.seed;
    let mut trainer = Stepper::new(graph, data, batch, true, seed).map_err(crate::Error::Train)?;
    let (steps, train_seconds) = time_for(Duration::from_secs_f64(seconds * 0.5), || {
        trainer.train_step().map(drop)
    })
    .map_err(crate::Error::Train)?;
    let train_sps = (steps as usize * batch) as f64 / train_seconds;

    let mut rows = vec![OpTime::default(); graph.nodes.len() + 1];
    let profile_steps = ((steps / 4) as usize).clamp(1, 2000);
    trainer
        .profile_steps(profile_steps, &mut rows)
        .map_err(crate::Error::Train)?;
    let total: f64 = rows
        .iter()
        .map(|r| (r.forward + r.backward).as_secs_f64())
        .sum::<f64>()
        .max(1e-12);
    let per_step_us = |d: Duration| d.as_secs_f64() * 1e6 / profile_steps as f64;
    let mut ops: Vec<OpRow> = graph
        .nodes
        .iter()
        .zip(&rows)
        .map(|(node, t)| OpRow {
            name: node.name.clone(),
            op: node.op.kind().to_owned(),
            forward_us: per_step_us(t.forward),
            backward_us: per_step_us(t.backward),
            share: (t.forward + t.backward).as_secs_f64() / total,
        })
        .collect();
    let update = &rows[graph.nodes.len()];
    ops.push(OpRow {
        name: "(update)".into(),
        op: "optimizer".into(),
        forward_us: 0.0,
        backward_us: per_step_us(update.backward),
        share: update.backward.as_secs_f64() / total,
    });

    let mut inferer = Stepper::new(graph, data, batch, false, seed).map_err(crate::Error::Train)?;
    let (calls, infer_seconds) = time_for(Duration::from_secs_f64(seconds * 0.25), || {
        inferer.infer_step()
    })
    .map_err(crate::Error::Train)?;
    let infer_sps = (calls as usize * batch) as f64 / infer_seconds;
    let train_flops = graph.flops_per_sample() * TRAIN_FLOPS_PER_FORWARD;
    Ok(BatchReport {
        batch,
        train_samples_per_second: train_sps,
        infer_samples_per_second: infer_sps,
        gflops: train_sps * train_flops as f64 / 1e9,
        ops,
    })
}

fn print_table(report: &BenchReport) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: {} parameters, {} FLOPs per sample forward (x{TRAIN_FLOPS_PER_FORWARD} to train)",
        report.model,
        group_digits(report.params as u64),
        group_digits(report.flops_per_sample)
    )?;
    writeln!(out, "machine: {}\n", report.machine.describe())?;
    writeln!(
        out,
        "| batch | train samples/s | inference samples/s | train GFLOP/s (dense-equivalent) |"
    )?;
    writeln!(out, "| ---: | ---: | ---: | ---: |")?;
    for b in &report.batches {
        writeln!(
            out,
            "| {} | {} | {} | {:.1} |",
            b.batch,
            group_digits(b.train_samples_per_second as u64),
            group_digits(b.infer_samples_per_second as u64),
            b.gflops
        )?;
    }
    writeln!(
        out,
        "\nGFLOP/s counts the dense FLOPs at the measured rate; products that skip the \
         input's zeros do less arithmetic, so this can exceed the CPU's peak."
    )?;
    for b in &report.batches {
        writeln!(
            out,
            "\nper node, batch {} (µs per training step):\n",
            b.batch
        )?;
        writeln!(out, "| node | op | forward µs | backward µs | share |")?;
        writeln!(out, "| --- | --- | ---: | ---: | ---: |")?;
        for op in &b.ops {
            writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.1} % |",
                op.name,
                op.op,
                op.forward_us,
                op.backward_us,
                op.share * 100.0
            )?;
        }
    }
    Ok(())
}
