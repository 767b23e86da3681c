//! `nnc gradcheck FILE`: the engine's gradients of this model, on a few real training
//! samples, against central differences. The comparison itself (step, tolerance, the
//! re-seeding that keeps dropout masks fixed) is `autodiff::gradcheck`'s; this command
//! only builds the model, fills one batch and reports.

use std::io::Write;

use crate::rng::Generator;
use rand::SeedableRng;
use rand::seq::index;
use serde::Serialize;

use crate::autodiff::Tape;
use crate::autodiff::gradcheck::{TOLERANCE, check_tape};
use crate::cli::args::RunArgs;
use crate::cli::commands::check::print_json;
use crate::cli::config::{Session, prepare};
use crate::graph::lower::Network;
use crate::training::{Model, TrainError, set_targets, weights};

/// Samples in the checked batch unless `--batch` says otherwise: enough that rows
/// interact through the mean loss, few enough that every forward pass is cheap.
const BATCH: usize = 4;
/// Elements perturbed per parameter (evenly spaced): each costs two forward passes.
const ELEMENTS_PER_PARAM: usize = 20;

/// The `--json` output of `nnc gradcheck`.
#[derive(Debug, Serialize)]
pub struct GradcheckReport {
    pub model: String,
    pub ok: bool,
    /// The largest relative error over the checked elements (see `autodiff::gradcheck`).
    pub max_rel_error: f32,
    /// The largest accepted relative error.
    pub tolerance: f32,
    /// Where `max_rel_error` was found: parameter name and flat element index.
    pub worst_param: String,
    pub worst_index: usize,
    pub worst_analytic: f32,
    pub worst_numeric: f32,
    /// Elements compared, over all parameters.
    pub checked: usize,
    /// Of those, compared with a one-sided difference because a step crossed a relu kink.
    pub one_sided: usize,
    /// Elements left out because steps on both sides crossed a relu kink.
    pub skipped: usize,
    /// Elements compared with a smaller step, because the standard one crossed a kink.
    pub smaller_step: usize,
    pub batch: usize,
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let session = prepare(args, true)?;
    let report = check(&session, args).map_err(crate::Error::Train)?;
    if args.model.flags.json {
        print_json(&report)?;
    } else if !args.model.flags.quiet {
        writeln!(
            std::io::stdout(),
            "{}: {} — max relative error {:.2e} (tolerance {:.0e}) at `{}`[{}]: analytic {:.6e}, numeric {:.6e}; {} elements checked on {} samples ({} with a smaller step and {} one-sided at a relu kink, {} skipped)",
            report.model,
            if report.ok { "ok" } else { "FAILED" },
            report.max_rel_error,
            report.tolerance,
            report.worst_param,
            report.worst_index,
            report.worst_analytic,
            report.worst_numeric,
            report.checked,
            report.batch,
            report.smaller_step,
            report.one_sided,
            report.skipped,
        )?;
    }
    if !report.ok {
        // Not a `crate::Error`: a failed check is a run-time failure, exit 1.
        anyhow::bail!(
            "gradient check failed: `{}`[{}] has analytic gradient {:e} but central differences give {:e} (relative error {:.2e} > {:.0e})",
            report.worst_param,
            report.worst_index,
            report.worst_analytic,
            report.worst_numeric,
            report.max_rel_error,
            report.tolerance,
        );
    }
    Ok(())
}

/// Initialises (or loads) the weights with the run's seed, records the model for a small
/// batch of training samples drawn with that seed, and compares gradients.
fn check(session: &Session, args: &RunArgs) -> Result<GradcheckReport, TrainError> {
    let Session {
        graph,
        config,
        data,
        ..
    } = session;
    let mut rng = Generator::seed_from_u64(config.settings.seed);
    let mut model = Model::init(graph, &mut rng)?;
    if let Some(path) = &args.train.weights {
        weights::load(&mut model.params, path)?;
    }
    let available = config
        .samples
        .map_or(data.train.len(), |n| n.min(data.train.len()));
    let batch = args.train.batch.unwrap_or(BATCH).min(available);
    if batch == 0 {
        return Err(TrainError::NoData {
            what: "the training set is empty: no samples to check gradients on".into(),
        });
    }
    let indices: Vec<u32> = index::sample(&mut rng, available, batch)
        .iter()
        .map(|i| i as u32)
        .collect();
    let mut tape = Tape::new();
    // Training mode, so dropout is part of the checked function; `check_tape` re-seeds
    // the masks before every evaluation.
    tape.set_training(true);
    let mut net = Network::record(graph, &model.params, &model.node_params, tape, batch, true)?;
    let mut targets = data.train.target_buffer(batch);
    data.train
        .write_batch_to(&indices, net.tape.value_mut(net.input)?, &mut targets);
    set_targets(&mut net, &targets, batch)?;
    let loss = net.loss.ok_or(TrainError::NoLoss)?;
    let found = check_tape(&mut net.tape, &mut model.params, loss, ELEMENTS_PER_PARAM);
    Ok(GradcheckReport {
        model: graph.name.clone(),
        ok: found.ok(),
        max_rel_error: found.max_rel_error,
        tolerance: TOLERANCE,
        worst_param: found.worst_param,
        worst_index: found.worst_index,
        worst_analytic: found.worst_analytic,
        worst_numeric: found.worst_numeric,
        checked: found.checked,
        one_sided: found.one_sided,
        skipped: found.skipped,
        smaller_step: found.smaller_step,
        batch,
    })
}
