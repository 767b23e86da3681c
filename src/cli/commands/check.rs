//! `nnc check FILE`: parse and validate a model, and check it against its dataset when
//! that needs no file read (a built-in one, whose shape is known, even when the file
//! names none); nothing but diagnostics on error, a one-line summary on success.

use std::io::Write;

use serde::Serialize;

use crate::cli::args::CheckArgs;
use crate::cli::config::load_model;
use crate::graph::validate;

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
    let checked = load_model(args).and_then(|(source, graph)| {
        // What `nnc run` checks before it reads any data.
        if let Some(dataset) = crate::data::describe(&graph.train.data) {
            let color = std::io::IsTerminal::is_terminal(&std::io::stderr());
            validate::check_dataset(&source, &graph, &dataset, color)
                .map_err(crate::Error::Model)?;
        }
        Ok(graph)
    });
    let graph = match checked {
        Ok(graph) => graph,
        Err(err) => {
            if args.flags.json
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
    if args.flags.json {
        print_json(&report)?;
    } else if !args.flags.quiet {
        writeln!(
            std::io::stdout(),
            "ok: {} ({} parameters)",
            graph.name,
            group_digits(graph.param_count() as u64)
        )?;
    }
    Ok(())
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
}
