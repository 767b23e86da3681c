//! `nnc report RECORD...`: run records side by side, as a markdown table (or `--json`) and,
//! with `--plot`, one picture of their curves overlaid, one colour per record. A folder
//! stands for the records in it. Records of sweep cells (`nnc sweep --record`) are put
//! back into their sweep's grid and printed as the table `nnc sweep` prints, whichever
//! shards ran them and in whatever order they finished.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::args::ReportArgs;
use crate::cli::commands::check::print_json;
use crate::cli::commands::run::{mse_text, r2_text};
use crate::cli::commands::sweep::{self, Axis, SweepReport, SweepRun, grid};
use crate::cli::plot::curves::{Curves, Panel, Series, loss_axis};
use crate::cli::plot::{PlotTarget, series_color};
use crate::cli::record::{self, RecordError, RunRecord};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_mse: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f32>,
    pub train_seconds: f64,
}

/// One sweep put back together from its cells' records.
#[derive(Debug, Serialize)]
pub struct SweepTable {
    pub id: String,
    pub model: String,
    pub axes: Vec<Axis>,
    /// Cells of the whole grid.
    pub cells: usize,
    /// The cells no record was found for, as `name=value ...`.
    pub missing: Vec<String>,
    /// The cells found, in grid order.
    pub runs: Vec<SweepRun>,
}

/// The `--json` output of `nnc report`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every record, in the order given.
    pub records: Vec<ReportRow>,
    /// The sweeps among them.
    pub sweeps: Vec<SweepTable>,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let plot = args.plot.as_deref().map(PlotTarget::parse).transpose()?;
    let records = expand(&args.records)?
        .iter()
        .map(|path| Ok((record_name(path), RunRecord::read(path)?)))
        .collect::<Result<Vec<_>, crate::Error>>()?;
    if let Some(target) = &plot {
        target.check()?;
        target.save(&overlaid_curves(&records))?;
    }
    let (sweeps, plain) = sweeps(&records);
    for sweep in &sweeps {
        if !sweep.missing.is_empty() {
            eprintln!(
                "sweep {} of `{}`: {} of {} cells have records; missing: {}",
                sweep.id,
                sweep.model,
                sweep.runs.len(),
                sweep.cells,
                sweep.missing.join("; ")
            );
        }
    }
    let report = Report {
        records: records.iter().map(|(name, r)| row(name, r)).collect(),
        sweeps,
    };
    if args.json {
        print_json(&report)?;
        return Ok(());
    }
    let mut out = String::new();
    let headed = report.sweeps.len() + usize::from(!plain.is_empty()) > 1;
    for sweep in &report.sweeps {
        if headed {
            out.push_str(&format!(
                "sweep {} of `{}` ({} of {} cells):\n\n",
                sweep.id,
                sweep.model,
                sweep.runs.len(),
                sweep.cells
            ));
        }
        // The table `nnc sweep` printed: the runs are its own reports, read back.
        let runs = SweepReport {
            runs: sweep
                .runs
                .iter()
                .map(|r| SweepRun {
                    set: r.set.clone(),
                    report: r.report.clone(),
                })
                .collect(),
        };
        out.push_str(&sweep::tables(&sweep.axes, &runs));
        if headed {
            out.push('\n');
        }
    }
    if !plain.is_empty() {
        if headed {
            out.push_str("runs:\n\n");
        }
        let rows: Vec<ReportRow> = plain
            .iter()
            .map(|&i| row(&records[i].0, &records[i].1))
            .collect();
        out.push_str(&table(&rows));
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

/// The paths given, each folder replaced by the records in it (`*.run.json`, by name).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, crate::Error> {
    let mut records = Vec::new();
    for path in paths {
        if !path.is_dir() {
            records.push(path.clone());
            continue;
        }
        let read_error = |source| RecordError::Read {
            path: path.clone(),
            source,
        };
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_error)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_error)?
            .into_iter()
            .filter(|p| {
                p.is_file()
                    && p.file_name().is_some_and(|n| {
                        n.to_string_lossy()
                            .ends_with(&format!(".{}", record::EXTENSION))
                    })
            })
            .collect();
        if found.is_empty() {
            return Err(crate::Error::Usage(format!(
                "{} holds no run records (`*.{}`, written by `nnc run --record` or `nnc sweep --record`)",
                path.display(),
                record::EXTENSION
            )));
        }
        found.sort();
        records.extend(found);
    }
    Ok(records)
}

