//! `nnc sweep FILE --set NAME=V1,V2,... [--set ...]`: one full `nnc run` per cell of the
//! grid of every combination, then a markdown table of test accuracy (R² and mean squared
//! error for a regression) and training seconds (and, when exactly two names vary, the
//! same numbers pivoted: rows the first name's values, columns the second's). Training is
//! `run::train_session`'s; this module owns the grid, its shards and the tables; `--plot`
//! draws them as a heat map (`plot/heatmap.rs`).
//!
//! Across machines: `--shard K/N` runs cells K, K+N, K+2N, ... (1-based, in the order the
//! grid lists them) and `--record DIR` writes each cell's run record into DIR, named by
//! the sweep and the cell, with what `nnc report DIR` needs to print the whole sweep's
//! table from the records of every shard (see `report.rs`).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::args::{RunArgs, SweepArgs};
use crate::cli::commands::check::print_json;
use crate::cli::commands::run::{mse_text, r2_text, run_record, scores_text, train_session};
use crate::cli::config::{parse_overrides, prepare};
use crate::cli::outcome::{Axis, Cell, RunReport, SweepCell, SweepReport, SweepRun, grid};
use crate::cli::plot::PlotTarget;
use crate::cli::plot::heatmap::HeatMap;
use crate::cli::record;

/// `--shard K/N`: shard `index` (from 1) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// `K/N` with `1 ≤ K ≤ N`.
    pub fn parse(text: &str) -> Result<Shard, crate::Error> {
        let usage = || {
            crate::Error::Usage(format!(
                "`--shard {text}` is not K/N with 1 ≤ K ≤ N, e.g. `--shard 2/4` (the second of four shards)"
            ))
        };
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: usize = index.trim().parse().map_err(|_| usage())?;
        let count: usize = count.trim().parse().map_err(|_| usage())?;
        if index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }

    /// Whether cell `cell` (from 0, in grid order) is this shard's: cells K, K+N, ... in
    /// the 1-based numbering.
    pub fn runs(self, cell: usize) -> bool {
        cell % self.count == self.index - 1
    }
}

pub fn run(command: &SweepArgs) -> anyhow::Result<()> {
    let args = &command.run;
    let plot = command.plot.as_deref().map(PlotTarget::parse).transpose()?;
    if args.train.save.is_some() {
        return Err(crate::Error::Usage(
            "`nnc sweep` trains many models and saves none: run the cell you want with `nnc run --set ... --save PATH`"
                .into(),
        )
        .into());
    }
    let axes = parse_axes(&args.model.flags.set)?;
    let shard = command
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()?
        .unwrap_or(Shard::ALL);
    if let Some(dir) = &command.record {
        record::check_folder(dir)?;
    }
    let all_cells = grid(&axes);
    let total = all_cells.len();
    let (numbers, cells): (Vec<usize>, Vec<Cell>) = all_cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shard.runs(*i))
        .unzip();
    if cells.is_empty() && !args.model.flags.quiet {
        eprintln!(
            "shard {}/{} has no cells: the grid has {total}",
            shard.index, shard.count
        );
    }
    // Build every cell's model (and check it against the data) before training any, so a
    // bad value in the last cell is reported at once, not after hours of training.
    let mut sessions = Vec::with_capacity(cells.len());
    for cell in &cells {
        let cell_args = args_for(args, cell);
        match prepare(&cell_args, true) {
            Ok(session) => sessions.push(session),
            Err(err) => {
                if cells.len() > 1 {
                    eprintln!("in the sweep cell {}:", describe(cell));
                }
                return Err(err);
            }
        }
    }
    if let Some(target) = &plot {
        target.check()?;
    }
    // Every cell reads the same file: its text, the axes and the flags name the sweep.
    let id = sessions
        .first()
        .map(|s| sweep_id(&s.source.text, args, &axes))
        .unwrap_or_default();
    let show = !args.model.flags.quiet;
    let mut runs = Vec::with_capacity(cells.len());
    for (i, (cell, session)) in cells.into_iter().zip(&sessions).enumerate() {
        if show {
            eprintln!("[{}/{}] {}", i + 1, sessions.len(), describe(&cell));
        }
        let number = numbers[i];
        let cell_args = args_for(args, &cell);
        let (report, _model) = train_session(session, &cell_args, None).inspect_err(|_| {
            if show {
                eprintln!("in the sweep cell {}:", describe(&cell));
            }
        })?;
        if let Some(dir) = &command.record {
            let mut run_record = run_record(&report, session, &cell_args)?;
            run_record.sweep = Some(SweepCell {
                id: id.clone(),
                axes: axes.clone(),
                cell: number,
                cells: total,
            });
            run_record.write(&cell_record(dir, &report.model, &id, number, total))?;
        }
        if show {
            eprintln!(
                "[{}/{}] {}: {}, {:.1} s training",
                i + 1,
                sessions.len(),
                describe(&cell),
                scores_text(
                    report.test_accuracy,
                    report.test_loss,
                    report.test_mse,
                    report.test_r2
                ),
                report.train_seconds
            );
        }
        runs.push(SweepRun { set: cell, report });
    }
    let report = SweepReport { runs };
    if let (Some(target), Some(first)) = (&plot, sessions.first()) {
        let settings = &first.config.settings;
        // What every cell shares: the settings and the names given a single value.
        let fixed: Vec<String> = axes
            .iter()
            .filter(|a| a.values.len() == 1)
            .map(|a| format!("{}={}", a.name, a.values[0]))
            .collect();
        let optimizer = record::optimizer_text(&settings.optimizer);
        // A swept `lr` changes the optimizer from cell to cell: the grid shows it.
        let same = sessions
            .iter()
            .all(|s| record::optimizer_text(&s.config.settings.optimizer) == optimizer);
        let subtitle = record::settings_text(
            if same {
                &optimizer
            } else {
                "optimizer settings vary by cell"
            },
            settings.batch,
            settings.epochs,
            settings.seed,
            &fixed.join(" "),
        );
        let title = format!("{}: sweep of {} runs", first.graph.name, report.runs.len());
        target.save(&HeatMap::of_sweep(title, subtitle, &axes, &report.runs))?;
        if show {
            eprintln!("heat map drawn in {}", target.path.display());
        }
    }
    if args.model.flags.json {
        print_json(&report)?;
    } else {
        std::io::stdout()
            .lock()
            .write_all(tables(&axes, &report).as_bytes())?;
    }
    Ok(())
}

