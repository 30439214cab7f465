//! Drawing a prepared chart on any plotters backend (PNG, SVG). One drawing routine serves
//! linear and logarithmic axes: it is generic over plotters' coordinate types, and the four
//! axis combinations pick the ranges.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{HEIGHT, Mark, Prepared, WIDTH};
use crate::summary::{Verdict, fmt_num};

// Matplotlib's tab10: distinct, colour-blind-tolerable, familiar from decision-review decks.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];

fn verdict_color(v: Verdict) -> RGBColor {
    match v {
        Verdict::Holds => RGBColor(0, 140, 0),
        Verdict::Fails => RGBColor(210, 0, 0),
        Verdict::Inconclusive => RGBColor(230, 130, 0),
        Verdict::NotRun => RGBColor(130, 130, 130),
        Verdict::Depends => RGBColor(120, 60, 170),
    }
}

/// Draws `d` on `root`: the title alone when there is nothing to plot.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    d: &Prepared,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    root.fill(&WHITE).map_err(e)?;
    if d.lines.is_empty() {
        root.titled(&d.title, ("sans-serif", 28)).map_err(e)?;
        root.draw(&Text::new(
            "no numeric points to plot",
            (WIDTH as i32 / 2 - 140, HEIGHT as i32 / 2),
            ("sans-serif", 22),
        ))
        .map_err(e)?;
        return Ok(());
    }
    let ((x0, x1), (y0, y1)) = (d.x_range, d.y_range);
    match (d.log_x, d.log_y) {
        (false, false) => draw_on(root, d, x0..x1, y0..y1),
        (true, false) => draw_on(root, d, (x0..x1).log_scale(), y0..y1),
        (false, true) => draw_on(root, d, x0..x1, (y0..y1).log_scale()),
        (true, true) => draw_on(root, d, (x0..x1).log_scale(), (y0..y1).log_scale()),
    }
}

