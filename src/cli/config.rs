//! From flags and a model file to everything a training command needs: the graph, the
//! `train` block with command-line overrides applied, and the dataset, checked against
//! the model.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;

use crate::cli::args::{CheckArgs, RunArgs};
use crate::data::{Builtin, DataError, Dataset, FileOptions, Search};
use crate::graph::{BuildOptions, Graph, build_graph, validate};
use crate::language::{Source, render_at};
use crate::training::{TrainConfig, TrainError};

/// A model ready to train or evaluate.
pub struct Session {
    pub source: Source,
    pub graph: Graph,
    pub config: TrainConfig,
    pub data: Dataset,
}

/// Reads the model, applies `--epochs/--batch/--seed/--samples`, finds the data and
/// checks the model's input and output against it.
pub fn prepare(args: &RunArgs, needs_loss: bool) -> anyhow::Result<Session> {
    prepare_source(read_source(&args.model)?, args, needs_loss)
}

/// [`prepare`] of a model's text already read (a checkpoint's): `args.model.file` only
/// names it and anchors the data files it names.
pub fn prepare_source(source: Source, args: &RunArgs, needs_loss: bool) -> anyhow::Result<Session> {
    let mut graph =
        build_graph(&source, &build_options(&args.model)?).map_err(crate::Error::Model)?;
    let color = std::io::stderr().is_terminal();
    if needs_loss && graph.loss.is_none() {
        return Err(crate::Error::Model(validate::missing_loss(&source, &graph, color)).into());
    }
    let settings = &mut graph.train;
    if let Some(epochs) = args.train.epochs {
        settings.epochs = epochs;
    }
    if let Some(batch) = args.train.batch {
        if batch == 0 {
            return Err(crate::Error::Usage(
                "`--batch 0`: a batch needs at least one sample".into(),
            )
            .into());
        }
        settings.batch = batch;
    }
    if let Some(seed) = args.train.seed {
        settings.seed = seed;
    }
    if args.train.samples == Some(0) {
        return Err(
            crate::Error::Usage("`--samples 0`: train on at least one sample".into()).into(),
        );
    }
    let data = open_data(&graph, args)?;
    validate::check_dataset(&source, &graph, &data.description(), color)
        .map_err(crate::Error::Model)?;
    let config = TrainConfig::new(graph.train.clone(), args.train.samples);
    Ok(Session {
        source,
        graph,
        config,
        data,
    })
}

/// Opens the model's dataset; when a built-in one is found nowhere, downloads it if
/// `--download` says so, or if the user agrees at a terminal. Not when `--data` names a
/// folder: a download goes into the cache, which that folder overrides.
fn open_data(graph: &Graph, args: &RunArgs) -> anyhow::Result<Dataset> {
    let source = &graph.train.data;
    let search = Search::from_env(args.train.data.as_deref());
    // A file the model names (`csv(...)`, `npz(...)`) is relative to the model file's
    // folder, or to `--data DIR` when given.
    let files = FileOptions {
        base: args.train.data.clone().unwrap_or_else(|| {
            args.model
                .file
                .parent()
                .map(Path::to_owned)
                .unwrap_or_default()
        }),
        seed: graph.train.seed,
    };
    match crate::data::open_with(source, &search, &files) {
        Err(DataError::NotFound(places)) => {
            let Some(builtin) = Builtin::from_source(source).filter(|_| args.train.data.is_none())
            else {
                return Err(crate::Error::Data(DataError::NotFound(places)).into());
            };
            let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
            if !(args.train.download || interactive && ask_to_download(builtin.name())?) {
                return Err(crate::Error::Data(DataError::NotFound(places)).into());
            }
            crate::data::fetch(builtin.name(), std::io::stderr().is_terminal())
                .map_err(crate::Error::Data)?;
            Ok(
                crate::data::open(source, args.train.data.as_deref())
                    .map_err(crate::Error::Data)?,
            )
        }
        other => Ok(other.map_err(crate::Error::Data)?),
    }
}

fn ask_to_download(name: &str) -> anyhow::Result<bool> {
    eprint!("{name} was not found on this machine. Download it into the cache now? [Y/n] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "" | "y" | "Y" | "yes"))
}

/// Turns a training error into the CLI's error: a divergence that names a node is shown
/// as a diagnostic at that node's place in the file.
pub fn located(err: TrainError, source: &Source) -> crate::Error {
    match &err {
        TrainError::Diverged {
            blame: Some(blame),
            lr,
            ..
        } => {
            let help =
                format!("try a smaller learning rate (lr = {lr} now), e.g. `--set` a smaller `lr`");
            crate::Error::Located(render_at(
                source,
                blame.span,
                &err.to_string(),
                &blame.label(),
                Some(&help),
            ))
        }
        _ => crate::Error::Train(err),
    }
}

/// Reads and builds the model named on the command line, with its `--set` overrides.
/// Model problems (a file that is not UTF-8 included) come back as `crate::Error::Model`
/// (exit 2), an unreadable file as a plain error (exit 1).
pub fn load_model(args: &CheckArgs) -> anyhow::Result<(Source, Graph)> {
    let source = read_source(args)?;
    let options = build_options(args)?;
    let graph = build_graph(&source, &options).map_err(crate::Error::Model)?;
    Ok((source, graph))
}

pub fn read_source(args: &CheckArgs) -> anyhow::Result<Source> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let color = std::io::stderr().is_terminal();
    Source::from_bytes(args.file.display().to_string(), bytes, color)
        .map_err(|diagnostics| crate::Error::Model(diagnostics).into())
}

/// `--set` flags as overrides, colour when stderr is a terminal.
pub fn build_options(args: &CheckArgs) -> Result<BuildOptions, crate::Error> {
    Ok(BuildOptions {
        overrides: parse_overrides(&args.flags.set)?,
        color: std::io::stderr().is_terminal(),
    })
}

/// `NAME=VALUE` pairs; anything else is a usage error.
pub fn parse_overrides(sets: &[String]) -> Result<Vec<(String, String)>, crate::Error> {
    sets.iter()
        .map(|set| match set.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_owned(), value.trim().to_owned()))
            }
            _ => Err(crate::Error::Usage(format!(
                "`--set {set}` is not of the form NAME=VALUE"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_need_a_name_and_an_equals_sign() {
        assert_eq!(
            parse_overrides(&["a=1".into()]).unwrap(),
            [("a".to_owned(), "1".to_owned())]
        );
        assert!(parse_overrides(&["a".into()]).is_err());
        assert!(parse_overrides(&["=1".into()]).is_err());
    }
}
