//! The decision part of a scenario report: the summary of the claims a decision turns on, and
//! the claims of record as compact rows with their details and the charts that judge them.

use super::doc::{ClaimEntry, ClaimGroup, Link, Table};
use crate::format::fmt_est;
use crate::summary::{ClaimResult, Summary, Verdict, VerdictRecord};

/// A chart drawn for a report: its title and file slug, the metrics on its y axis (a chart
/// judges the claims on those metrics) and, for a real kernel's measured series, the kernel.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ChartRef {
    /// The chart's title.
    pub title: String,
    /// Its file name without extension.
    pub slug: String,
    /// The metrics on its y axis.
    pub metrics: Vec<String>,
    /// The real kernel whose measured series it draws.
    pub kernel: Option<String>,
}

/// A claim's anchor in the report: `claim-<slug of id>`.
pub(crate) fn claim_anchor(id: &str) -> String {
    format!("claim-{}", super::slug(id))
}

/// The claims a decision turns on (those that fail or depend, then those whose assumptions
/// the robustness budget left partly unchecked), each with its one-line why.
pub(crate) fn turning(records: &[&VerdictRecord]) -> Vec<Link> {
    let rank = |v: &VerdictRecord| match v.verdict {
        Verdict::Fails => 0,
        Verdict::Depends => 1,
        _ => 2,
    };
    let mut out: Vec<&&VerdictRecord> = records
        .iter()
        .filter(|v| rank(v) < 2 || !unchecked_assumptions(v).is_empty())
        .collect();
    out.sort_by_key(|v| rank(v));
    out.into_iter()
        .map(|v| {
            let unchecked = unchecked_assumptions(v);
            let after = if rank(v) < 2 || unchecked.is_empty() {
                format!("— {}", one_line(&v.reason))
            } else {
                format!(
                    "— at the scenario's values; the robustness budget left {} of its \
                     assumptions unchecked",
                    unchecked.len()
                )
            };
            Link {
                anchor: claim_anchor(&v.id),
                text: v.id.clone(),
                verdict: Some(v.verdict.as_str().to_string()),
                after,
            }
        })
        .collect()
}

/// The first sentence of `s`, or `s` cut at 240 characters.
fn one_line(s: &str) -> String {
    let s = s.trim();
    let cut = s
        .char_indices()
        .find(|(i, c)| *c == '.' && s[i + 1..].starts_with(' ') && *i > 20)
        .map(|(i, _)| &s[..=i])
        .unwrap_or(s);
    if cut.chars().count() > 240 {
        let t: String = cut.chars().take(239).collect();
        format!("{t}…")
    } else {
        cut.to_string()
    }
}

/// Groups `records` with the charts that judge them: claims sharing a chart sit together, in
/// the order their first claim appears; a chart goes with the first group that uses it, and
/// later groups it judges link back to it.
/// Returns the groups and the charts no claim of `records` placed.
pub(crate) fn groups<'a>(
    s: &Summary,
    records: &[&VerdictRecord],
    charts: &'a [ChartRef],
    placed: &mut Vec<&'a str>,
) -> Vec<ClaimGroup> {
    let judges = |v: &VerdictRecord| -> Vec<&'a ChartRef> {
        charts
            .iter()
            .filter(|c| c.kernel.is_none() && c.metrics.contains(&v.metric))
            .collect()
    };
    // The key of a claim: the first chart judging it not yet placed by an earlier group.
    let mut groups: Vec<(Option<&str>, ClaimGroup)> = Vec::new();
    for v in records {
        let js = judges(v);
        let key = js.first().map(|c| c.slug.as_str());
        let entry = entry(s, v);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.claims.push(entry),
            None => groups.push((
                key,
                ClaimGroup {
                    claims: vec![entry],
                    charts: Vec::new(),
                    see_also: Vec::new(),
                },
            )),
        }
        let gi = groups.iter().position(|(k, _)| *k == key).unwrap_or(0);
        for c in js {
            let chart = (c.title.clone(), c.slug.clone());
            let g = &mut groups[gi].1;
            if !placed.contains(&c.slug.as_str()) {
                placed.push(c.slug.as_str());
                g.charts.push(chart);
            } else if !g.charts.contains(&chart) && !g.see_also.contains(&chart) {
                // Drawn beside an earlier group: a link back, not a second copy.
                g.see_also.push(chart);
            }
        }
    }
    // Claims without a chart last.
    groups.sort_by_key(|(k, _)| k.is_none());
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Measured vs expected at a claim's row, in human units.
pub(crate) fn measured_vs_expected(s: &Summary, c: &ClaimResult) -> String {
    let m = c
        .measured
        .as_ref()
        .map(|m| fmt_est(m.mean, m.ci95, &m.unit))
        .unwrap_or_else(|| "not measured".into());
    let unit = c.measured.as_ref().map_or("", |m| m.unit.as_str());
    format!(
        "{m} vs {} at {}",
        c.expected.describe_in(unit),
        claim_point(s, c)
    )
}

