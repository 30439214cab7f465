//! From a summary to a chart's content: the points a chart shows (its filter, its x parameter,
//! one line per metric and series), the claims as markers, the labels, and then the padded
//! ranges, pinned markers and the legend's corner ([`fit`]).

use plotters::prelude::SeriesLabelPosition;

use super::{ClaimMark, Line, Mark, Prepared};
use crate::summary::{ChartSpec, Expected, Summary};

fn json_at<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(v, |cur, k| cur.get(k))
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The chart `spec` asks for, from the points and claims of `s`.
pub(super) fn prepare(spec: &ChartSpec, s: &Summary) -> Prepared {
    let points: Vec<_> = s
        .points
        .iter()
        .filter(|p| {
            spec.filter
                .iter()
                .all(|(k, v)| json_at(&p.params, k).is_some_and(|x| json_eq(x, v)))
        })
        .filter_map(|p| {
            json_at(&p.params, &spec.x)
                .and_then(|x| x.as_f64())
                .map(|x| (x, p))
        })
        .collect();

    let all_values = || {
        points.iter().flat_map(|(x, p)| {
            spec.y
                .iter()
                .filter_map(|m| p.metrics.get(m))
                .flat_map(move |e| [*x, e.mean, e.ci95[0], e.ci95[1]])
        })
    };
    let xs_positive = points.iter().all(|(x, _)| *x > 0.0);
    let ys_positive = points.iter().all(|(_, p)| {
        spec.y
            .iter()
            .filter_map(|m| p.metrics.get(m))
            .all(|e| e.ci95[0] > 0.0)
    });
    let _ = all_values;
    let log_x = spec.log_x && xs_positive;
    let log_y = spec.log_y && ys_positive;

    let series_of = |p: &crate::summary::PointResult| {
        spec.series
            .as_ref()
            .and_then(|k| json_at(&p.params, k))
            .map(crate::output::json_short)
    };
    let mut series_values: Vec<Option<String>> = Vec::new();
    for (_, p) in &points {
        let v = series_of(p);
        if !series_values.contains(&v) {
            series_values.push(v);
        }
    }
    let mut lines = Vec::new();
    for m in &spec.y {
        for sv in &series_values {
            let mut pts: Vec<(f64, f64, f64, f64)> = points
                .iter()
                .filter(|(_, p)| &series_of(p) == sv)
                .filter_map(|(x, p)| p.metrics.get(m).map(|e| (*x, e.mean, e.ci95[0], e.ci95[1])))
                // plotters loops forever choosing ticks near f64::MAX: leave such points out.
                .filter(|q| [q.0, q.1, q.2, q.3].iter().all(|v| v.abs() < 1e300))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            if pts.is_empty() {
                continue;
            }
            // Short legend entries: a named series by its value alone (`article-phone`), a
            // number with its parameter (`hard_cycle_share = 0.5`); the metric by its words.
            let value = match (sv, &spec.series) {
                (Some(v), Some(k)) if v.parse::<f64>().is_ok() || v == "true" || v == "false" => {
                    Some(format!("{k} = {v}"))
                }
                (Some(v), _) => Some(v.clone()),
                _ => None,
            };
            let mut name = match (value, spec.y.len()) {
                (Some(v), 1) => v,
                (Some(v), _) => format!("{}, {v}", metric_words(s, m)),
                (None, _) => metric_words(s, m),
            };
            // A point a real kernel calibrates, drawn from the scenario's own values because
            // the kernel did not run: say so.
            let fallback = points.iter().any(|(_, p)| {
                &series_of(p) == sv && p.metrics.contains_key(m) && uncalibrated(s, p)
            });
            if fallback {
                name.push_str(" (fallback: kernel not run)");
            }
            lines.push(Line {
                name,
                pts,
                metric: m.clone(),
                series: sv.clone(),
            });
        }
    }

    let mut claims = Vec::new();
    if spec.claims {
        for c in &s.claims {
            if !spec.y.contains(&c.metric) {
                continue;
            }
            let Some((x, _)) = points.iter().find(|(_, p)| p.index == c.point) else {
                continue;
            };
            let mark = mark_for(&c.expected);
            let sv = points
                .iter()
                .find(|(_, p)| p.index == c.point)
                .and_then(|(_, p)| series_of(p));
            let line = lines
                .iter()
                .position(|l| l.metric == c.metric && l.series == sv);
            claims.push(ClaimMark {
                x: *x,
                mark,
                verdict: c.verdict,
                id: c.id.clone(),
                line,
                measured: c
                    .measured
                    .as_ref()
                    .map(|m| m.mean)
                    .filter(|v| v.is_finite()),
                dx: 0,
            });
        }
    }

    // Flip points along this chart's parameter: a requested boundary, or where an assumed
    // value flips the verdict of a claim on one of its metrics.
    let mut flips = Vec::new();
    for v in s.verdicts.iter().filter(|v| spec.y.contains(&v.metric)) {
        // The requested boundary is the sharper of the two; an assumption's flip otherwise.
        if let Some(x) = v
            .boundary
            .as_ref()
            .filter(|b| b.param == spec.x)
            .and_then(|b| b.value)
        {
            flips.push((x, format!("{} flips", v.id)));
            continue;
        }
        for d in v.depends_on.iter().filter(|d| d.param == spec.x) {
            if let Some(x) = d.flips_at {
                flips.push((x, format!("{} flips", v.id)));
            }
        }
    }
    let unit = spec
        .y
        .iter()
        .find_map(|m| {
            s.points
                .iter()
                .find_map(|p| p.metrics.get(m).map(|e| e.unit.clone()))
        })
        .unwrap_or_default();
    let y_label = spec.y_label.clone().unwrap_or_else(|| {
        // A long list of names does not fit along the axis; the legend names them anyway.
        let names = match spec.y.as_slice() {
            [m] => metric_words(s, m),
            _ => {
                let words: Vec<String> = spec.y.iter().map(|m| metric_words(s, m)).collect();
                if words.join(", ").chars().count() > 30 {
                    "value".to_string()
                } else {
                    words.join(", ")
                }
            }
        };
        match unit_words(&unit) {
            "" => names,
            u => format!("{names} [{u}]"),
        }
    });
    // The band note only when the axis has room for it (about 55 characters at 20 px).
    let y_label = if y_label.chars().count() <= 36 {
        y_label + " (mean, 95% CI band)"
    } else {
        y_label
    };
    let mut title = spec.title.clone();
    if (spec.log_x && !log_x) || (spec.log_y && !log_y) {
        title.push_str(" (linear axis: values ≤ 0)");
    }
    let prepared = Prepared {
        corner: SeriesLabelPosition::UpperLeft,
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        title,
        x_label: spec
            .x_label
            .clone()
            .unwrap_or_else(|| spec.x.replace('_', " ")),
        y_label,
        log_x,
        log_y,
        lines,
        claims,
        flips,
        y_unit: unit,
        dots: false,
    };
    let mut prepared = fit(prepared);
    // Axes stop at the metric's range: a fraction axis at 0% and 100%.
    let (lo, hi) = spec
        .y
        .iter()
        .map(|m| metric_range(s, m))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, b| {
            (a.0.min(b.0), a.1.max(b.1))
        });
    let (y0, y1) = prepared.y_range;
    let y0 = if log_y || !lo.is_finite() {
        y0
    } else {
        y0.max(lo)
    };
    let y1 = if hi.is_finite() { y1.min(hi) } else { y1 };
    if y1 > y0 {
        prepared.y_range = (y0, y1);
    }
    prepared
}

