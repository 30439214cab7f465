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
    /// The metric and the series value it draws (claims are drawn on their own line).
    metric: String,
    series: Option<String>,
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
    /// The claim's id (labels a threshold).
    id: String,
    /// The line it was judged against (its colour), when the chart draws it.
    line: Option<usize>,
    /// The value judged at its point: where a one-sided (`lt`/`gt`) claim's marker sits, since
    /// its bound is drawn as a line of its own.
    measured: Option<f64>,
    /// Pixels to the side, so claims at one x do not hide each other.
    dx: i32,
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
    /// The y values' unit (`fraction` ticks read as percentages).
    y_unit: String,
    /// Every line has one x value: drawn as dots with their intervals, not lines.
    dots: bool,
}

/// What a drawn chart shows, written beside it as `charts/<slug>.json` so that tests (and
/// people) can check axes and legends without reading pixels.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ChartFacts {
    /// The title as drawn.
    pub title: String,
    /// The x axis's label.
    pub x_label: String,
    /// The y axis's label.
    pub y_label: String,
    /// The plotted x range.
    pub x_range: [f64; 2],
    /// The plotted y range.
    pub y_range: [f64; 2],
    /// Logarithmic axes.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The legend's entries in order, each with the symbol drawn for it (`line`, `dot`,
    /// `diamond`, `threshold`).
    pub legend: Vec<[String; 2]>,
    /// Claim markers drawn, each with the legend entry of the line it sits on (empty when the
    /// chart does not draw that line).
    pub claims: Vec<[String; 2]>,
    /// Whether the lines were drawn as dots (one x value).
    pub dots: bool,
}

impl Prepared {
    /// The legend's entries in the order drawn: the lines, then one per claim verdict, then
    /// the claimed bound when a `lt`/`gt` claim is drawn.
    fn legend(&self) -> Vec<[String; 2]> {
        let symbol = if self.dots { "dot" } else { "line" };
        let mut out: Vec<[String; 2]> = self
            .lines
            .iter()
            .map(|l| [l.name.clone(), symbol.to_string()])
            .collect();
        let mut verdicts: Vec<Verdict> = self.claims.iter().map(|c| c.verdict).collect();
        verdicts.sort();
        verdicts.dedup();
        out.extend(
            verdicts
                .into_iter()
                .map(|v| [format!("claim ({})", v.as_str()), "diamond".to_string()]),
        );
        if self
            .claims
            .iter()
            .any(|c| matches!(c.mark, Mark::Below(_) | Mark::Above(_)))
        {
            out.push([
                "claimed bound (shaded: the claimed side)".to_string(),
                "threshold".to_string(),
            ]);
        }
        out
    }

    fn facts(&self) -> ChartFacts {
        ChartFacts {
            title: self.title.clone(),
            x_label: self.x_label.clone(),
            y_label: self.y_label.clone(),
            x_range: [self.x_range.0, self.x_range.1],
            y_range: [self.y_range.0, self.y_range.1],
            log_x: self.log_x,
            log_y: self.log_y,
            legend: self.legend(),
            claims: self
                .claims
                .iter()
                .map(|c| {
                    [
                        c.id.clone(),
                        c.line
                            .and_then(|i| self.lines.get(i))
                            .map(|l| l.name.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
            dots: self.dots,
        }
    }
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
                metric: String::new(),
                series: None,
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
        y_unit: String::new(),
        dots: false,
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
    let json = png.with_extension("json");
    let facts = serde_json::to_string_pretty(&d.facts()).unwrap_or_default();
    std::fs::write(&json, facts + "\n").map_err(super::io_err(&json))?;
    Ok(())
}