fn draw_on<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    d: &Prepared,
    xr: X,
    yr: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    let mut chart = ChartBuilder::on(root)
        .caption(&d.title, ("sans-serif", 26))
        .margin(18)
        .x_label_area_size(64)
        .y_label_area_size(96)
        .build_cartesian_2d(xr, yr)
        .map_err(e)?;
    let tick = |v: &f64| fmt_num(*v);
    let unit = d.y_unit.clone();
    let y_tick = move |v: &f64| match unit.as_str() {
        "fraction" | "usd" => crate::format::fmt_qty_short(*v, &unit),
        _ => fmt_num(*v),
    };
    chart
        .configure_mesh()
        .x_desc(d.x_label.as_str())
        .y_desc(d.y_label.as_str())
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 16))
        .x_label_formatter(&tick)
        .y_label_formatter(&y_tick)
        .x_max_light_lines(2)
        .y_max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(e)?;

    let n_lines = d.lines.len() as i32;
    // `px` pixels to the side of `x`, in data units (the plot is about 860 px wide).
    let (sx0, sx1) = d.x_range;
    let log_x = d.log_x;
    let shift = move |x: f64, px: i32| {
        let f = f64::from(px) / 860.0;
        if log_x {
            x * (sx1 / sx0).powf(f)
        } else {
            x + (sx1 - sx0) * f
        }
    };
    for (i, l) in d.lines.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        if d.dots {
            // One x value: dots with their intervals, side by side, no line to nowhere.
            let dx = 16 * i as i32 - 8 * (n_lines - 1);
            chart
                .draw_series(
                    l.pts
                        .iter()
                        .map(|p| Circle::new((shift(p.0, dx), p.1), 6, c.filled())),
                )
                .map_err(e)?
                .label(l.name.clone())
                .legend(move |(x, y)| Circle::new((x + 12, y), 6, c.filled()));
            for p in l.pts.iter().filter(|p| p.2 < p.3) {
                chart
                    .draw_series(std::iter::once(ErrorBar::new_vertical(
                        shift(p.0, dx),
                        p.2,
                        p.1,
                        p.3,
                        c.stroke_width(2),
                        10,
                    )))
                    .map_err(e)?;
            }
            continue;
        }
        if l.pts.len() >= 2 {
            let mut band: Vec<(f64, f64)> = l.pts.iter().map(|p| (p.0, p.3)).collect();
            band.extend(l.pts.iter().rev().map(|p| (p.0, p.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
                .map_err(e)?;
        }
        // Measured curves have no interval: no whiskers.
        chart
            .draw_series(
                l.pts
                    .iter()
                    .filter(|p| p.2 < p.3)
                    .map(|p| ErrorBar::new_vertical(p.0, p.2, p.1, p.3, c.stroke_width(1), 8)),
            )
            .map_err(e)?;
        chart
            .draw_series(
                LineSeries::new(l.pts.iter().map(|p| (p.0, p.1)), c.stroke_width(2)).point_size(4),
            )
            .map_err(e)?
            .label(l.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }

    let (x0, x1) = d.x_range;
    let (ylo, yhi) = d.y_range;
    let mut verdicts_seen: Vec<Verdict> = Vec::new();
    let mut thresholds = false;
    let mut drawn_bounds: Vec<(f64, Option<usize>)> = Vec::new();
    for m in &d.claims {
        let vc = verdict_color(m.verdict);
        // The claim wears its line's colour inside a ring of its verdict's.
        let sc = m
            .line
            .map(|i| PALETTE[i % PALETTE.len()])
            .unwrap_or(RGBColor(60, 60, 60));
        if !verdicts_seen.contains(&m.verdict) {
            verdicts_seen.push(m.verdict);
        }
        // A one-sided claim's bound is its dashed line; its marker sits on the value judged.
        let (v, lo, hi) = match m.mark {
            Mark::Approx { v, lo, hi } => (Some(v), Some(lo), Some(hi)),
            Mark::Range { lo, hi } => (Some((lo + hi) / 2.0), Some(lo), Some(hi)),
            Mark::Below(_) | Mark::Above(_) => (m.measured, None, None),
        };
        if let Mark::Below(t) | Mark::Above(t) = m.mark {
            thresholds = true;
            let below = matches!(m.mark, Mark::Below(_));
            // Claims sharing a bound share its line; their labels stack.
            let stacked = drawn_bounds.iter().filter(|(b, _)| *b == t).count() as i32;
            let first = !drawn_bounds.contains(&(t, m.line));
            drawn_bounds.push((t, m.line));
            if first {
                let edge = if below { ylo } else { yhi };
                // The claimed side shaded, the bound a dashed line across the plot.
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, t), (x1, edge)],
                        sc.mix(0.07).filled(),
                    )))
                    .map_err(e)?;
                let steps = 60;
                let at = |i: u32| {
                    let f = f64::from(i) / f64::from(steps);
                    if log_x {
                        x0 * (x1 / x0).powf(f)
                    } else {
                        x0 + (x1 - x0) * f
                    }
                };
                chart
                    .draw_series((0..steps).step_by(2).map(|i| {
                        PathElement::new(vec![(at(i), t), (at(i + 1), t)], sc.stroke_width(2))
                    }))
                    .map_err(e)?;
            }
            let sign = if below { "<" } else { ">" };
            let style = ("sans-serif", 15)
                .into_font()
                .color(&sc)
                .pos(Pos::new(HPos::Right, VPos::Bottom));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x1, t))
                        + Text::new(
                            format!("{} {sign} {}", m.id, y_tick(&t)),
                            (-8, -4 - 18 * stacked),
                            style,
                        ),
                ))
                .map_err(e)?;
        }
        if let (Some(v), Some(lo), Some(hi)) = (v, lo, hi) {
            chart
                .draw_series(std::iter::once(ErrorBar::new_vertical(
                    shift(m.x, m.dx),
                    lo,
                    v,
                    hi,
                    vc.stroke_width(2),
                    12,
                )))
                .map_err(e)?;
        }
        if let Some(v) = v {
            chart
                .draw_series(std::iter::once({
                    let (outer, inner) = diamond(vc, sc);
                    EmptyElement::at((shift(m.x, m.dx), v)) + outer + inner
                }))
                .map_err(e)?;
        }
    }
    // Flip points: a dashed vertical line across the plot, labelled.
    let (ylo, yhi) = d.y_range;
    for (i, (x, label)) in d.flips.iter().enumerate() {
        if !(d.x_range.0..=d.x_range.1).contains(x) {
            continue;
        }
        let c = verdict_color(Verdict::Depends);
        let steps = 40;
        let at = |i: u32| {
            let f = f64::from(i) / f64::from(steps);
            if d.log_y {
                ylo * (yhi / ylo).powf(f)
            } else {
                ylo + (yhi - ylo) * f
            }
        };
        chart
            .draw_series(
                (0..steps).step_by(2).map(|i| {
                    PathElement::new(vec![(*x, at(i)), (*x, at(i + 1))], c.stroke_width(2))
                }),
            )
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{label} at {}", fmt_num(*x)),
                (*x, at(steps - 2 - 3 * (i as u32 % 4))),
                ("sans-serif", 15).into_font().color(&c),
            )))
            .map_err(e)?;
    }
    verdicts_seen.sort();
    for v in verdicts_seen {
        let vc = verdict_color(v);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label(format!("claim ({})", v.as_str()))
            .legend(move |(x, y)| {
                let (outer, inner) = diamond(vc, RGBColor(200, 200, 200));
                EmptyElement::at((x + 12, y)) + outer + inner
            });
    }
    if thresholds {
        let c = RGBColor(90, 90, 90);
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label("claimed bound (shaded: the claimed side)")
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (7, 0)], c.stroke_width(2))
                    + PathElement::new(vec![(11, 0), (18, 0)], c.stroke_width(2))
                    + PathElement::new(vec![(22, 0), (24, 0)], c.stroke_width(2))
            });
    }

    chart
        .configure_series_labels()
        .position(d.corner.clone())
        .background_style(WHITE)
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 16))
        .margin(10)
        .draw()
        .map_err(e)?;
    Ok(())
}

/// A marker's shape, in pixels around its point.
type Shape = Polygon<(i32, i32)>;

/// A claim's marker: a diamond in its verdict's colour around its line's colour.
fn diamond(verdict: RGBColor, line: RGBColor) -> (Shape, Shape) {
    (
        Polygon::new(vec![(0, -11), (11, 0), (0, 11), (-11, 0)], verdict.filled()),
        Polygon::new(vec![(0, -6), (6, 0), (0, 6), (-6, 0)], line.filled()),
    )
}
