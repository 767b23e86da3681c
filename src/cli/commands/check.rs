//! `nnc check FILE`: parse and validate a model; nothing but diagnostics on error, a
//! one-line summary on success. Also home of [`load_model`], which every command that
//! reads a model file shares.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use serde::Serialize;

use crate::cli::args::CheckArgs;
use crate::graph::{BuildOptions, Graph, build_graph};
use crate::language::Source;

/// `--json` output of `nnc check`.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub model: Option<String>,
    pub params: Option<usize>,
    /// The problems' messages, in file order, when `ok` is false.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let graph = match load_model(args) {
        Ok((_, graph)) => graph,
        Err(err) => {
            if args.json
                && let Some(crate::Error::Model(diagnostics)) = err.downcast_ref()
            {
                let errors = diagnostics
                    .items
                    .iter()
                    .map(|d| d.message.clone())
                    .collect();
                print_json(&CheckReport {
                    ok: false,
                    model: None,
                    params: None,
                    errors,
                })?;
            }
            return Err(err);
        }
    };
    let report = CheckReport {
        ok: true,
        model: Some(graph.name.clone()),
        params: Some(graph.param_count()),
        errors: Vec::new(),
    };
    if args.json {
        print_json(&report)?;
    } else if !args.quiet {
        writeln!(
            std::io::stdout(),
            "ok: {} ({} parameters)",
            graph.name,
            group_digits(graph.param_count() as u64)
        )?;
    }
    Ok(())
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

fn read_source(args: &CheckArgs) -> anyhow::Result<Source> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let color = std::io::stderr().is_terminal();
    Source::from_bytes(args.file.display().to_string(), bytes, color)
        .map_err(|diagnostics| crate::Error::Model(diagnostics).into())
}

/// `--set` flags as overrides, colour when stderr is a terminal.
pub fn build_options(args: &CheckArgs) -> Result<BuildOptions, crate::Error> {
    Ok(BuildOptions {
        overrides: parse_overrides(&args.set)?,
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

pub(crate) fn print_json(report: &impl Serialize) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, report)?;
    writeln!(stdout)?;
    Ok(())
}

/// `203530` → `203,530`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(203_530), "203,530");
        assert_eq!(group_digits(1_234_567), "1,234,567");
    }

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
