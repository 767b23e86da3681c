//! `nnc report RECORD...`: run records side by side, as a markdown table (or `--json`) and,
//! with `--plot`, one picture of their curves overlaid, one colour per record.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::cli::args::ReportArgs;
use crate::cli::commands::check::print_json;
use crate::cli::plot::curves::{Curves, Panel, Series, loss_axis};
use crate::cli::plot::{PlotTarget, series_color};
use crate::cli::record::RunRecord;

/// One row of the table.
#[derive(Debug, Serialize)]
pub struct ReportRow {
    /// The record's file name.
    pub record: String,
    pub model: String,
    pub overrides: Vec<(String, String)>,
    pub seed: u64,
    pub epochs: usize,
    pub batch: usize,
    pub test_accuracy: f32,
    pub train_seconds: f64,
}

/// The `--json` output of `nnc report`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub records: Vec<ReportRow>,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let plot = args.plot.as_deref().map(PlotTarget::parse).transpose()?;
    let records = args
        .records
        .iter()
        .map(|path| Ok((record_name(path), RunRecord::read(path)?)))
        .collect::<Result<Vec<_>, crate::Error>>()?;
    if let Some(target) = &plot {
        target.check()?;
        target.save(&overlaid_curves(&records))?;
    }
    let report = Report {
        records: records
            .iter()
            .map(|(name, r)| ReportRow {
                record: name.clone(),
                model: r.model.clone(),
                overrides: r.overrides.clone(),
                seed: r.seed,
                epochs: r.epochs,
                batch: r.batch,
                test_accuracy: r.test_accuracy,
                train_seconds: r.train_seconds,
            })
            .collect(),
    };
    if args.json {
        print_json(&report)?;
    } else {
        std::io::stdout()
            .lock()
            .write_all(table(&report).as_bytes())?;
    }
    Ok(())
}

/// `runs/a.run.json` → `a`: the file name without the record extension.
fn record_name(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    name.strip_suffix(".run.json")
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(&name)
        .to_owned()
}

/// The markdown table: one row per record, in the order given.
pub fn table(report: &Report) -> String {
    let mut out = String::from(
        "| record | model | overrides | seed | epochs | batch | test accuracy (%) | train seconds |\n\
         |---|---|---|---:|---:|---:|---:|---:|\n",
    );
    for row in &report.records {
        let overrides: Vec<String> = row
            .overrides
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let cells = [
            row.record.clone(),
            row.model.clone(),
            if overrides.is_empty() {
                "–".into()
            } else {
                overrides.join(" ")
            },
            row.seed.to_string(),
            row.epochs.to_string(),
            row.batch.to_string(),
            format!("{:.2}", row.test_accuracy * 100.0),
            format!("{:.1}", row.train_seconds),
        ];
        out.push('|');
        for cell in cells {
            // A `|` inside a value would start a new column.
            out.push_str(&format!(" {} |", cell.replace('|', "\\|")));
        }
        out.push('\n');
    }
    out
}

/// Train loss (left) and test accuracy (right) of every record, one colour per record.
fn overlaid_curves(records: &[(String, RunRecord)]) -> Curves {
    let series = |value: fn(&crate::training::EpochReport) -> f32| -> Vec<Series> {
        records
            .iter()
            .enumerate()
            .map(|(i, (name, r))| Series {
                // The overrides tell the runs of one model apart at a glance.
                label: match r.overrides_text() {
                    o if o.is_empty() => name.clone(),
                    o => format!("{name} ({o})"),
                },
                color: series_color(i),
                points: r
                    .history
                    .iter()
                    .map(|e| (e.epoch as f64, f64::from(value(e))))
                    .collect(),
            })
            .collect()
    };
    let losses: Vec<&str> = records.iter().map(|(_, r)| r.loss.as_str()).collect();
    let loss = match losses.as_slice() {
        [first, rest @ ..] if !first.is_empty() && rest.iter().all(|l| l == first) => {
            loss_axis(first)
        }
        _ => "loss".into(),
    };
    let models: Vec<&str> = {
        let mut models: Vec<&str> = records.iter().map(|(_, r)| r.model.as_str()).collect();
        models.dedup();
        models
    };
    Curves {
        title: format!(
            "{}: {} run{} compared",
            models.join(", "),
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        ),
        subtitle: "train loss (left) and test accuracy (right) per epoch".into(),
        panels: [
            Panel {
                y_label: format!("train {loss}"),
                series: series(|e| e.train_loss),
                rising: false,
                legend: true,
            },
            Panel {
                y_label: "test accuracy (%)".into(),
                series: series(|e| e.test_accuracy * 100.0),
                rising: true,
                legend: false,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_named_by_its_file_without_the_extension() {
        assert_eq!(record_name(Path::new("runs/a-0-17.run.json")), "a-0-17");
        assert_eq!(record_name(Path::new("b.json")), "b");
    }
}
