//! Learning curves: loss per epoch in the left panel, accuracy (%) per epoch (R² for a
//! regression) in the right, for one run (train, test and validation curves) or several
//! run records overlaid (one colour per record). Each curve is one line with a dot per
//! epoch.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, Picture, PlotError, draw_error, series_color, text_size};
use crate::training::EpochReport;

/// One curve: `(epoch, value)` points.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// One panel of curves sharing a y axis.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The y axis' name with its unit.
    pub y_label: String,
    pub series: Vec<Series>,
    /// Whether the values grow over training (accuracy): the legend then goes where the
    /// curves are not, bottom right, and the axis is zoomed to the values, not from 0.
    pub rising: bool,
    pub legend: bool,
}

/// A two-panel picture of curves with a two-line heading.
#[derive(Debug, Clone)]
pub struct Curves {
    pub title: String,
    pub subtitle: String,
    pub panels: [Panel; 2],
}

const HEIGHT: u32 = 460;
const MIN_WIDTH: u32 = 1000;
const HEADING: u32 = 70;
// plotters draws text at 1/1.24 of the size asked for (an em box to pixel factor), so
// these read as about 21, 15, 14 and 15 pixels.
const TITLE_SIZE: f64 = 26.0;
const SUBTITLE_SIZE: f64 = 19.0;
const LABEL_SIZE: f64 = 17.0;
const AXIS_SIZE: f64 = 19.0;

/// The names of the loss in the `.nn` language, as the y axis says them.
pub fn loss_axis(loss: &str) -> String {
    match loss {
        "mse" => "loss (mse)".into(),
        "cross-entropy" => "loss (cross-entropy)".into(),
        other => format!("loss ({other})"),
    }
}

impl Curves {
    /// One run's curves: train, test and (if held out) validation loss; test and
    /// validation accuracy.
    pub fn of_run(title: String, subtitle: String, loss: &str, history: &[EpochReport]) -> Curves {
        let curve = |label: &str, color: usize, value: &dyn Fn(&EpochReport) -> Option<f32>| {
            let points: Vec<(f64, f64)> = history
                .iter()
                .filter_map(|r| value(r).map(|v| (r.epoch as f64, f64::from(v))))
                .collect();
            (!points.is_empty()).then(|| Series {
                label: label.into(),
                color: series_color(color),
                points,
            })
        };
        let percent = |v: f32| v * 100.0;
        let loss_series = [
            curve("train", 0, &|r| Some(r.train_loss)),
            curve("test", 1, &|r| Some(r.test_loss)),
            curve("validation", 2, &|r| r.validation_loss),
        ];
        // A regression has no accuracy: its right panel is R².
        let regression = history.iter().any(|r| r.test_accuracy.is_none());
        let (right_label, right_series) = if regression {
            let series = [
                curve("test", 1, &|r| r.test_r2),
                curve("validation", 2, &|r| r.validation_r2),
            ];
            ("R²", series)
        } else {
            let series = [
                curve("test", 1, &|r| r.test_accuracy.map(percent)),
                curve("validation", 2, &|r| r.validation_accuracy.map(percent)),
            ];
            ("accuracy (%)", series)
        };
        Curves {
            title,
            subtitle,
            panels: [
                Panel {
                    y_label: loss_axis(loss),
                    series: loss_series.into_iter().flatten().collect(),
                    rising: false,
                    legend: true,
                },
                Panel {
                    y_label: right_label.into(),
                    series: right_series.into_iter().flatten().collect(),
                    rising: true,
                    legend: true,
                },
            ],
        }
    }
}

