//! `nnc run FILE`: train as the `train` block says, evaluate on the test set after every
//! epoch, print a summary (or `--json`), save the weights with `--save`, keep a run record
//! (beside the weights, or in `--record DIR`) and draw the learning curves with `--plot`.

use std::io::{IsTerminal, Write};

use crate::rng::Generator;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;

use crate::cli::args::{RunArgs, RunCommandArgs};
use crate::cli::commands::check::{group_digits, print_json};
use crate::cli::config::{Session, located, parse_overrides, prepare, prepare_source};
use crate::cli::outcome::RunReport;
use crate::cli::plot::PlotTarget;
use crate::cli::plot::curves::Curves;
use crate::cli::record::{self, RecordContext, RunRecord};
use crate::cli::resume::{self, Checkpointing, RunInfo};
use crate::data::Builtin;
use crate::language::Source;
use crate::training::checkpoint;
use crate::training::{
    Checkpoints, EpochReport, Model, Progress, RunState, TrainReport, train_from, training_rows,
    weights,
};

pub fn run(command: &RunCommandArgs) -> anyhow::Result<()> {
    let mut plan = resume::plan(command)?;
    let args = &plan.args;
    let plot = plan.plot.as_deref().map(PlotTarget::parse).transpose()?;
    let session = match &plan.source {
        Some(text) => prepare_source(
            Source {
                path: args.model.file.display().to_string(),
                text: text.clone(),
            },
            args,
            true,
        )?,
        None => prepare(args, true)?,
    };
    if let Some(path) = &args.train.save {
        // Find an unwritable destination now, not after the whole training run.
        crate::atomic_file::check_writable(path).map_err(|source| {
            crate::Error::Train(
                weights::WeightsError::Write {
                    path: path.clone(),
                    source,
                }
                .into(),
            )
        })?;
    }
    if let Some(dir) = &plan.record {
        record::check_folder(dir)?;
    }
    if let Some(target) = &plot {
        target.check()?;
    }
    if let Some(checkpoints) = &mut plan.checkpoints {
        let fingerprint = session.data.fingerprint();
        match &checkpoints.info {
            Some(info) if info.data_fingerprint != fingerprint => {
                return Err(crate::Error::Usage(format!(
                    "cannot resume the run in {}: it would not be the same run\n  the data: {} holds other samples than the run was trained on (SHA-256 {} now, {} then)",
                    checkpoints.dir.display(),
                    session.data.name,
                    &fingerprint[..16],
                    &info.data_fingerprint[..16.min(info.data_fingerprint.len())],
                ))
                .into());
            }
            Some(_) => {}
            None => {
                checkpoints.info = Some(RunInfo::new(
                    args,
                    &session.source.text,
                    &plan.plot,
                    &plan.record,
                    checkpoints.every_steps,
                    fingerprint,
                ));
            }
        }
    }
    let (report, model) = train_session(&session, args, plan.checkpoints.as_ref())?;
    if let Some(path) = &args.train.save {
        weights::save_with(&model.params, path, Some(&trained_on(&session)))
            .map_err(|e| crate::Error::Train(e.into()))?;
    }
    let record_path = match (&plan.record, &args.train.save) {
        (Some(dir), _) => Some(record::in_folder(dir, &report.model, report.seed)),
        (None, Some(weights)) => Some(record::beside_weights(weights)),
        (None, None) => None,
    };
    let run_record = run_record(&report, &session, args)?;
    if let Some(path) = &record_path {
        run_record.write(path)?;
    }
    if let Some(target) = &plot {
        target.save(&learning_curves(&run_record))?;
    }
    if args.model.flags.json {
        print_json(&report)?;
    } else if !args.model.flags.quiet {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}: {} after {} epoch{} ({:.1} s training, {} samples/s)",
            report.model,
            scores_text(
                report.test_accuracy,
                report.test_loss,
                report.test_mse,
                report.test_r2
            ),
            report.history.len(),
            if report.history.len() == 1 { "" } else { "s" },
            report.train_seconds,
            group_digits(report.samples_per_second.round() as u64),
        )?;
        if report.stopped_early {
            writeln!(
                out,
                "stopped early; kept the weights of epoch {}",
                report.best_epoch
            )?;
        }
        if let Some(path) = &args.train.save {
            writeln!(out, "weights saved to {}", path.display())?;
        }
        if let Some(path) = &record_path {
            writeln!(out, "run record saved to {}", path.display())?;
        }
        if let Some(target) = &plot {
            writeln!(out, "learning curves drawn in {}", target.path.display())?;
        }
    }
    Ok(())
}

