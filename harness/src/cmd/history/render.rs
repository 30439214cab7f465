//! `history.md`, `history.html` (inline SVG charts: the metric over commits with its 95% band,
//! each commit's point coloured by the claim's verdict there, steps marked) and `history.json`.

use std::fmt::Write as _;
use std::path::Path;

use super::{History, Series};
use crate::error::LabError;
use crate::format::{fmt_est, fmt_num, fmt_qty_short};
use crate::output::{Block, Document, Table, escape_html, to_html, to_markdown};
use crate::summary::Verdict;

/// Writes the three files into `out` (each through a temporary file and a rename).
pub fn write(out: &Path, h: &History) -> Result<(), LabError> {
    let doc = document(h);
    let put = |name: &str, text: &str| -> Result<(), LabError> {
        let path = out.join(name);
        let tmp = out.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                LabError::bad(format!("{}: cannot write: {e}", path.display()))
            })
    };
    put("history.md", &to_markdown(&doc))?;
    put(
        "history.html",
        &to_html(&doc, out).map_err(|e| LabError::internal(e.to_string()))?,
    )?;
    let json = serde_json::json!({
        "rule": "binary segmentation; a split is a step when z >= Phi^-1(1 - alpha/(2(n-1))) with alpha = 0.05 and |after - before| >= threshold * max(|before|, |after|)",
        "history": h,
    });
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| LabError::internal(format!("history.json: {e}")))?;
    put("history.json", &(text + "\n"))
}

fn pct(x: f64) -> String {
    format!("{}{}%", if x >= 0.0 { "+" } else { "" }, fmt_num(x * 100.0))
}

/// The history as a report: verdict changes first, then steps, commits, claims with charts.
fn document(h: &History) -> Document {
    let runs: usize = h.commits.iter().map(|c| c.runs.len()).sum();
    let steps: usize = h.series.iter().map(|s| s.steps.len()).sum();
    let mut d = Document::new(format!(
        "History: {runs} runs over {} commits",
        h.commits.len()
    ));
    d.paragraph(format!(
        "{} verdict change(s), {steps} step(s) in {} metric series. A step is a change of level \
         found by binary segmentation whose z ≥ the two-sided 5% critical value corrected for \
         the splits tried and whose size is at least {}% of the level (the noise threshold).",
        h.verdict_changes.len(),
        h.series.len(),
        fmt_num(h.threshold * 100.0)
    ));
    let commit = |i: usize| h.commits.get(i).map(|c| c.short()).unwrap_or_default();
    d.heading(2, "Verdict changes", Some("verdicts"));
    if h.verdict_changes.is_empty() {
        d.paragraph("No claim changed its verdict of record across these commits.");
    } else {
        let mut t = Table::new(["scenario", "claim", "first commit", "date", "from", "to"]);
        t.rows = h
            .verdict_changes
            .iter()
            .map(|v| {
                vec![
                    v.scenario.clone(),
                    v.claim.clone(),
                    commit(v.at),
                    h.commits[v.at].date.clone(),
                    v.from.as_str().into(),
                    v.to.as_str().into(),
                ]
            })
            .collect();
        t.verdict_col = Some(5);
        d.push(Block::Table(t));
    }
    d.heading(2, "Steps", Some("steps"));
    let stepped: Vec<&Series> = h.series.iter().filter(|s| !s.steps.is_empty()).collect();
    if stepped.is_empty() {
        d.paragraph("No metric changed level beyond the noise threshold.");
    } else {
        let mut t = Table::new([
            "scenario",
            "point",
            "metric",
            "first commit",
            "before",
            "after",
            "change",
            "z",
        ]);
        for s in &stepped {
            for st in &s.steps {
                t.rows.push(vec![
                    s.scenario.clone(),
                    s.point_label.clone(),
                    s.metric.clone(),
                    commit(st.at),
                    fmt_qty_short(st.before, &s.unit),
                    fmt_qty_short(st.after, &s.unit),
                    pct(st.rel_change),
                    fmt_num(st.z),
                ]);
            }
        }
        d.push(Block::Table(t));
    }
    d.heading(2, "Commits", Some("commits"));
    let mut t = Table::new(["#", "commit", "date", "dated by", "subject", "runs"]);
    t.rows = h
        .commits
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                (i + 1).to_string(),
                c.short(),
                c.date.clone(),
                c.date_source.clone(),
                c.subject.clone(),
                c.runs.len().to_string(),
            ]
        })
        .collect();
    d.push(Block::Table(t));
    claims_section(&mut d, h);
    let other: Vec<&&Series> = stepped.iter().filter(|s| s.claims.is_empty()).collect();
    if !other.is_empty() {
        d.heading(2, "Other metrics with steps", Some("other"));
        for s in other {
            d.push(chart_block(h, s, None));
        }
    }
    if !h.notes.is_empty() {
        d.heading(2, "Notes", Some("notes"));
        d.push(Block::Bullets(h.notes.clone()));
    }
    d
}

/// Per claim: its verdicts over the commits and the chart of its metric at its point of record.
fn claims_section(d: &mut Document, h: &History) {
    d.heading(2, "Claims", Some("claims"));
    let mut scenario = "";
    for c in &h.claims {
        if c.scenario != scenario {
            scenario = &c.scenario;
            d.heading(3, scenario.to_string(), None);
        }
        let first = c.verdicts.iter().flatten().next();
        let last = c.verdicts.iter().flatten().last();
        let series = h
            .series
            .iter()
            .find(|s| s.scenario == c.scenario && s.claims.contains(&c.claim));
        let latest = series
            .and_then(|s| s.values.iter().flatten().last())
            .map(|e| format!("; latest {}", fmt_est(e.mean, e.ci95, &e.unit)))
            .unwrap_or_default();
        d.paragraph(format!(
            "{} — {}: {} at the first commit, {} at the last{latest}{}",
            c.claim,
            c.text,
            first.map_or("-", |v| v.as_str()),
            last.map_or("-", |v| v.as_str()),
            if c.mixed.is_empty() {
                String::new()
            } else {
                format!("; runs of {} commit(s) disagreed", c.mixed.len())
            }
        ));
        if let Some(s) = series {
            d.push(chart_block(h, s, Some(&c.verdicts)));
        }
    }
}