impl Picture for Curves {
    fn size(&self) -> (u32, u32) {
        // Widen for a long heading rather than clip it.
        let widest = [
            text_size(&self.title, TITLE_SIZE),
            text_size(&self.subtitle, SUBTITLE_SIZE),
        ]
        .into_iter()
        .filter_map(Result::ok)
        .map(|(w, _)| w + 40)
        .max()
        .unwrap_or(0);
        (widest.clamp(MIN_WIDTH, 2400), HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        let (width, _) = self.size();
        let (heading, body) = root.split_vertically(HEADING);
        let centre = (width / 2) as i32;
        let top = Pos::new(HPos::Center, VPos::Top);
        heading
            .draw(&Text::new(
                self.title.clone(),
                (centre, 12),
                (FONT, TITLE_SIZE).into_font().color(&BLACK).pos(top),
            ))
            .map_err(draw_error)?;
        heading
            .draw(&Text::new(
                self.subtitle.clone(),
                (centre, 44),
                (FONT, SUBTITLE_SIZE)
                    .into_font()
                    .color(&RGBColor(80, 80, 80))
                    .pos(top),
            ))
            .map_err(draw_error)?;
        let epochs = self
            .panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| &s.points)
            .map(|&(epoch, _)| epoch)
            .fold(1.0, f64::max);
        for (area, panel) in body.split_evenly((1, 2)).iter().zip(&self.panels) {
            draw_panel(area, panel, epochs)?;
        }
        Ok(())
    }
}

/// A tick value with no trailing zeros: `0.5`, `75`, `0.25`.
fn tick(value: f64) -> String {
    if value.abs() < 5e-4 {
        return "0".into();
    }
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The y range: loss from 0, accuracy zoomed to its values with a margin, within 0..100.
fn y_range(panel: &Panel) -> (f64, f64) {
    let values = panel.series.iter().flat_map(|s| &s.points).map(|p| p.1);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if panel.rising {
        let pad = ((hi - lo) * 0.1).max(0.5);
        ((lo - pad).floor().max(0.0), (hi + pad).ceil().min(100.0))
    } else {
        (0.0, if hi > 0.0 { hi * 1.08 } else { 1.0 })
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    epochs: f64,
) -> Result<(), PlotError> {
    let (lo, hi) = y_range(panel);
    let mut chart = ChartBuilder::on(area)
        .margin(18)
        .margin_top(8)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.5..epochs + 0.5, lo..hi)
        .map_err(draw_error)?;
    // Ticks at whole epochs only: plotters picks "nice" steps, which may be halves.
    let whole = |x: &f64| {
        if (x - x.round()).abs() < 1e-9 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(panel.y_label.as_str())
        .x_labels((epochs as usize).clamp(1, 10))
        .y_labels(8)
        .x_label_formatter(&whole)
        .y_label_formatter(&|y| tick(*y))
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, AXIS_SIZE))
        .bold_line_style(RGBColor(220, 220, 220))
        .max_light_lines(1)
        .light_line_style(RGBColor(242, 242, 242))
        .draw()
        .map_err(draw_error)?;
    for series in &panel.series {
        let color = series.color;
        chart
            .draw_series(LineSeries::new(
                series.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(draw_error)?
            .label(series.label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.filled()));
        chart
            .draw_series(
                series
                    .points
                    .iter()
                    .map(|&p| Circle::new(p, 3, color.filled())),
            )
            .map_err(draw_error)?;
    }
    if panel.legend && !panel.series.is_empty() {
        chart
            .configure_series_labels()
            .position(if panel.rising {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .label_font((FONT, LABEL_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(190, 190, 190))
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(rising: bool, values: &[f64]) -> Panel {
        Panel {
            y_label: String::new(),
            series: vec![Series {
                label: String::new(),
                color: BLACK,
                points: values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (i as f64, v))
                    .collect(),
            }],
            rising,
            legend: false,
        }
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(tick(75.0), "75");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(0.0), "0");
    }

    #[test]
    fn loss_starts_at_zero_and_accuracy_zooms_within_a_hundred() {
        let (lo, hi) = y_range(&panel(false, &[0.5, 0.25]));
        assert_eq!(lo, 0.0);
        assert!((hi - 0.54).abs() < 1e-12, "{hi}");
        assert_eq!(y_range(&panel(true, &[91.2, 99.8])), (90.0, 100.0));
        assert_eq!(y_range(&panel(true, &[])), (0.0, 1.0));
    }
}