/// What a session's data tells a user of its weights: class names (the data's own, or a
/// built-in dataset's), a table's columns, the sample shape.
pub fn trained_on(session: &Session) -> weights::TrainedOn {
    let data = &session.data;
    let classes = match (
        &data.class_names,
        Builtin::from_source(&session.graph.train.data),
    ) {
        (names, _) if !names.is_empty() => names.clone(),
        (_, Some(builtin)) => builtin.class_names(),
        _ => Vec::new(),
    };
    let shape = data.train.sample_shape();
    weights::TrainedOn {
        dataset: data.name.clone(),
        classes,
        features: data.feature_names.clone(),
        sample_shape: Some([shape.channels, shape.rows, shape.cols]),
    }
}

/// The run record of `report`, trained from `session` with `args` (a sweep's cell's own).
pub fn run_record(
    report: &RunReport,
    session: &Session,
    args: &RunArgs,
) -> Result<RunRecord, crate::Error> {
    Ok(RunRecord::new(
        report,
        RecordContext {
            file: &args.model.file,
            source: &session.source.text,
            overrides: parse_overrides(&args.model.flags.set)?,
            optimizer: &session.config.settings.optimizer,
            loss: session.graph.loss,
            threads: args.train.threads,
        },
    ))
}

/// The picture of one run: its name and settings in the heading, its curves below.
pub fn learning_curves(run: &RunRecord) -> Curves {
    Curves::of_run(
        format!("{}: learning curves", run.model),
        record::settings_text(
            &run.optimizer,
            run.batch,
            run.epochs,
            run.seed,
            &run.overrides_text(),
        ),
        &run.loss,
        &run.history,
    )
}

/// Initialises (or loads) the weights, or takes them and the rest of the run's state from
/// a checkpoint, and trains, showing progress on stderr and keeping checkpoints as
/// `checkpoints` says.
pub fn train_session(
    session: &Session,
    args: &RunArgs,
    checkpoints: Option<&Checkpointing>,
) -> anyhow::Result<(RunReport, Model)> {
    let Session {
        source,
        graph,
        config,
        data,
    } = session;
    let mut rng = Generator::seed_from_u64(config.settings.seed);
    let mut model = Model::init(graph, &mut rng).map_err(crate::Error::Train)?;
    // A table's features are standardised with the statistics of the rows trained on;
    // weights loaded below bring their own, which then win.
    let (trained, _) = training_rows(config, data.train.len());
    model.standardize_with(graph, &data.train.range(0..trained));
    if let Some(path) = &args.train.weights {
        weights::load(&mut model.params, path).map_err(|e| crate::Error::Train(e.into()))?;
    }
    let mut state = match checkpoints.and_then(|c| c.resume.as_ref()) {
        Some(saved) => saved
            .restore(&mut model, config, data.train.len())
            .map_err(|e| crate::Error::Train(e.into()))?,
        None => RunState::start(graph, &model, config, data.train.len(), rng)
            .map_err(crate::Error::Train)?,
    };
    let show = !args.model.flags.quiet;
    let terminal = show && std::io::stderr().is_terminal();
    // The bar fills the terminal's width; the counts, running loss and speed follow it.
    let style = ProgressStyle::with_template(
        "epoch {prefix} [{wide_bar}] {pos}/{len} steps{msg}, eta {eta}",
    )
    .expect("a valid progress template")
    .progress_chars("=> ");
    let mut bar: Option<ProgressBar> = None;
    let mut on_progress = |event: Progress<'_>| match event {
        Progress::EpochStarted {
            epoch,
            epochs,
            steps,
        } => {
            if terminal {
                bar = Some(
                    ProgressBar::new(steps as u64)
                        .with_style(style.clone())
                        .with_prefix(format!("{epoch}/{epochs}")),
                );
            }
        }
        Progress::Steps {
            done,
            train_loss,
            samples_per_second,
        } => {
            if let Some(bar) = &bar {
                bar.set_message(format!(
                    ", loss {train_loss:.4}, {} samples/s",
                    group_digits(samples_per_second as u64)
                ));
                bar.set_position(done as u64);
            }
        }
        Progress::EpochFinished(report) => {
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
            if show {
                eprintln!("{}", epoch_line(report));
            }
        }
    };
    let mut keep = |model: &Model, state: &RunState| {
        let Some(Checkpointing {
            dir,
            info: Some(info),
            ..
        }) = checkpoints
        else {
            return Ok(());
        };
        let bytes = checkpoint::encode(info, model, state).map_err(|e| {
            checkpoint::CheckpointError::Write {
                path: dir.join(checkpoint::FILE_NAME),
                source: std::io::Error::other(e),
            }
        })?;
        Ok(checkpoint::save(dir, &bytes)?)
    };
    let hooks = checkpoints.map(|c| Checkpoints {
        every_steps: c
            .every_steps
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        keep: &mut keep,
    });
    let outcome = train_from(
        graph,
        &mut model,
        data,
        config,
        &mut state,
        &mut on_progress,
        hooks,
    );
    if let Some(bar) = bar.take() {
        bar.finish_and_clear();
    }
    let report: TrainReport = outcome.map_err(|e| located(e, source))?;
    let trained = config
        .samples
        .map_or(data.train.len(), |n| n.min(data.train.len()));
    Ok((
        RunReport {
            model: graph.name.clone(),
            params: graph.param_count(),
            epochs: config.settings.epochs,
            batch: config.settings.batch,
            seed: config.settings.seed,
            samples: trained,
            test_accuracy: report.test.accuracy,
            test_loss: report.test.loss,
            test_mse: report.test.mse,
            test_r2: report.test.r2,
            train_seconds: report.train_seconds,
            samples_per_second: report.samples_per_second,
            infer_samples_per_second: report.infer_samples_per_second,
            best_epoch: report.best_epoch,
            stopped_early: report.stopped_early,
            history: report.history,
        },
        model,
    ))
}

