//! The report's content, built once from a summary ([`build`]) and rendered as Markdown
//! ([`report`]); `html.rs` renders the same [`Doc`], so the two never disagree.

use std::fmt::Write as _;

use crate::analysis::tally;
use crate::summary::{Summary, Verdict, fmt_num};

/// A table: header and rows of plain-text cells.
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Column holding a verdict, to colour in HTML.
    pub verdict_col: Option<usize>,
}

/// Everything a report shows, as text.
pub(crate) struct Doc {
    pub title: String,
    pub meta: Vec<(String, String)>,
    pub verdict_counts: String,
    pub verdicts: Table,
    pub real: Option<Table>,
    /// Per kernel that ran: its heading, facts (where it ran, what it calibrated), measured
    /// values and findings.
    pub real_details: Vec<RealDetail>,
    pub points: Table,
    /// (title, slug) of each chart.
    pub charts: Vec<(String, String)>,
}

/// One real kernel's measurements.
pub(crate) struct RealDetail {
    pub heading: String,
    pub facts: Vec<(String, String)>,
    pub metrics: Table,
    pub findings: Vec<String>,
}

/// Builds the report content.
pub(crate) fn build(s: &Summary, charts: &[(String, String)]) -> Doc {
    let p = &s.provenance;
    let title = if s.scenario.title.is_empty() {
        s.scenario.id.clone()
    } else {
        s.scenario.title.clone()
    };
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

    let t = tally(&s.claims);
    let verdict_counts = format!(
        "{} holds, {} fails, {} inconclusive, {} not_run",
        t[0], t[1], t[2], t[3]
    );
    let verdicts = Table {
        headers: [
            "claim",
            "point",
            "metric",
            "expected",
            "measured (95% CI)",
            "verdict",
            "reason",
            "article says",
            "why",
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
                    .map(|m| {
                        format!(
                            "{} [{}, {}] {}",
                            fmt_num(m.mean),
                            fmt_num(m.ci95[0]),
                            fmt_num(m.ci95[1]),
                            m.unit
                        )
                    })
                    .unwrap_or_else(|| "-".into());
                vec![
                    c.id.clone(),
                    claim_point(s, c),
                    c.metric.clone(),
                    c.expected.describe(),
                    measured,
                    c.verdict.as_str().to_string(),
                    c.reason.clone(),
                    c.text.clone(),
                    c.note.clone(),
                ]
            })
            .collect(),
        verdict_col: Some(5),
    };

    let real = (!s.real.is_empty()).then(|| Table {
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
    });
    let real_details = s
        .real
        .iter()
        .filter(|r| !r.metrics.is_empty())
        .map(|r| {
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
                                        && p.label.as_deref().is_some_and(|l| {
                                            l.split(" (").next() == Some(n.as_str())
                                        })
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
            RealDetail {
                heading: format!("Real kernel `{}`", r.kernel),
                facts,
                metrics: Table {
                    headers: ["measurement", "value", "95% CI", "n", "unit"]
                        .map(String::from)
                        .to_vec(),
                    rows: r
                        .metrics
                        .iter()
                        .map(|(k, v)| {
                            vec![
                                format!("real.{k}"),
                                fmt_num(*v),
                                r.ci95
                                    .get(k)
                                    .map(|c| format!("[{}, {}]", fmt_num(c[0]), fmt_num(c[1])))
                                    .unwrap_or_else(|| "-".into()),
                                r.n.get(k)
                                    .map(|n| n.to_string())
                                    .unwrap_or_else(|| "1".into()),
                                r.units.get(k).cloned().unwrap_or_default(),
                            ]
                        })
                        .collect(),
                    verdict_col: None,
                },
                findings: r.findings.clone(),
            }
        })
        .collect();

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
    let estimate = |e: &crate::summary::MetricEstimate| {
        format!(
            "{} ± {}",
            fmt_num(e.mean),
            fmt_num((e.ci95[1] - e.ci95[0]) / 2.0)
        )
    };
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
    let points = if wide {
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
    };

    Doc {
        title,
        meta,
        verdict_counts,
        verdicts,
        real,
        real_details,
        points,
        charts: charts.to_vec(),
    }
}

/// Where a claim was judged: a point, or the real kernel for a measurement.
pub(crate) fn claim_point(s: &Summary, c: &crate::summary::ClaimResult) -> String {
    if c.source().is_real() {
        let kernel = s.real.first().map(|r| r.kernel.as_str()).unwrap_or("none");
        format!("real kernel {kernel}")
    } else {
        super::point_label(s, c.point)
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, t: &Table) {
    let _ = writeln!(
        out,
        "| {} |",
        t.headers
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(t.headers.len()));
    for r in &t.rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

/// The Markdown report.
pub(crate) fn report(s: &Summary, charts: &[(String, String)]) -> String {
    let d = build(s, charts);
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", md_cell(&d.title));
    for (k, v) in &d.meta {
        let _ = writeln!(out, "- **{k}**: {}", md_cell(v));
    }
    let _ = writeln!(out, "\n## Verdicts\n\n{}\n", d.verdict_counts);
    if d.verdicts.rows.is_empty() {
        out.push_str("This scenario makes no claims.\n\n");
    } else {
        md_table(&mut out, &d.verdicts);
    }
    if let Some(r) = &d.real {
        out.push_str("## Real kernels\n\n");
        md_table(&mut out, r);
    }
    for k in &d.real_details {
        let _ = writeln!(out, "### {}\n", md_cell(&k.heading));
        for (f, v) in &k.facts {
            let _ = writeln!(out, "- **{}**: {}", md_cell(f), md_cell(v));
        }
        out.push('\n');
        for f in &k.findings {
            let _ = writeln!(out, "> {}\n", md_cell(f));
        }
        md_table(&mut out, &k.metrics);
    }
    out.push_str(
        "## Points\n\nMean ± half-width of the 95% confidence interval across replications.\n\n",
    );
    md_table(&mut out, &d.points);
    if !d.charts.is_empty() {
        out.push_str("## Charts\n\n");
        for (title, slug) in &d.charts {
            let _ = writeln!(out, "![{}](charts/{slug}.png)\n", md_cell(title));
        }
    }
    out
}

/// A verdict's colour for HTML.
pub(crate) fn verdict_class(v: &str) -> &'static str {
    match v {
        x if x == Verdict::Holds.as_str() => "holds",
        x if x == Verdict::Fails.as_str() => "fails",
        x if x == Verdict::Inconclusive.as_str() => "inconclusive",
        _ => "not-run",
    }
}
