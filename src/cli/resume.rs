//! `nnc run --checkpoint DIR` and `nnc run --resume DIR`: what a checkpoint keeps of the
//! command line to recognise its run, and the run a resume continues: the checkpoint's
//! model source, overrides and outputs, refused when what the user typed or the data
//! found now would train something else.

use std::path::{Path, PathBuf};

use crate::cli::args::{CheckArgs, ModelFlags, RunArgs, RunCommandArgs, TrainFlags};
use crate::training::checkpoint::{self, CheckpointError, Saved};

/// The command line of a checkpointed run, saved in its checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// The model file as given, and the folder it was given from.
    pub file: PathBuf,
    pub working_dir: PathBuf,
    /// The `.nn` text as run: a resume runs it, whatever the file holds now.
    pub source: String,
    pub set: Vec<String>,
    pub epochs: Option<usize>,
    pub batch: Option<usize>,
    pub seed: Option<u64>,
    pub samples: Option<usize>,
    pub data: Option<PathBuf>,
    /// [`crate::data::Dataset::fingerprint`] of the data trained on.
    pub data_fingerprint: String,
    pub save: Option<PathBuf>,
    pub record: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    pub checkpoint_every: Option<u64>,
}

/// The run a command starts or continues, and where its checkpoints go.
pub struct Plan {
    pub args: RunArgs,
    pub plot: Option<PathBuf>,
    pub record: Option<PathBuf>,
    /// The model text to run when it comes from a checkpoint.
    pub source: Option<String>,
    pub checkpoints: Option<Checkpointing>,
}

/// Where checkpoints go and what they keep of the command line.
pub struct Checkpointing {
    pub dir: PathBuf,
    pub every_steps: Option<u64>,
    /// `None` until the data is open (its fingerprint is part of it).
    pub info: Option<RunInfo>,
    /// The checkpoint to continue from.
    pub resume: Option<Saved>,
}

fn usage(message: String) -> anyhow::Error {
    crate::Error::Usage(message).into()
}

/// The plan of `nnc run` as typed: a fresh run (checkpointed or not), or a resume.
pub fn plan(command: &RunCommandArgs) -> anyhow::Result<Plan> {
    if command.checkpoint_every.is_some()
        && command.checkpoint.is_none()
        && command.resume.is_none()
    {
        return Err(usage(
            "`--checkpoint-every` needs `--checkpoint DIR` (or `--resume DIR`) to write into"
                .into(),
        ));
    }
    let plan = match &command.resume {
        Some(dir) => resumed(command, dir)?,
        None => fresh(command)?,
    };
    if let Some(checkpoints) = &plan.checkpoints {
        checkpoint::clear_leftovers(&checkpoints.dir);
    }
    Ok(plan)
}

fn fresh(command: &RunCommandArgs) -> anyhow::Result<Plan> {
    let file = command
        .file
        .clone()
        .ok_or_else(|| usage("`nnc run` needs a model file (or `--resume DIR`)".into()))?;
    let checkpoints = match &command.checkpoint {
        None => None,
        Some(dir) => {
            if let Ok(saved) = Saved::read(dir) {
                return Err(usage(format!(
                    "{} already holds a checkpoint ({}); continue that run with `nnc run --resume {}`, or checkpoint into another folder",
                    dir.display(),
                    position(&saved),
                    dir.display()
                )));
            }
            crate::atomic_file::create_folder(dir).map_err(|source| {
                crate::Error::Train(
                    CheckpointError::Write {
                        path: dir.join(checkpoint::FILE_NAME),
                        source,
                    }
                    .into(),
                )
            })?;
            Some(Checkpointing {
                dir: dir.clone(),
                every_steps: command.checkpoint_every,
                info: None,
                resume: None,
            })
        }
    };
    Ok(Plan {
        args: RunArgs {
            model: CheckArgs {
                file,
                flags: command.flags.clone(),
            },
            train: command.train.clone(),
        },
        plot: command.plot.clone(),
        record: command.record.clone(),
        source: None,
        checkpoints,
    })
}

/// Where a checkpoint is, in words.
fn position(saved: &Saved) -> String {
    match saved.step() {
        0 => format!("after epoch {}", saved.epochs_done()),
        step => format!("at step {step} of epoch {}", saved.epochs_done() + 1),
    }
}