fn chart_block(h: &History, s: &Series, verdicts: Option<&[Option<Verdict>]>) -> Block {
    Block::Svg {
        title: format!(
            "{} · {} at {}{}",
            s.scenario,
            s.metric,
            s.point_label,
            if s.steps.is_empty() {
                String::new()
            } else {
                format!(
                    " · step(s) at {}",
                    s.steps
                        .iter()
                        .map(|st| h.commits[st.at].short())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        svg: svg_chart(h, s, verdicts),
    }
}

fn verdict_fill(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Holds) => "#2e7d32",
        Some(Verdict::Fails) => "#c62828",
        Some(Verdict::Depends) => "#6a1b9a",
        Some(Verdict::Inconclusive) => "#ef6c00",
        Some(Verdict::NotRun) => "#9e9e9e",
        None => "#1f4e9a",
    }
}

/// The metric over the commits: 95% band, means, verdict-coloured points, steps as dashed
/// red lines with the segment levels.
fn svg_chart(h: &History, s: &Series, verdicts: Option<&[Option<Verdict>]>) -> String {
    const W: f64 = 760.0;
    const H: f64 = 260.0;
    const L: f64 = 80.0;
    const R: f64 = 20.0;
    const T: f64 = 15.0;
    const B: f64 = 60.0;
    let k = h.commits.len().max(1);
    let pts: Vec<(usize, &crate::summary::MetricEstimate)> = s
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().map(|e| (i, e)))
        .collect();
    let (mut lo, mut hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, e)| {
            (a.min(e.ci95[0]).min(e.mean), b.max(e.ci95[1]).max(e.mean))
        });
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = (hi.abs() * 0.05).max(1e-9);
        (lo, hi) = (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.08;
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |i: usize| L + (i as f64 + 0.5) * (W - L - R) / k as f64;
    let y = |v: f64| T + (hi - v) / (hi - lo) * (H - T - B);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">\
         <rect x=\"{L}\" y=\"{T}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        W - L - R,
        H - T - B
    );
    for j in 0..=4 {
        let v = lo + (hi - lo) * j as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            o,
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 4.0,
            yy + 4.0,
            escape_html(&fmt_qty_short(v, &s.unit))
        );
    }
    let every = k.div_ceil(30);
    for (i, c) in h.commits.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let xx = x(i);
        let _ = write!(
            o,
            "<text transform=\"translate({xx:.1},{:.1}) rotate(-40)\" text-anchor=\"end\">{}</text>",
            H - B + 12.0,
            escape_html(&c.sha.chars().take(7).collect::<String>())
        );
    }
    if pts.len() > 1 {
        let mut band = String::new();
        for (i, e) in &pts {
            let _ = write!(band, "{:.1},{:.1} ", x(*i), y(e.ci95[1]));
        }
        for (i, e) in pts.iter().rev() {
            let _ = write!(band, "{:.1},{:.1} ", x(*i), y(e.ci95[0]));
        }
        let line: String = pts
            .iter()
            .map(|(i, e)| format!("{:.1},{:.1}", x(*i), y(e.mean)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            o,
            "<polygon points=\"{band}\" fill=\"#1f4e9a\" fill-opacity=\"0.15\"/>\
             <polyline points=\"{line}\" fill=\"none\" stroke=\"#1f4e9a\" stroke-width=\"1.5\"/>"
        );
    }
    // Segment levels and step lines.
    let mut bounds = vec![0];
    bounds.extend(s.steps.iter().map(|st| st.at));
    bounds.push(k);
    for (j, st) in s.steps.iter().enumerate() {
        let xs = (x(st.at - 1) + x(st.at)) / 2.0;
        let _ = write!(
            o,
            "<line x1=\"{xs:.1}\" x2=\"{xs:.1}\" y1=\"{T}\" y2=\"{}\" stroke=\"#c62828\" stroke-dasharray=\"5,3\"/>\
             <text x=\"{:.1}\" y=\"{}\" fill=\"#c62828\">step {}</text>",
            H - B,
            xs + 3.0,
            T + 12.0,
            escape_html(&pct(st.rel_change))
        );
        for (a, b, level) in [
            (bounds[j], st.at, st.before),
            (st.at, bounds[j + 2], st.after),
        ] {
            let _ = write!(
                o,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#c62828\" stroke-opacity=\"0.5\"/>",
                x(a) - 4.0,
                x(b.max(a + 1) - 1) + 4.0,
                yy = y(level)
            );
        }
    }
    for (i, e) in &pts {
        let v = verdicts.and_then(|vs| vs.get(*i).copied().flatten());
        let tip = format!(
            "{}: {}{}",
            h.commits[*i].short(),
            fmt_est(e.mean, e.ci95, &e.unit),
            v.map(|v| format!(" ({})", v.as_str())).unwrap_or_default()
        );
        let _ = write!(
            o,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"><title>{}</title></circle>",
            x(*i),
            y(e.mean),
            verdict_fill(v),
            escape_html(&tip)
        );
    }
    o.push_str("</svg>");
    o
}