/// The sweeps among `records`, each with its cells in grid order (a cell recorded twice,
/// by a shard run again, counts once: the later record), and the indices of the records
/// that belong to no sweep.
fn sweeps(records: &[(String, RunRecord)]) -> (Vec<SweepTable>, Vec<usize>) {
    let mut plain = Vec::new();
    // By id, in the order first seen; each cell's newest record.
    let mut found: Vec<(String, BTreeMap<usize, usize>)> = Vec::new();
    for (i, (_, record)) in records.iter().enumerate() {
        let Some(cell) = &record.sweep else {
            plain.push(i);
            continue;
        };
        let at = match found.iter().position(|(id, _)| *id == cell.id) {
            Some(at) => at,
            None => {
                found.push((cell.id.clone(), BTreeMap::new()));
                found.len() - 1
            }
        };
        let cells = &mut found[at].1;
        let newer = cells
            .get(&cell.cell)
            .is_none_or(|&j| records[j].1.unix_time <= record.unix_time);
        if newer {
            cells.insert(cell.cell, i);
        }
    }
    let tables = found
        .into_iter()
        .map(|(id, cells)| {
            let first = &records[*cells.values().next().expect("a sweep has a cell")].1;
            let info = first.sweep.as_ref().expect("grouped by sweep");
            let all = grid(&info.axes);
            let missing = (0..info.cells)
                .filter(|c| !cells.contains_key(c))
                .map(|c| {
                    all.get(c).map_or_else(
                        || format!("cell {}", c + 1),
                        |cell| {
                            cell.iter()
                                .map(|(n, v)| format!("{n}={v}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        },
                    )
                })
                .collect();
            let runs = cells
                .iter()
                .map(|(&c, &i)| SweepRun {
                    set: all
                        .get(c)
                        .cloned()
                        .unwrap_or_else(|| records[i].1.overrides.clone()),
                    report: records[i].1.report(),
                })
                .collect();
            SweepTable {
                id,
                model: first.model.clone(),
                axes: info.axes.clone(),
                cells: info.cells,
                missing,
                runs,
            }
        })
        .collect();
    (tables, plain)
}

fn row(name: &str, r: &RunRecord) -> ReportRow {
    ReportRow {
        record: name.to_owned(),
        model: r.model.clone(),
        overrides: r.overrides.clone(),
        seed: r.seed,
        epochs: r.epochs,
        batch: r.batch,
        test_accuracy: r.test_accuracy,
        test_mse: r.test_mse,
        test_r2: r.test_r2,
        train_seconds: r.train_seconds,
    }
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

/// The markdown table: one row per record, in the order given; R² and mean squared error
/// columns when a record is a regression's.
pub fn table(rows: &[ReportRow]) -> String {
    let regression = rows.iter().any(|r| r.test_mse.is_some());
    let mut out =
        String::from("| record | model | overrides | seed | epochs | batch | test accuracy (%) |");
    if regression {
        out.push_str(" test R² | test mse |");
    }
    out.push_str(" train seconds |\n|---|---|---|---:|---:|---:|---:|");
    if regression {
        out.push_str("---:|---:|");
    }
    out.push_str("---:|\n");
    for row in rows {
        let overrides: Vec<String> = row
            .overrides
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let mut cells = vec![
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
            row.test_accuracy
                .map_or_else(|| "–".into(), |a| format!("{:.2}", a * 100.0)),
        ];
        if regression {
            let (r2, mse) = match row.test_mse {
                Some(mse) => (r2_text(row.test_r2), mse_text(mse)),
                None => ("–".into(), "–".into()),
            };
            cells.extend([r2, mse]);
        }
        cells.push(format!("{:.1}", row.train_seconds));
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
    let series = |value: fn(&crate::training::EpochReport) -> Option<f32>| -> Vec<Series> {
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
                    .filter_map(|e| value(e).map(|v| (e.epoch as f64, f64::from(v))))
                    .collect(),
            })
            .collect()
    };
    // Records of regressions have no accuracy: their right panel is R².
    let regression = !records.is_empty() && records.iter().all(|(_, r)| r.test_mse.is_some());
    let (right_label, right) = if regression {
        ("test R²", series(|e| e.test_r2))
    } else {
        (
            "test accuracy (%)",
            series(|e| e.test_accuracy.map(|a| a * 100.0)),
        )
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
        subtitle: format!("train loss (left) and {right_label} (right) per epoch"),
        panels: [
            Panel {
                y_label: format!("train {loss}"),
                series: series(|e| Some(e.train_loss)),
                rising: false,
                legend: true,
            },
            Panel {
                y_label: right_label.into(),
                series: right,
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
