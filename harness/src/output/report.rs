//! The scenario report's content, built once from a summary as a [`Document`]: the run's
//! facts, the verdicts first, the real kernels, the points and the charts. `markdown.rs` and
//! `html.rs` write it as `report.md` and `report.html`, so the two never disagree.

use super::doc::{Block, Document, Table};
use crate::analysis::tally;
use crate::format::{fmt_est, fmt_qty};
use crate::summary::{RealResult, Summary, VerdictRecord, fmt_num};

/// Builds the report of `s`; `charts` are the (title, slug) of the charts drawn for it.
pub(crate) fn build(s: &Summary, charts: &[(String, String)]) -> Document {
    let title = if s.scenario.title.is_empty() {
        s.scenario.id.clone()
    } else {
        s.scenario.title.clone()
    };
    let mut d = Document::new(title);
    if s.provenance.quick {
        d.paragraph(
            "PREVIEW (--quick): fewer replications and a shorter horizon. A preview may be less \
             certain than the full run, never opposite; claims whose parameters --quick changes \
             are inconclusive here.",
        );
    }
    d.push(Block::Definitions(run_facts(s)));

    let (mechanism, arithmetic): (Vec<&VerdictRecord>, Vec<&VerdictRecord>) =
        s.verdicts.iter().partition(|v| v.kind != "arithmetic");
    d.heading(2, "Decision", Some("decision"));
    if s.verdicts.is_empty() {
        d.paragraph("This scenario makes no claims.");
    } else {
        d.paragraph(counts_line(&mechanism));
        d.push(Block::Table(decision(s, &mechanism)));
    }
    if !arithmetic.is_empty() {
        d.heading(2, "Arithmetic checks", Some("arithmetic"));
        d.paragraph(format!(
            "The article's numbers checked against each other or a formula; not counted with the \
             mechanism's verdicts. {}",
            counts_line(&arithmetic)
        ));
        d.push(Block::Table(decision(s, &arithmetic)));
    }
    d.heading(2, "Every claim at every point", Some("verdicts"));
    let t = tally(s.claims.iter().map(|c| c.verdict));
    d.paragraph(format!(
        "Rows of record first for each claim, then its what-if rows. {} holds, {} fails, {} inconclusive, {} not_run.",
        t[0], t[1], t[2], t[3]
    ));
    let verdicts = verdicts(s);
    if !verdicts.rows.is_empty() {
        d.push(Block::Table(verdicts));
    }
    if !s.real.is_empty() {
        d.heading(2, "Real kernels", Some("real"));
        d.push(Block::Table(real_kernels(s)));
    }
    for r in s.real.iter().filter(|r| !r.metrics.is_empty()) {
        real_kernel(&mut d, s, r);
    }
    d.heading(2, "Points", Some("points"));
    d.paragraph("Mean ± half-width of the 95% confidence interval across replications.");
    d.push(Block::Table(points(s)));
    if !charts.is_empty() {
        d.heading(2, "Charts", Some("charts"));
        for (title, slug) in charts {
            d.push(Block::Image {
                title: title.clone(),
                slug: slug.clone(),
            });
        }
    }
    d
}

/// "7 holds, 2 fails, 1 depends, ..." over verdicts of record.
pub fn counts_line(records: &[&VerdictRecord]) -> String {
    let t = tally(records.iter().map(|v| v.verdict));
    let mut parts = vec![
        format!("{} holds", t[0]),
        format!("{} fails", t[1]),
        format!("{} depends", t[4]),
        format!("{} inconclusive", t[2]),
    ];
    if t[3] > 0 {
        parts.push(format!("{} not_run", t[3]));
    }
    format!("{} claims: {}.", records.len(), parts.join(", "))
}

/// The decision: one line per claim of record, its verdict, the value against the claim, and
/// what would flip it.
fn decision(s: &Summary, records: &[&VerdictRecord]) -> Table {
    Table {
        headers: [
            "claim",
            "verdict",
            "measured vs claimed",
            "what would flip it",
            "why",
        ]
        .map(String::from)
        .to_vec(),
        rows: records
            .iter()
            .map(|v| {
                let row = v.rows.first().and_then(|&i| s.claims.get(i));
                let measured = row
                    .map(|c| {
                        let m = c
                            .measured
                            .as_ref()
                            .map(|m| fmt_est(m.mean, m.ci95, &m.unit))
                            .unwrap_or_else(|| "-".into());
                        let unit = c.measured.as_ref().map_or("", |m| m.unit.as_str());
                        format!(
                            "{m} vs {} at {}",
                            c.expected.describe_in(unit),
                            claim_point(s, c)
                        )
                    })
                    .unwrap_or_default();
                vec![
                    format!("{} — {}", v.id, v.text),
                    v.verdict.as_str().to_string(),
                    measured,
                    flip_condition(v),
                    if v.note.is_empty() {
                        v.reason.clone()
                    } else {
                        format!("{} {}", v.reason, v.note)
                    },
                ]
            })
            .collect(),
        verdict_col: Some(1),
    }
}