fn resumed(command: &RunCommandArgs, dir: &Path) -> anyhow::Result<Plan> {
    let saved = Saved::read(dir).map_err(|e| match e {
        CheckpointError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            usage(format!(
                "{} holds no checkpoint to resume (`nnc run FILE --checkpoint {}` keeps one)",
                dir.display(),
                dir.display()
            ))
        }
        e => crate::Error::Train(e.into()).into(),
    })?;
    let info: RunInfo = saved.run().map_err(|e| crate::Error::Train(e.into()))?;
    let mut differences = Vec::new();
    if let Some(file) = &command.file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        if let Some(line) = first_difference(&text, &info.source) {
            differences.push(format!(
                "the model: {} differs from the source the run started with ({}), first at line {line}",
                file.display(),
                info.file.display()
            ));
        }
    }
    if !command.flags.set.is_empty() && command.flags.set != info.set {
        differences.push(format!(
            "the overrides: `{}` now, `{}` when the run started",
            command.flags.set.join(" "),
            info.set.join(" ")
        ));
    }
    let t = &command.train;
    let mut compare = |flag: &str, now: Option<String>, then: Option<String>| {
        if let Some(now) = now
            && Some(&now) != then.as_ref()
        {
            let then = then.map_or_else(|| "not given".to_owned(), |v| format!("`{v}`"));
            differences.push(format!(
                "`--{flag}`: `{now}` now, {then} when the run started"
            ));
        }
    };
    let shown = |v: Option<usize>| v.map(|v| v.to_string());
    compare("epochs", shown(t.epochs), shown(info.epochs));
    compare("batch", shown(t.batch), shown(info.batch));
    compare(
        "seed",
        t.seed.map(|v| v.to_string()),
        info.seed.map(|v| v.to_string()),
    );
    compare("samples", shown(t.samples), shown(info.samples));
    if t.weights.is_some() {
        differences.push("`--weights`: a resumed run goes on from the checkpoint's weights".into());
    }
    if !differences.is_empty() {
        return Err(usage(format!(
            "cannot resume the run in {}: it would not be the same run\n  {}",
            dir.display(),
            differences.join("\n  ")
        )));
    }
    let at = |path: &Path| anchored(path, &info.working_dir);
    let args = RunArgs {
        model: CheckArgs {
            file: at(&info.file),
            flags: ModelFlags {
                set: info.set.clone(),
                json: command.flags.json,
                quiet: command.flags.quiet,
            },
        },
        train: TrainFlags {
            data: t.data.clone().or_else(|| info.data.as_deref().map(at)),
            epochs: info.epochs,
            batch: info.batch,
            seed: info.seed,
            samples: info.samples,
            save: t.save.clone().or_else(|| info.save.as_deref().map(at)),
            weights: None,
            threads: t.threads,
            download: t.download,
        },
    };
    Ok(Plan {
        args,
        plot: command
            .plot
            .clone()
            .or_else(|| info.plot.as_deref().map(at)),
        record: command
            .record
            .clone()
            .or_else(|| info.record.as_deref().map(at)),
        source: Some(info.source.clone()),
        checkpoints: Some(Checkpointing {
            dir: command.checkpoint.clone().unwrap_or_else(|| dir.to_owned()),
            every_steps: command.checkpoint_every.or(info.checkpoint_every),
            info: Some(info),
            resume: Some(saved),
        }),
    })
}

/// A path given relative to the folder a run started in, as seen from here.
fn anchored(path: &Path, working_dir: &Path) -> PathBuf {
    let here = std::env::current_dir().unwrap_or_default();
    if path.is_relative() && here != working_dir {
        working_dir.join(path)
    } else {
        path.to_owned()
    }
}

/// The first line (from 1) where two texts differ, if they do.
fn first_difference(a: &str, b: &str) -> Option<usize> {
    if a == b {
        return None;
    }
    let same = a.lines().zip(b.lines()).take_while(|(x, y)| x == y).count();
    Some(same + 1)
}

impl RunInfo {
    /// What a checkpoint of the run `args` starts keeps (its data's fingerprint given).
    pub fn new(
        args: &RunArgs,
        source: &str,
        plot: &Option<PathBuf>,
        record: &Option<PathBuf>,
        every_steps: Option<u64>,
        data_fingerprint: String,
    ) -> RunInfo {
        let t = &args.train;
        RunInfo {
            file: args.model.file.clone(),
            working_dir: std::env::current_dir().unwrap_or_default(),
            source: source.to_owned(),
            set: args.model.flags.set.clone(),
            epochs: t.epochs,
            batch: t.batch,
            seed: t.seed,
            samples: t.samples,
            data: t.data.clone(),
            data_fingerprint,
            save: t.save.clone(),
            record: record.clone(),
            plot: plot.clone(),
            checkpoint_every: every_steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_differing_line_is_named() {
        assert_eq!(first_difference("a\nb\nc", "a\nb\nc"), None);
        assert_eq!(first_difference("a\nb\nc", "a\nx\nc"), Some(2));
        assert_eq!(first_difference("a\nb", "a\nb\nc"), Some(3));
    }
}
