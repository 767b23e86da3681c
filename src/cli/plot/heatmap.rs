//! A sweep's grid as two heat-map tables, test accuracy (R² for a regression) above
//! training seconds: one cell per run, coloured by its value and labelled with it as the
//! markdown table writes it.
//! The last name that varies runs across; the combinations of the others run down (for
//! two names, the markdown pivot table's layout; for one, a single row).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, Picture, PlotError, draw_error, text_size};
use crate::cli::commands::run::RunReport;
use crate::cli::commands::sweep::{Axis, Cell, SweepRun, grid};

/// One table of the picture: a value per cell (`None`: no run there).
#[derive(Debug, Clone)]
struct Table {
    title: &'static str,
    values: Vec<Vec<Option<f64>>>,
    text: fn(f64) -> String,
    ramp: &'static [RGBColor],
}

/// The two tables and their shared row and column headers.
#[derive(Debug, Clone)]
pub struct HeatMap {
    title: String,
    subtitle: String,
    corner: String,
    rows: Vec<String>,
    cols: Vec<String>,
    tables: [Table; 2],
}

/// Viridis, dark (low accuracy) to yellow (high).
const ACCURACY_RAMP: [RGBColor; 5] = [
    RGBColor(68, 1, 84),
    RGBColor(59, 82, 139),
    RGBColor(33, 145, 140),
    RGBColor(94, 201, 98),
    RGBColor(253, 231, 37),
];
/// Light (fast) to dark orange (slow).
const SECONDS_RAMP: [RGBColor; 4] = [
    RGBColor(255, 245, 235),
    RGBColor(253, 174, 107),
    RGBColor(230, 85, 13),
    RGBColor(127, 39, 4),
];

const MARGIN: u32 = 24;
const HEADING: u32 = 84;
const TABLE_TITLE: u32 = 34;
const CELL_HEIGHT: u32 = 40;
const GAP: u32 = 24;
// plotters draws text at 1/1.24 of the size asked for: these read as about 14, 15, 17
// and 21 pixels.
const TEXT_SIZE: f64 = 17.0;
const TABLE_TITLE_SIZE: f64 = 19.0;
const SUBTITLE_SIZE: f64 = 18.0;
const TITLE_SIZE: f64 = 25.0;

/// The accuracy as the markdown table writes it.
pub fn accuracy_text(percent: f64) -> String {
    format!("{percent:.2}")
}

/// R² as the markdown table writes it.
pub fn r2_text(r2: f64) -> String {
    format!("{r2:.4}")
}

/// The seconds as the markdown table writes them.
pub fn seconds_text(seconds: f64) -> String {
    format!("{seconds:.1}")
}

