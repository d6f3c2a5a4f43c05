//! Line and band charts written as SVG and PNG (plotters), shared by the lab's reports
//! and the twin's forecasts: one look, one embedded font, one guard against values the
//! plotting library cannot draw.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::LabError;

/// Registers the embedded font (idempotent); call before drawing.
pub fn register_font() -> Result<(), LabError> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| LabError::Report("cannot load the embedded chart font".into()))
}

/// DejaVu Sans, embedded so charts render on machines without fonts.
pub const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (900, 480);
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn plot_err<E: std::fmt::Debug>(e: E) -> LabError {
    LabError::Report(format!("cannot draw a chart: {e:?}"))
}

/// The largest magnitude a chart plots. Beyond it the axis arithmetic of the plotting
/// library overflows (a metric of 1e154 made it loop forever); such values stay in the
/// tables and are left out of the charts.
const PLOTTABLE: f64 = 1e100;

fn plottable(&(x, y, r): &Datum) -> bool {
    let ok = |v: f64| v.is_finite() && v.abs() <= PLOTTABLE;
    ok(x) && ok(y) && r.is_none_or(|(lo, hi)| ok(lo) && ok(hi))
}

/// One chart: labelled series of (x, y, optional (low, high) band or bar).
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// The x axis's label.
    pub x_desc: String,
    /// The y axis's label.
    pub y_desc: String,
    /// The series, drawn in order (colours in order).
    pub series: Vec<Series>,
    /// Names of the x positions 0, 1, 2, ... for a categorical axis (a setting's values,
    /// point numbers); empty for a numeric axis.
    pub x_names: Vec<String>,
}

/// A tick label for a number: integers without a fraction (1400000, not 1400000.0),
/// others with at most 4 significant decimals, huge and tiny ones in e-notation.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e9).contains(&a) {
        format!("{v:.2e}")
    } else if v == v.round() {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A plotted value: x, y, and an optional (low, high) interval around y.
pub type Datum = (f64, f64, Option<(f64, f64)>);

/// One series of a chart.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Its legend entry (none when empty).
    pub label: String,
    /// Its points, in x order for lines and bands.
    pub points: Vec<Datum>,
    /// Draw a line through the points (else markers only).
    pub line: bool,
    /// Draw (low, high) as a shaded band (else as error bars).
    pub band: bool,
    /// Highlight (larger markers).
    pub strong: bool,
}

impl Chart {
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let mut x = (f64::MAX, f64::MIN);
        let mut y = (f64::MAX, f64::MIN);
        for s in &self.series {
            for &(px, py, r) in &s.points {
                x = (x.0.min(px), x.1.max(px));
                let (lo, hi) = r.unwrap_or((py, py));
                y = (y.0.min(py.min(lo)), y.1.max(py.max(hi)));
            }
        }
        if x.0 > x.1 {
            x = (0.0, 1.0);
            y = (0.0, 1.0);
        }
        let pad = |(a, b): (f64, f64)| {
            let w = if b > a {
                (b - a) * 0.05
            } else {
                a.abs().max(1.0) * 0.05
            };
            (a - w, b + w)
        };
        (pad(x), pad(y))
    }

    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), LabError>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(plot_err)?;
        let ((x0, x1), (y0, y1)) = self.bounds();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err)?;
        let names = &self.x_names;
        let x_label = |x: &f64| {
            if names.is_empty() {
                tick_label(*x)
            } else if (x - x.round()).abs() < 1e-6 && x.round() >= 0.0 {
                names.get(x.round() as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&self.x_desc)
            .y_desc(&self.y_desc)
            .label_style(("sans-serif", 13))
            .x_label_formatter(&x_label)
            .y_label_formatter(&|y: &f64| tick_label(*y));
        if !names.is_empty() {
            // One tick per category (plotters puts ticks at round numbers).
            mesh.x_labels(names.len() + 2);
        }
        mesh.draw().map_err(plot_err)?;
        for (k, s) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            if s.band {
                let upper = s.points.iter().map(|&(x, y, r)| (x, r.map_or(y, |r| r.1)));
                let lower = s
                    .points
                    .iter()
                    .rev()
                    .map(|&(x, y, r)| (x, r.map_or(y, |r| r.0)));
                let poly: Vec<(f64, f64)> = upper.chain(lower).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        poly,
                        colour.mix(0.2).filled(),
                    )))
                    .map_err(plot_err)?;
            } else {
                chart
                    .draw_series(s.points.iter().filter_map(|&(x, _, r)| {
                        r.map(|(lo, hi)| {
                            PathElement::new(vec![(x, lo), (x, hi)], colour.stroke_width(2))
                        })
                    }))
                    .map_err(plot_err)?;
            }
            if s.line {
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().map(|&(x, y, _)| (x, y)),
                        colour.stroke_width(2),
                    ))
                    .map_err(plot_err)?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
            } else {
                let r = if s.strong { 6 } else { 3 };
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(move |&(x, y, _)| Circle::new((x, y), r, colour.filled())),
                    )
                    .map_err(plot_err)?
                    .label(s.label.clone())
                    .legend(move |(x, y)| Circle::new((x + 9, y), r, colour.filled()));
            }
        }
        if self.series.iter().any(|s| !s.label.is_empty()) {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
        Ok(())
    }

    /// Writes `<name>.svg` and `<name>.png` (values too large to plot are left out).
    pub fn write(&self, dir: &Path, name: &str) -> Result<(), LabError> {
        let mut chart = self.clone();
        for s in &mut chart.series {
            s.points.retain(plottable);
        }
        chart.write_plottable(dir, name)
    }

    fn write_plottable(&self, dir: &Path, name: &str) -> Result<(), LabError> {
        let svg = dir.join(format!("{name}.svg"));
        self.render(&SVGBackend::new(&svg, SIZE).into_drawing_area())?;
        let png = dir.join(format!("{name}.png"));
        self.render(&BitMapBackend::new(&png, SIZE).into_drawing_area())?;
        Ok(())
    }
}
