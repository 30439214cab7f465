//! The scenario report's content, built once from a summary as a [`Document`]: the run's
//! facts, the verdicts first, the real kernels, the points and the charts. `markdown.rs` and
//! `html.rs` write it as `report.md` and `report.html`, so the two never disagree.

use super::decision::{self, ChartRef};
use super::doc::{Block, Document, GroupedTable, Link, Table};
use crate::analysis::tally;
use crate::format::{fmt_est, fmt_qty};
use crate::summary::{RealResult, Summary, VerdictRecord, fmt_num};

/// Builds the report of `s`; `charts` are the charts drawn for it. The order: the decision
/// (verdict counts and the claims it turns on), contents, the claims of record with the charts
/// that judge them, other charts, real kernels, the run's facts, and the points last.
pub(crate) fn build(s: &Summary, charts: &[ChartRef]) -> Document {
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
    let (mechanism, arithmetic): (Vec<&VerdictRecord>, Vec<&VerdictRecord>) =
        s.verdicts.iter().partition(|v| v.kind != "arithmetic");
    let said = if s.scenario.article.is_empty() {
        "the scenario's claims".to_string()
    } else {
        format!("the claims of `{}`", s.scenario.article)
    };
    d.heading(2, "Decision", Some("decision"));
    if s.verdicts.is_empty() {
        d.paragraph("This scenario makes no claims.");
    } else {
        d.paragraph(format!("Of {said}: {}", counts_line(&mechanism)));
        if !arithmetic.is_empty() {
            d.paragraph(format!("Arithmetic checks: {}", counts_line(&arithmetic)));
        }
        let turning = decision::turning(&s.verdicts.iter().collect::<Vec<_>>());
        if turning.is_empty() {
            d.paragraph("No claim fails or depends on an assumption.");
        } else {
            let cut = s
                .verdicts
                .iter()
                .any(|v| !decision::unchecked_assumptions(v).is_empty());
            d.paragraph(if cut {
                "The claims that fail or depend on an assumption, then those whose assumptions \
                 the robustness budget left partly unchecked:"
            } else {
                "The claims that fail or depend on an assumption:"
            });
            d.push(Block::Links(turning));
        }
    }

    let mut placed: Vec<&str> = Vec::new();
    let claim_groups = decision::groups(s, &mechanism, charts, &mut placed);
    let arith_groups = decision::groups(s, &arithmetic, charts, &mut placed);
    let other_charts: Vec<&ChartRef> = charts
        .iter()
        .filter(|c| c.kernel.is_none() && !placed.contains(&c.slug.as_str()))
        .collect();

    let mut toc = Vec::new();
    let mut link = |anchor: &str, text: &str| {
        toc.push(Link {
            anchor: anchor.into(),
            text: text.into(),
            ..Default::default()
        })
    };
    link("decision", "Decision");
    if !claim_groups.is_empty() {
        link("claims", "Claims");
    }
    if !arith_groups.is_empty() {
        link("arithmetic", "Arithmetic checks");
    }
    if !other_charts.is_empty() {
        link("charts", "Other charts");
    }
    if !s.real.is_empty() {
        link("real", "Real kernels");
    }
    link("run", "Run");
    link("points", "Points");
    d.heading(2, "Contents", Some("contents"));
    d.push(Block::Links(toc));

    if !claim_groups.is_empty() {
        d.heading(2, "Claims", Some("claims"));
        d.paragraph(
            "One row per claim, judged at its point of record; open a row for why, the \
             mechanism and the what-if points. Charts follow the claims they judge.",
        );
        for g in claim_groups {
            d.push(Block::Claims(g));
        }
    }
    if !arith_groups.is_empty() {
        d.heading(2, "Arithmetic checks", Some("arithmetic"));
        d.paragraph(
            "The article's numbers checked against each other or a formula; not counted with \
             the mechanism's verdicts.",
        );
        for g in arith_groups {
            d.push(Block::Claims(g));
        }
    }
    if !other_charts.is_empty() {
        d.heading(2, "Other charts", Some("charts"));
        for c in other_charts {
            d.push(Block::Image {
                title: c.title.clone(),
                slug: c.slug.clone(),
            });
        }
    }
    if !s.real.is_empty() {
        d.heading(2, "Real kernels", Some("real"));
        d.push(Block::Table(real_kernels(s)));
    }
    for r in s.real.iter() {
        if !r.metrics.is_empty() {
            real_kernel(&mut d, s, r);
        }
        for c in charts
            .iter()
            .filter(|c| c.kernel.as_deref() == Some(r.kernel.as_str()))
        {
            d.push(Block::Image {
                title: c.title.clone(),
                slug: c.slug.clone(),
            });
        }
    }
    d.heading(2, "Run", Some("run"));
    d.push(Block::Definitions(run_facts(s)));
    d.heading(2, "Points", Some("points"));
    d.paragraph("Mean and 95% confidence interval across replications.");
    d.push(points(s));
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

/// What would flip a verdict of record: its dependences and its boundary, in words.
pub fn flip_condition(v: &VerdictRecord) -> String {
    let mut parts: Vec<String> = v
        .depends_on
        .iter()
        .filter(|d| d.flips_at.is_some())
        .map(crate::verdicts::describe_flip)
        .collect();
    let unchecked = decision::unchecked_assumptions(v);
    if !unchecked.is_empty() {
        // Said before "stable": not knowing is what a reader must see first.
        let names = if unchecked.len() > decision::STABLE_NAMED {
            format!(
                "{} assumptions (named in the report's details)",
                unchecked.len()
            )
        } else {
            unchecked.join(", ")
        };
        parts.push(format!(
            "unchecked (the robustness budget ran out): {names}; --robustness-budget inf checks them"
        ));
    }
    let stable = decision::stable_assumptions(v);
    if stable.len() > decision::STABLE_NAMED {
        // A compact row: the names go to the claim's details.
        parts.push(format!(
            "each alone: stable across the ranges of {} {}assumptions (named in the report's details)",
            stable.len(),
            if parts.is_empty() { "" } else { "other " }
        ));
    } else if !stable.is_empty() {
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
    if let Some(c) = &p.robustness {
        meta.push(("robustness probes".into(), robustness_line(c)));
    } else if p.probe_replications > 0 {
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

/// "robustness pass: 412 replications, 1.8x the plain run's work (...)", and what the
/// budget left out.
pub fn robustness_line(c: &crate::summary::ProbeCost) -> String {
    let mut line = format!(
        "robustness pass: {} replications, {}x the plain run's work ({} s of one core against \
         {} s, by the rooms' estimates); {} probes settled by their screens alone, {} ran in full",
        c.replications,
        fmt_num((c.ratio * 10.0).round() / 10.0),
        fmt_num(c.work_s),
        fmt_num(c.plain_work_s),
        c.settled_by_screens,
        c.full_probes
    );
    if !c.skipped.is_empty() {
        const SHOWN: usize = 8;
        let mut names = c.skipped[..c.skipped.len().min(SHOWN)].join("; ");
        if c.skipped.len() > SHOWN {
            names.push_str(&format!("; and {} more", c.skipped.len() - SHOWN));
        }
        line.push_str(&format!(
            "; the budget ({}x the plain run) left out {} probes: {names}",
            c.budget_ratio.map_or("no".to_string(), fmt_num),
            c.skipped.len()
        ));
    }
    line
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

/// The points' estimates: one row per point with one column per metric when that fits on a
/// screen, else grouped by point (its name and parameters once, then one row per metric).
fn points(s: &Summary) -> Block {
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
    let wide = metric_names.len() + varying.len() <= 8;
    if wide {
        let mut headers = vec!["point".to_string()];
        headers.extend(varying.iter().cloned());
        headers.extend(metric_names.iter().cloned());
        return Block::Table(Table {
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
        });
    }
    let describe = |m: &str| {
        sims::registry::find(&s.scenario.sim)
            .and_then(|sim| sim.metric_def(m))
            .map(|d| d.description.to_string())
            .unwrap_or_default()
    };
    Block::Grouped(GroupedTable {
        headers: ["metric", "mean [95% CI]", "what it measures"]
            .map(String::from)
            .to_vec(),
        groups: s
            .points
            .iter()
            .map(|p| {
                let params: Vec<String> = varying
                    .iter()
                    .zip(params_of(p))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let name = point_name(p);
                let head = if params.is_empty() || name.contains(&params.join(", ")) {
                    name
                } else {
                    format!("{name} ({})", params.join(", "))
                };
                let rows = p
                    .metrics
                    .iter()
                    .map(|(m, e)| vec![m.clone(), estimate(e), describe(m)])
                    .collect();
                (head, rows)
            })
            .collect(),
    })
}