/// What would flip a verdict of record: its dependences and its boundary, in words.
pub fn flip_condition(v: &VerdictRecord) -> String {
    let mut parts: Vec<String> = v
        .depends_on
        .iter()
        .filter(|d| d.flips_at.is_some())
        .map(crate::verdicts::describe_flip)
        .collect();
    let stable: Vec<&str> = v
        .depends_on
        .iter()
        .filter(|d| d.flips_at.is_none())
        .map(|d| d.param.as_str())
        .collect();
    if !stable.is_empty() {
        parts.push(format!(
            "each alone: stable across the range of {}",
            stable.join(", ")
        ));
    }
    if let Some(b) = &v.boundary {
        parts.push(match (b.value, b.ci95, b.holds_when.as_deref()) {
            (Some(x), ci, side) => format!(
                "flips at {} = {}{}{}",
                b.param,
                fmt_num(x),
                ci.map(|[a, c]| format!(" [{}, {}]", fmt_num(a), fmt_num(c)))
                    .unwrap_or_default(),
                side.map(|s| format!(", holds {s}")).unwrap_or_default()
            ),
            (None, _, _) => b.reason.clone(),
        });
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join("; ")
    }
}

/// What ran, where and when: the report's first lines.
fn run_facts(s: &Summary) -> Vec<(String, String)> {
    let p = &s.provenance;
    let mut meta = vec![
        ("scenario".to_string(), s.scenario.id.clone()),
        ("simulation".into(), s.scenario.sim.clone()),
    ];
    if !s.scenario.article.is_empty() {
        meta.push(("article".into(), s.scenario.article.clone()));
    }
    meta.extend([
        (
            "commit".into(),
            format!(
                "{}{}",
                p.git_commit,
                if p.git_dirty { " (dirty)" } else { "" }
            ),
        ),
        ("lab version".into(), p.lab_version.clone()),
        (
            "seed, replications".into(),
            format!(
                "{}, {}{}",
                p.seed,
                p.replications,
                if p.quick { " (quick)" } else { "" }
            ),
        ),
        ("host".into(), p.host.clone()),
        (
            "started".into(),
            format!("{} ({:.1} s)", p.started_at, p.wall_s),
        ),
    ]);
    if !p.overrides.is_empty() {
        meta.push(("overrides".into(), p.overrides.join(" ")));
    }
    if p.probe_replications > 0 {
        meta.push((
            "robustness probes".into(),
            format!(
                "{} replications at moved assumptions and boundaries",
                p.probe_replications
            ),
        ));
    }
    meta
}

/// One row per claim: where, what was expected and measured, the verdict and why.
fn verdicts(s: &Summary) -> Table {
    Table {
        headers: [
            "claim",
            "point",
            "metric",
            "expected",
            "measured (95% CI)",
            "verdict",
            "reason",
            "claim says",
            "of record",
        ]
        .map(String::from)
        .to_vec(),
        rows: s
            .claims
            .iter()
            .map(|c| {
                let measured = c
                    .measured
                    .as_ref()
                    .map(|m| fmt_est(m.mean, m.ci95, &m.unit))
                    .unwrap_or_else(|| "-".into());
                let unit = c.measured.as_ref().map_or("", |m| m.unit.as_str());
                vec![
                    c.id.clone(),
                    claim_point(s, c),
                    c.metric.clone(),
                    c.expected.describe_in(unit),
                    measured,
                    c.verdict.as_str().to_string(),
                    c.reason.clone(),
                    c.text.clone(),
                    if c.of_record { "yes" } else { "what-if" }.to_string(),
                ]
            })
            .collect(),
        verdict_col: Some(5),
    }
}

/// One row per real kernel: whether it ran, and how long it took.
fn real_kernels(s: &Summary) -> Table {
    Table {
        headers: ["kernel", "status", "reason", "seconds"]
            .map(String::from)
            .to_vec(),
        rows: s
            .real
            .iter()
            .map(|r| {
                vec![
                    r.kernel.clone(),
                    r.status.clone(),
                    r.reason.clone(),
                    format!("{:.1}", r.wall_s),
                ]
            })
            .collect(),
        verdict_col: None,
    }
}