/// The sweep's id: a hash of the model file's text, the axes and the flags that change
/// what a cell trains, so every shard of one sweep computes the same one (and another
/// sweep into the same folder another).
fn sweep_id(text: &str, args: &RunArgs, axes: &[Axis]) -> String {
    use sha2::{Digest, Sha256};
    let flags = serde_json::to_vec(&(
        axes,
        args.train.epochs,
        args.train.batch,
        args.train.seed,
        args.train.samples,
        args.train.data.as_ref().map(|d| d.display().to_string()),
    ))
    .expect("the flags serialise");
    let mut hash = Sha256::new();
    hash.update(text.as_bytes());
    hash.update([0]);
    hash.update(&flags);
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A cell's record in `dir`: `{model}-{id}-cell-{k}-of-{n}.run.json`, the same name
/// whichever shard runs it (a rerun replaces it), and different for every cell.
pub fn cell_record(dir: &Path, model: &str, id: &str, cell: usize, cells: usize) -> PathBuf {
    let width = cells.to_string().len();
    dir.join(format!(
        "{model}-{id}-cell-{:0width$}-of-{cells}.{}",
        cell + 1,
        record::EXTENSION
    ))
}

/// `--set NAME=V1,V2,...` flags as axes. A name given twice is a usage error: the grid
/// would be ambiguous.
pub fn parse_axes(sets: &[String]) -> Result<Vec<Axis>, crate::Error> {
    let mut axes: Vec<Axis> = Vec::new();
    for (name, values) in parse_overrides(sets)? {
        if axes.iter().any(|a| a.name == name) {
            return Err(crate::Error::Usage(format!(
                "`--set {name}=...` is given twice: list all of its values in one flag, `--set {name}=V1,V2,...`"
            )));
        }
        let values = split_values(&values);
        if values.iter().any(String::is_empty) {
            return Err(crate::Error::Usage(format!(
                "`--set {name}={}` has an empty value",
                values.join(",")
            )));
        }
        axes.push(Axis { name, values });
    }
    Ok(axes)
}

/// Splits `V1,V2,...` at commas outside double quotes (a string value may hold a comma).
fn split_values(text: &str) -> Vec<String> {
    let mut values = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                values.last_mut().expect("starts non-empty").push(c);
            }
            ',' if !quoted => values.push(String::new()),
            _ => values.last_mut().expect("starts non-empty").push(c),
        }
    }
    values.into_iter().map(|v| v.trim().to_owned()).collect()
}

/// The flags of one cell's run: the sweep's, with the cell's single values as `--set`.
fn args_for(args: &RunArgs, cell: &Cell) -> RunArgs {
    let mut cell_args = args.clone();
    cell_args.model.flags.set = cell.iter().map(|(n, v)| format!("{n}={v}")).collect();
    cell_args
}