impl HeatMap {
    pub fn of_sweep(title: String, subtitle: String, axes: &[Axis], runs: &[SweepRun]) -> HeatMap {
        let varying: Vec<Axis> = axes
            .iter()
            .filter(|a| a.values.len() > 1)
            .cloned()
            .collect();
        let (row_axes, col_axis) = match varying.split_last() {
            Some((last, rest)) => (rest, Some(last)),
            None => (&varying[..], None),
        };
        let row_cells: Vec<Cell> = grid(row_axes);
        let col_values: Vec<Option<(String, String)>> = match col_axis {
            Some(axis) => axis
                .values
                .iter()
                .map(|v| Some((axis.name.clone(), v.clone())))
                .collect(),
            None => vec![None],
        };
        let find = |row: &Cell, col: &Option<(String, String)>| -> Option<&RunReport> {
            runs.iter()
                .find(|run| row.iter().chain(col).all(|pair| run.set.contains(pair)))
                .map(|run| &run.report)
        };
        let values = |value: fn(&RunReport) -> Option<f64>| -> Vec<Vec<Option<f64>>> {
            row_cells
                .iter()
                .map(|row| {
                    col_values
                        .iter()
                        .map(|col| find(row, col).and_then(value))
                        .collect()
                })
                .collect()
        };
        let regression = !runs.is_empty() && runs.iter().all(|r| r.report.test_mse.is_some());
        let row_names: Vec<&str> = row_axes.iter().map(|a| a.name.as_str()).collect();
        let corner = match (row_names.is_empty(), col_axis) {
            (false, Some(col)) => format!("{} \\ {}", row_names.join(" / "), col.name),
            (true, Some(col)) => col.name.clone(),
            (_, None) => String::new(),
        };
        HeatMap {
            title,
            subtitle,
            corner,
            rows: row_cells
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(" / ")
                })
                .collect(),
            cols: col_values
                .iter()
                .map(|col| col.as_ref().map_or_else(String::new, |(_, v)| v.clone()))
                .collect(),
            tables: [
                // A regression's cells have no accuracy: R² takes its place.
                if regression {
                    Table {
                        title: "test R²",
                        values: values(|r| r.test_r2.map(f64::from)),
                        text: r2_text,
                        ramp: &ACCURACY_RAMP,
                    }
                } else {
                    Table {
                        title: "test accuracy (%)",
                        values: values(|r| r.test_accuracy.map(|a| f64::from(a) * 100.0)),
                        text: accuracy_text,
                        ramp: &ACCURACY_RAMP,
                    }
                },
                Table {
                    title: "training time (seconds)",
                    values: values(|r| Some(r.train_seconds)),
                    text: seconds_text,
                    ramp: &SECONDS_RAMP,
                },
            ],
        }
    }

    /// `(row label width, cell width)` in pixels.
    fn column_widths(&self) -> (u32, u32) {
        let width = |text: &str| text_size(text, TEXT_SIZE).map_or(0, |(w, _)| w);
        let label = self
            .rows
            .iter()
            .map(String::as_str)
            .chain([self.corner.as_str()])
            .map(width)
            .max()
            .unwrap_or(0)
            + 24;
        let values = self.tables.iter().flat_map(|t| {
            t.values
                .iter()
                .flatten()
                .flatten()
                .map(move |&v| (t.text)(v))
        });
        let cell = self
            .cols
            .iter()
            .cloned()
            .chain(values)
            .map(|text| width(&text))
            .max()
            .unwrap_or(0)
            + 24;
        (label, cell.max(84))
    }

    fn table_height(&self) -> u32 {
        TABLE_TITLE + CELL_HEIGHT * (self.rows.len() as u32 + 1)
    }
}

