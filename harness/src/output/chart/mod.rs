//! Charts: the model's mean as a line with its 95% CI as a band, over one parameter, with the
//! article's claims as markers coloured by verdict. Drawn with plotters into PNG (text
//! rasterised from the embedded DejaVu Sans, so no system font is needed and PNGs are the same
//! on every machine) and SVG (text kept as text).
//!
//! This file holds what a chart is once prepared ([`Prepared`]) and the entry points that
//! render one; `prepare.rs` turns a summary's points and claims (or a kernel's measured
//! series) into a `Prepared` with its ranges and legend corner, `draw.rs` draws it.

mod draw;
mod prepare;

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::ReportError;
use crate::summary::{ChartSpec, RealSeriesJson, Summary, Verdict};

static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 600;

/// One line: (x, mean, lo, hi) in plot coordinates, sorted by x.
struct Line {
    name: String,
    pts: Vec<(f64, f64, f64, f64)>,
}

enum Mark {
    Approx { v: f64, lo: f64, hi: f64 },
    Range { lo: f64, hi: f64 },
    Below(f64),
    Above(f64),
}

struct ClaimMark {
    x: f64,
    mark: Mark,
    verdict: Verdict,
}

struct Prepared {
    /// Where the legend goes: the corner that hides the least data.
    corner: SeriesLabelPosition,
    /// Plot ranges (data, claims, padding, and room for the legend).
    x_range: (f64, f64),
    y_range: (f64, f64),
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
    lines: Vec<Line>,
    claims: Vec<ClaimMark>,
    /// Where a claim's verdict flips along the x parameter: (x, label).
    flips: Vec<(f64, String)>,
}

/// Renders one chart to `png` and `svg`.
pub fn render_chart(
    spec: &ChartSpec,
    summary: &Summary,
    png: &Path,
    svg: &Path,
) -> Result<(), ReportError> {
    render(&prepare::prepare(spec, summary), png, svg)
}

/// Renders a real kernel's measured curve (no bands, no claims).
pub fn render_series(series: &RealSeriesJson, png: &Path, svg: &Path) -> Result<(), ReportError> {
    let mut lines: Vec<Line> = series
        .lines
        .iter()
        .map(|l| {
            let mut pts: Vec<(f64, f64, f64, f64)> = l
                .points
                .iter()
                .filter(|p| p[0].is_finite() && p[1].is_finite() && (!series.log_y || p[1] > 0.0))
                .map(|p| (p[0], p[1], p[1], p[1]))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            Line {
                name: l.name.clone(),
                pts,
            }
        })
        .collect();
    lines.retain(|l| !l.pts.is_empty());
    // Identical curves would hide each other: draw one, named for all (`a = b`).
    let mut merged: Vec<Line> = Vec::new();
    for l in lines {
        match merged.iter_mut().find(|m| m.pts == l.pts) {
            Some(m) => m.name = format!("{} = {}", m.name, l.name),
            None => merged.push(l),
        }
    }
    let lines = merged;
    let d = prepare::fit(Prepared {
        corner: SeriesLabelPosition::UpperLeft,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        title: series.title.clone(),
        x_label: series.x_label.clone(),
        y_label: series.y_label.clone(),
        log_x: false,
        log_y: series.log_y,
        lines,
        claims: Vec::new(),
        flips: Vec::new(),
    });
    render(&d, png, svg)
}

fn render(d: &Prepared, png: &Path, svg: &Path) -> Result<(), ReportError> {
    REGISTER.call_once(|| {
        // The font is compiled in; registration cannot fail for a valid TTF.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let chart_err = |path: &Path| {
        let path = path.display().to_string();
        move |message: String| ReportError::Chart { path, message }
    };
    {
        let root = BitMapBackend::new(png, (WIDTH, HEIGHT)).into_drawing_area();
        draw::draw(&root, d).map_err(chart_err(png))?;
        root.present()
            .map_err(|e| chart_err(png)(format!("{e:?}")))?;
    }
    {
        let root = SVGBackend::new(svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw::draw(&root, d).map_err(chart_err(svg))?;
        root.present()
            .map_err(|e| chart_err(svg)(format!("{e:?}")))?;
    }
    Ok(())
}