/// A run's test scores in words: `test accuracy 97.50 %, test loss 0.0812` for a
/// classifier, `test R² 0.4812, test mse 2901.3` for a regression (whose loss is its mse).
pub fn scores_text(accuracy: Option<f32>, loss: f32, mse: Option<f32>, r2: Option<f32>) -> String {
    match (accuracy, mse) {
        (Some(accuracy), _) => format!(
            "test accuracy {:.2} %, test loss {loss:.4}",
            accuracy * 100.0
        ),
        (None, Some(mse)) => format!("test R² {}, test mse {}", r2_text(r2), mse_text(mse)),
        (None, None) => format!("test loss {loss:.4}"),
    }
}

/// R² as the tables write it: four decimals, or `–` when undefined (a constant target).
pub fn r2_text(r2: Option<f32>) -> String {
    r2.map_or_else(|| "–".to_owned(), |r2| format!("{r2:.4}"))
}

/// A mean squared error with five significant digits, whatever the target's scale.
pub fn mse_text(mse: f32) -> String {
    let digits = if mse == 0.0 || !mse.is_finite() {
        4
    } else {
        (4 - mse.abs().log10().floor() as i32).clamp(0, 8) as usize
    };
    format!("{mse:.digits$}")
}

/// One plain progress line per epoch.
pub fn epoch_line(r: &EpochReport) -> String {
    let validation = match (r.validation_loss, r.validation_accuracy, r.validation_r2) {
        (Some(loss), Some(acc), _) => {
            format!("  validation loss {loss:.4} accuracy {:.2} %", acc * 100.0)
        }
        (Some(loss), None, r2) => format!("  validation loss {loss:.4} R² {}", r2_text(r2)),
        _ => String::new(),
    };
    let test = match (r.test_accuracy, r.test_mse) {
        (Some(acc), _) => format!(
            "test accuracy {:.2} %  test loss {:.4}",
            acc * 100.0,
            r.test_loss
        ),
        (None, Some(mse)) => format!("test R² {}  test mse {}", r2_text(r.test_r2), mse_text(mse)),
        (None, None) => format!("test loss {:.4}", r.test_loss),
    };
    format!(
        "epoch {:>3}  train loss {:.4}  {test}{validation}  {:.1} s",
        r.epoch, r.train_loss, r.seconds
    )
}