impl Picture for HeatMap {
    fn size(&self) -> (u32, u32) {
        let (label, cell) = self.column_widths();
        let grid_width = label + cell * self.cols.len() as u32;
        let heading = [
            text_size(&self.title, TITLE_SIZE),
            text_size(&self.subtitle, SUBTITLE_SIZE),
        ]
        .into_iter()
        .filter_map(Result::ok)
        .map(|(w, _)| w)
        .max()
        .unwrap_or(0);
        let width = (grid_width.max(heading) + 2 * MARGIN).max(480);
        let height = HEADING + 2 * self.table_height() + GAP + MARGIN;
        (width, height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (width, _) = self.size();
        let (label, cell) = self.column_widths();
        let grid_width = label + cell * self.cols.len() as u32;
        let left = ((width - grid_width) / 2) as i32;
        let centre = (width / 2) as i32;
        let top = Pos::new(HPos::Center, VPos::Top);
        root.draw(&Text::new(
            self.title.clone(),
            (centre, 12),
            (FONT, TITLE_SIZE).into_font().color(&BLACK).pos(top),
        ))
        .map_err(draw_error)?;
        root.draw(&Text::new(
            self.subtitle.clone(),
            (centre, 46),
            (FONT, SUBTITLE_SIZE)
                .into_font()
                .color(&RGBColor(80, 80, 80))
                .pos(top),
        ))
        .map_err(draw_error)?;
        let mut y = HEADING as i32;
        for table in &self.tables {
            self.draw_table(root, table, left, y, label as i32, cell as i32)?;
            y += (self.table_height() + GAP) as i32;
        }
        Ok(())
    }
}

impl HeatMap {
    fn draw_table<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        table: &Table,
        left: i32,
        top: i32,
        label: i32,
        cell: i32,
    ) -> Result<(), PlotError> {
        let h = CELL_HEIGHT as i32;
        let text = |s: &str, at: (i32, i32), color: RGBColor, pos: Pos| {
            root.draw(&Text::new(
                s.to_owned(),
                at,
                (FONT, TEXT_SIZE).into_font().color(&color).pos(pos),
            ))
            .map_err(draw_error)
        };
        let middle = Pos::new(HPos::Center, VPos::Center);
        let left_middle = Pos::new(HPos::Left, VPos::Center);
        root.draw(&Text::new(
            table.title,
            (left, top + 4),
            (FONT, TABLE_TITLE_SIZE).into_font().color(&BLACK),
        ))
        .map_err(draw_error)?;
        let header = top + TABLE_TITLE as i32;
        let header_fill = RGBColor(238, 238, 238);
        root.draw(&Rectangle::new(
            [
                (left, header),
                (left + label + cell * self.cols.len() as i32, header + h),
            ],
            header_fill.filled(),
        ))
        .map_err(draw_error)?;
        text(
            &self.corner,
            (left + 10, header + h / 2),
            BLACK,
            left_middle,
        )?;
        for (c, name) in self.cols.iter().enumerate() {
            let x = left + label + cell * c as i32;
            text(name, (x + cell / 2, header + h / 2), BLACK, middle)?;
        }
        // Colour by the value as written, so cells that read the same look the same.
        let shown = |v: f64| (table.text)(v).parse::<f64>().unwrap_or(v);
        let (lo, hi) = table
            .values
            .iter()
            .flatten()
            .flatten()
            .map(|&v| shown(v))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        for (r, (row, values)) in self.rows.iter().zip(&table.values).enumerate() {
            let y = header + h * (r as i32 + 1);
            text(row, (left + 10, y + h / 2), BLACK, left_middle)?;
            for (c, value) in values.iter().enumerate() {
                let x = left + label + cell * c as i32;
                let (fill, label_text) = match value {
                    Some(v) => {
                        let t = if hi > lo {
                            (shown(*v) - lo) / (hi - lo)
                        } else {
                            0.5
                        };
                        (ramp(table.ramp, t), (table.text)(*v))
                    }
                    None => (RGBColor(220, 220, 220), "–".to_owned()),
                };
                root.draw(&Rectangle::new([(x, y), (x + cell, y + h)], fill.filled()))
                    .map_err(draw_error)?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell, y + h)],
                    WHITE.stroke_width(2),
                ))
                .map_err(draw_error)?;
                text(&label_text, (x + cell / 2, y + h / 2), ink_on(fill), middle)?;
            }
        }
        Ok(())
    }
}

/// The colour at `t` in `0..=1` along the ramp, linear between its stops.
fn ramp(stops: &[RGBColor], t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (t.floor() as usize).min(stops.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black text on light cells, white on dark ones (Rec. 601 luma).
fn ink_on(fill: RGBColor) -> RGBColor {
    let luma = 0.299 * f64::from(fill.0) + 0.587 * f64::from(fill.1) + 0.114 * f64::from(fill.2);
    if luma < 140.0 { WHITE } else { BLACK }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_runs_from_its_first_stop_to_its_last() {
        assert_eq!(ramp(&ACCURACY_RAMP, 0.0), ACCURACY_RAMP[0]);
        assert_eq!(ramp(&ACCURACY_RAMP, 1.0), ACCURACY_RAMP[4]);
        assert_eq!(ramp(&ACCURACY_RAMP, 0.25), ACCURACY_RAMP[1]);
        assert_eq!(ink_on(ACCURACY_RAMP[0]), WHITE);
        assert_eq!(ink_on(ACCURACY_RAMP[4]), BLACK);
    }
}