/// A metric in words for an axis or legend: its description (first letter capitalised) when
/// short enough, else its name with spaces.
fn metric_words(s: &Summary, m: &str) -> String {
    let def = sims::registry::find(&s.scenario.sim).and_then(|sim| sim.metric_def(m));
    match def.map(|d| d.description.trim_end_matches('.')) {
        Some(d) if !d.is_empty() && d.chars().count() <= 44 => {
            let mut c = d.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        _ => m.replace('_', " "),
    }
}

/// The values a metric can take (its kind's range); unbounded when the room does not say.
fn metric_range(s: &Summary, m: &str) -> (f64, f64) {
    sims::registry::find(&s.scenario.sim)
        .and_then(|sim| sim.metric_def(m))
        .map(|d| d.range())
        .unwrap_or((f64::NEG_INFINITY, f64::INFINITY))
}

/// A unit as an axis shows it: fractions in percent, money in dollars.
pub(super) fn unit_words(unit: &str) -> &str {
    match unit {
        "fraction" => "%",
        "usd" => "$",
        "x" => "×",
        u => u,
    }
}

/// Whether `p` is a point a real kernel would calibrate (`this-machine`) whose kernel did not
/// run, so it shows the scenario's fallback values.
fn uncalibrated(s: &Summary, p: &crate::summary::PointResult) -> bool {
    let named = p
        .label
        .as_deref()
        .is_some_and(|l| l.split(" (").next() == Some("this-machine"));
    named && !s.real.is_empty() && s.real.iter().all(|r| r.status != "ok")
}

/// Ranges, pinned claim markers, claims side by side, and the legend's corner.
pub(super) fn fit(mut prepared: Prepared) -> Prepared {
    // One x value (a quick run's single horizon, or points differing only off the axis): dots.
    prepared.dots = !prepared.lines.is_empty()
        && prepared
            .lines
            .iter()
            .all(|l| l.pts.iter().all(|p| p.0 == l.pts[0].0));
    // Claims at one x side by side (14 px apart), so none hides another.
    let xs: Vec<f64> = prepared.claims.iter().map(|c| c.x).collect();
    for i in 0..prepared.claims.len() {
        let same: Vec<usize> = (0..xs.len()).filter(|&j| xs[j] == xs[i]).collect();
        let k = same.iter().position(|&j| j == i).unwrap_or(0) as i32;
        prepared.claims[i].dx = 14 * k - 7 * (same.len() as i32 - 1);
    }
    let log_y = prepared.log_y;
    let (xr, yr) = ranges(&prepared);
    // Markers far outside the axes would overflow pixel coordinates; pin them just outside.
    let (ylo, yhi) = yr;
    let pin = |v: &mut f64| {
        *v = if log_y {
            v.clamp(ylo / 10.0, yhi * 10.0)
        } else {
            v.clamp(ylo - (yhi - ylo), yhi + (yhi - ylo))
        }
    };
    for c in &mut prepared.claims {
        match &mut c.mark {
            Mark::Approx { v, lo, hi } => [v, lo, hi].into_iter().for_each(pin),
            Mark::Range { lo, hi } => [lo, hi].into_iter().for_each(pin),
            Mark::Below(v) | Mark::Above(v) => pin(v),
        }
        if let Some(v) = &mut c.measured {
            pin(v);
        }
    }
    let (corner, hidden) = legend_corner(&prepared, xr, yr);
    prepared.corner = corner;
    prepared.x_range = xr;
    prepared.y_range = yr;
    if hidden > 0 {
        // Every corner has data: make room above it instead of covering any.
        prepared.corner = SeriesLabelPosition::UpperLeft;
        prepared.y_range = if log_y {
            (ylo, yhi * (yhi / ylo).powf(0.5))
        } else {
            (ylo, yhi + 0.5 * (yhi - ylo))
        };
    }
    prepared
}

/// The corner whose legend box would cover the fewest plotted points (lines sampled along
/// their segments, bands' edges and claim markers), and how many it covers; upper left wins
/// ties.
fn legend_corner(
    d: &Prepared,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> (SeriesLabelPosition, usize) {
    let norm = |v: f64, lo: f64, hi: f64, log: bool| {
        if log {
            (v.max(f64::MIN_POSITIVE).ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        }
    };
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for l in &d.lines {
        for w in l.pts.windows(2) {
            for i in 0..=10 {
                let t = i as f64 / 10.0;
                for (a, b) in [(w[0].1, w[1].1), (w[0].2, w[1].2), (w[0].3, w[1].3)] {
                    pts.push((w[0].0 + t * (w[1].0 - w[0].0), a + t * (b - a)));
                }
            }
        }
        if l.pts.len() == 1 {
            pts.push((l.pts[0].0, l.pts[0].1));
        }
    }
    for c in &d.claims {
        let y = match c.mark {
            Mark::Approx { v, .. } => Some(v),
            Mark::Below(_) | Mark::Above(_) => c.measured,
            Mark::Range { lo, hi } => Some((lo + hi) / 2.0),
        };
        for y in std::iter::repeat_n(y, 5).flatten() {
            pts.push((c.x, y));
        }
    }
    // The legend box spans about the left or right 55% and the top or bottom 30%.
    let count = |left: bool, top: bool| {
        pts.iter()
            .filter(|(x, y)| {
                let nx = norm(*x, x0, x1, d.log_x);
                let ny = norm(*y, y0, y1, d.log_y);
                (if left { nx < 0.55 } else { nx > 0.45 })
                    && (if top { ny > 0.7 } else { ny < 0.3 })
            })
            .count()
    };
    [
        (SeriesLabelPosition::UpperLeft, count(true, true)),
        (SeriesLabelPosition::UpperRight, count(false, true)),
        (SeriesLabelPosition::LowerRight, count(false, false)),
        (SeriesLabelPosition::LowerLeft, count(true, false)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .unwrap_or((SeriesLabelPosition::UpperLeft, 0))
}

fn mark_for(e: &Expected) -> Mark {
    let (lo, hi) = e.range();
    if let Some(v) = e.approx {
        Mark::Approx { v, lo, hi }
    } else if lo.is_finite() && hi.is_finite() {
        Mark::Range { lo, hi }
    } else if hi.is_finite() {
        Mark::Below(hi)
    } else {
        Mark::Above(lo)
    }
}

/// Padded plot ranges covering lines, bands and claim markers.
fn ranges(d: &Prepared) -> ((f64, f64), (f64, f64)) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for l in &d.lines {
        for p in &l.pts {
            xs.push(p.0);
            ys.extend([p.1, p.2, p.3]);
        }
    }
    // Claims widen the range, but only up to a few data spans away: an absurd claimed value
    // (1e308) must not squash the data into a line or overflow the axis.
    let finite = |v: &[f64]| {
        let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let (dlo, dhi) = finite(&ys);
    let reach = if dlo.is_finite() {
        (dhi - dlo).abs().max(dhi.abs()).max(1e-12) * 5.0
    } else {
        f64::INFINITY
    };
    let near = |v: f64| v.is_finite() && (!dlo.is_finite() || (v > dlo - reach && v < dhi + reach));
    for c in &d.claims {
        xs.push(c.x);
        let vals: Vec<f64> = match c.mark {
            Mark::Approx { v, lo, hi } => vec![v, lo, hi],
            Mark::Range { lo, hi } => vec![lo, hi],
            Mark::Below(v) | Mark::Above(v) => vec![v],
        };
        ys.extend(vals.into_iter().chain(c.measured).filter(|v| near(*v)));
    }
    let span = |v: &[f64], log: bool| {
        let v: Vec<f64> = v
            .iter()
            .copied()
            .filter(|x| x.is_finite() && (!log || *x > 0.0))
            .collect();
        if v.is_empty() {
            return if log { (0.1, 10.0) } else { (0.0, 1.0) };
        }
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if log {
            // Multiplicative padding; at least a factor of 10 overall so ticks exist.
            let (mut lo, mut hi) = (lo / 1.15, hi * 1.15);
            if hi / lo < 10.0 {
                let mid = (lo * hi).sqrt();
                lo = mid / 10f64.sqrt();
                hi = mid * 10f64.sqrt();
            }
            return (lo, hi);
        }
        let pad = if hi > lo {
            (hi - lo) * 0.06
        } else if lo != 0.0 {
            lo.abs() * 0.1
        } else {
            0.5
        };
        let (lo, hi) = (lo - pad, hi + pad);
        if lo.is_finite() && hi.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (-1.0, 1.0)
        }
    };
    (span(&xs, d.log_x), span(&ys, d.log_y))
}