fn entry(s: &Summary, v: &VerdictRecord) -> ClaimEntry {
    let row = v.rows.first().and_then(|&i| s.claims.get(i));
    let mut details = vec![("why".to_string(), v.reason.clone())];
    if !v.note.is_empty() {
        details.push(("mechanism".into(), v.note.clone()));
    }
    let stable = stable_assumptions(v);
    if stable.len() > STABLE_NAMED {
        details.push(("stable alone across their ranges".into(), stable.join(", ")));
    }
    let unchecked = unchecked_assumptions(v);
    if unchecked.len() > STABLE_NAMED {
        details.push((
            "left unchecked by the robustness budget".into(),
            unchecked.join(", "),
        ));
    }
    details.push((
        "judged".into(),
        format!(
            "{} claim on {}, verdict of record by rule `{}`",
            v.kind, v.metric, v.rule
        ),
    ));
    let what_if: Vec<Vec<String>> = v
        .rows
        .iter()
        .skip(1)
        .filter_map(|&i| s.claims.get(i))
        .map(|c| {
            let unit = c.measured.as_ref().map_or("", |m| m.unit.as_str());
            vec![
                claim_point(s, c),
                c.measured
                    .as_ref()
                    .map(|m| fmt_est(m.mean, m.ci95, &m.unit))
                    .unwrap_or_else(|| "-".into()),
                c.expected.describe_in(unit),
                c.verdict.as_str().to_string(),
                c.reason.clone(),
            ]
        })
        .collect();
    ClaimEntry {
        anchor: claim_anchor(&v.id),
        id: v.id.clone(),
        text: v.text.clone(),
        verdict: v.verdict.as_str().to_string(),
        measured: row
            .map(|c| measured_vs_expected(s, c))
            .unwrap_or_else(|| "-".into()),
        flip: super::flip_condition(v),
        details,
        what_if: (!what_if.is_empty()).then(|| Table {
            headers: ["what-if point", "measured", "expected", "verdict", "why"]
                .map(String::from)
                .to_vec(),
            rows: what_if,
            verdict_col: Some(3),
        }),
    }
}

/// Where a claim was judged: a point, or the real kernel for a measurement.
pub(crate) fn claim_point(s: &Summary, c: &ClaimResult) -> String {
    if c.source().is_real() {
        let kernel = s.real.first().map(|r| r.kernel.as_str()).unwrap_or("none");
        format!("real kernel {kernel}")
    } else {
        super::point_label(s, c.point)
    }
}

/// Stable assumptions named in the flip condition itself; more are counted there and named
/// in the claim's details.
pub const STABLE_NAMED: usize = 4;

/// The ranged assumptions that, moved alone across their range, leave the verdict as it is.
pub fn stable_assumptions(v: &VerdictRecord) -> Vec<&str> {
    v.depends_on
        .iter()
        .filter(|d| d.flips_at.is_none() && !d.verdicts.contains(&Verdict::NotRun))
        .map(|d| d.param.as_str())
        .collect()
}

/// The ranged assumptions with an end the robustness budget left unchecked (and no flip
/// found at the other): whether they would flip the verdict is not known.
pub fn unchecked_assumptions(v: &VerdictRecord) -> Vec<&str> {
    v.depends_on
        .iter()
        .filter(|d| d.flips_at.is_none() && d.verdicts.contains(&Verdict::NotRun))
        .map(|d| d.param.as_str())
        .collect()
}