/// A kernel that measured: its facts (where it ran, what it calibrated), its findings and its
/// measurements.
fn real_kernel(d: &mut Document, s: &Summary, r: &RealResult) {
    let mut facts: Vec<(String, String)> = r
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !r.calibration.is_empty() {
        let values: Vec<String> = r
            .calibration
            .iter()
            .map(|(k, v)| format!("{k} = {}", super::json_short(v)))
            .collect();
        // Points by their [[points]] name (a sweep gives many points of one name).
        let mut points: Vec<String> = Vec::new();
        for &i in &r.calibrated_points {
            let p = s.points.iter().find(|p| p.index == i);
            let name = p
                .and_then(|p| p.label.as_deref())
                .map(|l| l.split(" (").next().unwrap_or(l).to_string())
                .unwrap_or_else(|| super::point_label(s, i));
            if !points.contains(&name) {
                points.push(name);
            }
        }
        let points: Vec<String> = points
            .into_iter()
            .map(|n| {
                let k = r
                    .calibrated_points
                    .iter()
                    .filter(|&&i| {
                        s.points.iter().any(|p| {
                            p.index == i
                                && p.label
                                    .as_deref()
                                    .is_some_and(|l| l.split(" (").next() == Some(n.as_str()))
                        })
                    })
                    .count();
                if k > 1 {
                    format!("{n} ({k} points)")
                } else {
                    n
                }
            })
            .collect();
        facts.push((
            "calibration".into(),
            if points.is_empty() {
                format!("{} (measured; no point takes them)", values.join(", "))
            } else {
                format!("{} → {}", values.join(", "), points.join("; "))
            },
        ));
    }
    d.heading(3, format!("Real kernel `{}`", r.kernel), None);
    d.push(Block::Definitions(facts));
    for f in &r.findings {
        d.push(Block::Quote(f.clone()));
    }
    d.push(Block::Table(Table {
        headers: ["measurement", "value [95% CI]", "n"]
            .map(String::from)
            .to_vec(),
        rows: r
            .metrics
            .iter()
            .map(|(k, v)| {
                let unit = r.units.get(k).map_or("", String::as_str);
                vec![
                    crate::expectation::MetricSource::real(k).to_string(),
                    match r.ci95.get(k) {
                        Some(c) => fmt_est(*v, *c, unit),
                        None => fmt_qty(*v, unit),
                    },
                    r.n.get(k)
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "1".into()),
                ]
            })
            .collect(),
        verdict_col: None,
    }));
}

/// The points' estimates: one column per metric when that fits on a screen, else one row per
/// (point, metric).
fn points(s: &Summary) -> Table {
    let varying = super::varying_params(s);
    let metric_names: Vec<String> = {
        let mut names: Vec<String> = s
            .points
            .iter()
            .flat_map(|p| p.metrics.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let estimate = |e: &crate::summary::MetricEstimate| fmt_est(e.mean, e.ci95, &e.unit);
    let point_name =
        |p: &crate::summary::PointResult| p.label.clone().unwrap_or_else(|| p.index.to_string());
    let params_of = |p: &crate::summary::PointResult| -> Vec<String> {
        varying
            .iter()
            .map(|k| {
                p.params
                    .get(k)
                    .map(super::json_short)
                    .unwrap_or_else(|| "-".into())
            })
            .collect()
    };
    // A wide table (one column per metric) reads best when it fits on a screen; otherwise one
    // row per (point, metric), listing only the metrics the point has.
    let wide = metric_names.len() + varying.len() <= 16;
    if wide {
        let mut headers = vec!["point".to_string()];
        headers.extend(varying.iter().cloned());
        headers.extend(metric_names.iter().map(|m| {
            let unit = s
                .points
                .iter()
                .find_map(|p| p.metrics.get(m).map(|e| e.unit.clone()))
                .unwrap_or_default();
            if unit.is_empty() {
                m.clone()
            } else {
                format!("{m} [{unit}]")
            }
        }));
        Table {
            headers,
            rows: s
                .points
                .iter()
                .map(|p| {
                    let mut row = vec![point_name(p)];
                    row.extend(params_of(p));
                    row.extend(
                        metric_names
                            .iter()
                            .map(|m| p.metrics.get(m).map(estimate).unwrap_or_else(|| "-".into())),
                    );
                    row
                })
                .collect(),
            verdict_col: None,
        }
    } else {
        Table {
            headers: [
                "point",
                "parameters",
                "metric",
                "mean ± 95% CI half-width",
                "unit",
            ]
            .map(String::from)
            .to_vec(),
            rows: s
                .points
                .iter()
                .flat_map(|p| {
                    let params: Vec<String> = varying
                        .iter()
                        .zip(params_of(p))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let params = params.join(", ");
                    let name = point_name(p);
                    // Parameters once per point, on its first row.
                    p.metrics.iter().enumerate().map(move |(i, (m, e))| {
                        let params = if i == 0 {
                            params.clone()
                        } else {
                            String::new()
                        };
                        vec![name.clone(), params, m.clone(), estimate(e), e.unit.clone()]
                    })
                })
                .collect(),
            verdict_col: None,
        }
    }
}

/// Where a claim was judged: a point, or the real kernel for a measurement.
fn claim_point(s: &Summary, c: &crate::summary::ClaimResult) -> String {
    if c.source().is_real() {
        let kernel = s.real.first().map(|r| r.kernel.as_str()).unwrap_or("none");
        format!("real kernel {kernel}")
    } else {
        super::point_label(s, c.point)
    }
}