/// `hidden=32 act=relu`.
fn describe(cell: &Cell) -> String {
    if cell.is_empty() {
        return "(the file as it is)".into();
    }
    cell.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A column of the tables: its title and how it writes one run's number (`None` when
/// the run has none, a classifier's R², say).
struct Column {
    title: &'static str,
    text: fn(&RunReport) -> Option<String>,
}

/// The columns of a sweep's runs: test accuracy for classifiers, R² and the mean squared
/// error for regressions (both, should a sweep hold both), then training seconds.
fn columns(report: &SweepReport) -> Vec<Column> {
    let regression = |r: &SweepRun| r.report.test_mse.is_some();
    let mut columns = Vec::new();
    if report.runs.is_empty() || !report.runs.iter().all(regression) {
        columns.push(Column {
            title: "test accuracy (%)",
            text: |r| r.test_accuracy.map(|a| format!("{:.2}", a * 100.0)),
        });
    }
    if report.runs.iter().any(regression) {
        columns.push(Column {
            title: "test R²",
            text: |r| r.test_mse.map(|_| r2_text(r.test_r2)),
        });
        columns.push(Column {
            title: "test mse",
            text: |r| r.test_mse.map(mse_text),
        });
    }
    columns.push(Column {
        title: "train seconds",
        text: |r| Some(format!("{:.1}", r.train_seconds)),
    });
    columns
}

/// The markdown output: one row per run, then, when exactly two axes have more than one
/// value, each number pivoted with the first of them as rows.
pub fn tables(axes: &[Axis], report: &SweepReport) -> String {
    let mut out = String::new();
    let columns = columns(report);
    let names: Vec<&str> = axes.iter().map(|a| a.name.as_str()).collect();
    let mut header = names.clone();
    header.extend(columns.iter().map(|c| c.title));
    markdown_row(&mut out, &header);
    markdown_rule(&mut out, names.len(), columns.len());
    let missing = || "–".to_owned();
    for run in &report.runs {
        let mut row: Vec<String> = run.set.iter().map(|(_, v)| v.clone()).collect();
        row.extend(
            columns
                .iter()
                .map(|c| (c.text)(&run.report).unwrap_or_else(missing)),
        );
        markdown_row(&mut out, &row);
    }
    let varying: Vec<&Axis> = axes.iter().filter(|a| a.values.len() > 1).collect();
    if let [rows, cols] = varying.as_slice() {
        let lookup = |r: &str, c: &str| {
            report.runs.iter().find(|run| {
                run.set.contains(&(rows.name.clone(), r.to_owned()))
                    && run.set.contains(&(cols.name.clone(), c.to_owned()))
            })
        };
        for column in &columns {
            let _ = writeln!(out, "\n{}:\n", column.title);
            let mut header = vec![format!("{} \\ {}", rows.name, cols.name)];
            header.extend(cols.values.iter().cloned());
            markdown_row(&mut out, &header);
            markdown_rule(&mut out, 1, cols.values.len());
            for r in &rows.values {
                let mut row = vec![r.clone()];
                row.extend(cols.values.iter().map(|c| {
                    lookup(r, c)
                        .and_then(|run| (column.text)(&run.report))
                        .unwrap_or_else(missing)
                }));
                markdown_row(&mut out, &row);
            }
        }
    }
    out
}

fn markdown_row(out: &mut String, cells: &[impl AsRef<str>]) {
    out.push('|');
    for cell in cells {
        // A `|` inside a value would start a new column.
        let _ = write!(out, " {} |", cell.as_ref().replace('|', "\\|"));
    }
    out.push('\n');
}

/// The separator row: `left` left-aligned columns, then `right` right-aligned numbers.
fn markdown_rule(out: &mut String, left: usize, right: usize) {
    out.push('|');
    for _ in 0..left {
        out.push_str("---|");
    }
    for _ in 0..right {
        out.push_str("---:|");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(sets: &[&str]) -> Vec<Axis> {
        parse_axes(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn grid_is_the_cartesian_product_in_flag_order() {
        let cells = grid(&axes(&["hidden=16,32", "act=sigmoid,relu", "lr=0.1"]));
        let text: Vec<String> = cells.iter().map(describe).collect();
        assert_eq!(
            text,
            [
                "hidden=16 act=sigmoid lr=0.1",
                "hidden=16 act=relu lr=0.1",
                "hidden=32 act=sigmoid lr=0.1",
                "hidden=32 act=relu lr=0.1",
            ]
        );
        assert_eq!(grid(&[]), vec![Vec::new()]);
    }

    #[test]
    fn values_split_at_commas_outside_quotes() {
        assert_eq!(split_values("1, 2 ,3"), ["1", "2", "3"]);
        assert_eq!(split_values(r#""a,b",c"#), [r#""a,b""#, "c"]);
    }

    #[test]
    fn a_name_given_twice_or_an_empty_value_is_a_usage_error() {
        let sets = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(parse_axes(&sets(&["a=1", "a=2"])).is_err());
        assert!(parse_axes(&sets(&["a=1,,2"])).is_err());
        assert!(parse_axes(&sets(&["a"])).is_err());
    }
}
