//! Claims: each `[[claims]]` entry checked (its metric against the room's or the kernel's, its
//! expectation's shape) and resolved to the points its `where` selects, into typed
//! [`MetricSource`] and [`Expectation`].

use std::collections::BTreeSet;

use sims::simulation::Simulation;

use sims::simulation::Bound;

use super::diagnostics::{Problems, key};
use super::file::{BoundSide, BoundarySpec, ClaimKind, ClaimSpec, Rollup};
use super::locate::Seg;
use super::points::PlannedPoint;
use super::values::{get_path, short, values_equal};
use crate::error::nearest;
use crate::expectation::{Expectation, MetricSource};
use crate::summary::Scale;
use crate::summary::Verdict;

/// A claim with the points it applies to.
#[derive(Debug, Clone)]
pub struct ResolvedClaim {
    /// Unique within the scenario.
    pub id: String,
    /// The article's sentence.
    pub text: String,
    /// Where its value comes from.
    pub source: MetricSource,
    /// What it expects.
    pub expected: Expectation,
    /// The points it is judged at (a measurement: the first one only).
    pub points: Vec<usize>,
    /// The mechanism behind the verdict, in the author's words.
    pub note: String,
    /// mechanism, arithmetic or measurement.
    pub kind: ClaimKind,
    /// How its rows give one verdict of record.
    pub rule: Rule,
    /// The points whose verdicts decide (a subset of `points`; the rest are what-if rows).
    pub record: Vec<usize>,
    /// The model's value bounds the metric here (from the claim, or the metric's definition).
    pub bound: Bound,
    /// Where to look for the verdict's flip point, if asked.
    pub boundary: Option<BoundarySpec>,
    /// The keys its `where` fixes: conditions of the claim, not assumptions.
    pub conditions: Vec<String>,
}

/// How a claim's rows give one verdict of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// One point: its verdict.
    Single,
    /// The `article = true` point's verdict; the others are what-if rows.
    Article,
    /// Holds only where it holds at every point.
    All,
    /// Holds where it holds at one point.
    Any,
}

impl Rule {
    /// As `summary.json` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Single => "single",
            Rule::Article => "article",
            Rule::All => "all",
            Rule::Any => "any",
        }
    }

    /// One verdict from the verdicts of a claim's points of record.
    pub fn roll(self, verdicts: &[Verdict]) -> Verdict {
        let any = |v: Verdict| verdicts.contains(&v);
        let all = |v: Verdict| !verdicts.is_empty() && verdicts.iter().all(|&x| x == v);
        match self {
            Rule::Single | Rule::Article => verdicts.first().copied().unwrap_or(Verdict::NotRun),
            Rule::All => {
                if all(Verdict::Holds) {
                    Verdict::Holds
                } else if any(Verdict::Fails) {
                    Verdict::Fails
                } else if any(Verdict::NotRun) {
                    Verdict::NotRun
                } else {
                    Verdict::Inconclusive
                }
            }
            Rule::Any => {
                if any(Verdict::Holds) {
                    Verdict::Holds
                } else if all(Verdict::Fails) {
                    Verdict::Fails
                } else if all(Verdict::NotRun) {
                    Verdict::NotRun
                } else {
                    Verdict::Inconclusive
                }
            }
        }
    }
}

/// The claim's metric, with a problem reported when the room does not emit it (with a
/// did-you-mean) or when it is a real measurement and the scenario runs no kernel.
fn check_metric(
    i: usize,
    c: &ClaimSpec,
    sim: &dyn Simulation,
    has_real: bool,
    pr: &mut Problems<'_>,
) -> MetricSource {
    let here = |k: &str| vec![key("claims"), Seg::Index(i), key(k)];
    let source = MetricSource::parse(&c.metric);
    match &source {
        MetricSource::Real(_) if !has_real => pr.at(
            &here("metric"),
            false,
            format!(
                "`{}` is a real kernel's measurement, and this scenario has no [real] table",
                c.metric
            ),
            Some("add [real] to run the room's kernel, or use a model metric".into()),
        ),
        MetricSource::Real(_) => {}
        MetricSource::Model(name) => {
            if sim.metric_def(name).is_none() {
                let names = sim.metrics().iter().map(|m| m.name);
                let help = match nearest(name, names) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => format!(
                        "`{}` emits: {}",
                        sim.name(),
                        sim.metrics()
                            .iter()
                            .map(|m| m.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                pr.at(
                    &here("metric"),
                    false,
                    format!("`{}` does not emit metric `{name}`", sim.name()),
                    Some(help),
                );
            }
        }
    }
    source
}

/// When the points could not be built (a parameter's error): the claims' metrics are still
/// checked, so a file's problems are all reported at once.
pub(super) fn check_metrics(
    specs: &[ClaimSpec],
    sim: &dyn Simulation,
    has_real: bool,
    pr: &mut Problems<'_>,
) {
    for (i, c) in specs.iter().enumerate() {
        check_metric(i, c, sim, has_real, pr);
    }
}

/// The help line for a malformed `expect`.
const EXPECT_SHAPES: &str = "expected { approx = V, rel_tol = R } or { approx = V, abs_tol = A }, { lt = V }, { gt = V }, { gt = A, lt = B } or { between = [A, B] }";

/// Checks every claim and resolves it to its points. `has_real`: the scenario runs a kernel
/// (or has a `[real]` table whose own error is reported elsewhere). `overridden`: `--set` was
/// given, so a claim whose `where` no longer matches any point is skipped with a warning.
pub(super) fn resolve(
    specs: &[ClaimSpec],
    points: &[PlannedPoint],
    sim: &dyn Simulation,
    has_real: bool,
    pr: &mut Problems<'_>,
    overridden: bool,
) -> Vec<ResolvedClaim> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, c) in specs.iter().enumerate() {
        let here = |k: &str| vec![key("claims"), Seg::Index(i), key(k)];
        if !ids.insert(c.id.clone()) {
            pr.at(
                &here("id"),
                false,
                format!("claim id `{}` is used twice", c.id),
                None,
            );
        }
        let source = check_metric(i, c, sim, has_real, pr);
        let expected = match Expectation::from_wire(&c.expect) {
            Ok(e @ Expectation::Matches { .. }) if !has_real => {
                // A real metric without [real] has its own error above.
                if !source.is_real() {
                    let mut p = here("expect");
                    p.push(key("matches"));
                    pr.at(
                        &p,
                        false,
                        format!(
                            "`matches = \"{}\"` needs a real kernel's measurement `real.NAME` and a [real] table",
                            e.to_wire().matches.unwrap_or_default()
                        ),
                        None,
                    );
                }
                None
            }
            Ok(e) => Some(e),
            Err(e) => {
                let mut p = here("expect");
                if let Some(f) = e.field {
                    p.push(key(f));
                }
                let help = (e.field != Some("matches")).then(|| EXPECT_SHAPES.to_string());
                pr.at(&p, false, e.message, help);
                None
            }
        };
        // `--set` may move every point away from a claim's `where` (say, a swept rate set to
        // one value); that claim is then skipped with a warning instead of failing the run.
        if overridden && !points.iter().any(|pt| point_matches(&c.filter, pt)) {
            eprintln!(
                "warning: {}: claim `{}` skipped: with the --set overrides no point matches its `where`",
                pr.file.display(),
                c.id
            );
            continue;
        }
        let matched = match_points(&c.filter, points, pr, &here("where"));
        // A measurement is one value: it is judged once, at the first point it names.
        let matched = if source.is_real() {
            matched.map(|m| m.into_iter().take(1).collect())
        } else {
            matched
        };
        let kind = claim_kind(c, &source, sim, pr, &here("kind"));
        let bound = match c.model_bound {
            Some(BoundSide::Lower) => Bound::Lower,
            Some(BoundSide::Upper) => Bound::Upper,
            None => match &source {
                MetricSource::Model(name) => {
                    sim.metric_def(name).map_or(Bound::Estimate, |d| d.bound)
                }
                MetricSource::Real(_) => Bound::Estimate,
            },
        };
        let Some(m) = matched else { continue };
        let (rule, record) = match rollup(c, &m, points, pr, &here("rollup"), overridden) {
            Some(r) => r,
            None => continue,
        };
        if let Some(b) = &c.boundary {
            check_boundary(b, rule, &record, points, pr, &here("boundary"));
        }
        if let Some(expected) = expected {
            out.push(ResolvedClaim {
                id: c.id.clone(),
                text: c.text.clone(),
                source,
                expected,
                points: m,
                note: c.note.clone(),
                kind,
                rule,
                record,
                bound,
                boundary: c.boundary.clone(),
                conditions: c.filter.keys().filter(|k| *k != "point").cloned().collect(),
            });
        }
    }
    out
}

/// Points whose params match `filter` (`point = "name"` selects by label). Reports a filter
/// key no point has, and a filter that matches nothing.
pub(super) fn match_points(
    filter: &toml::Table,
    points: &[PlannedPoint],
    pr: &mut Problems<'_>,
    at: &[Seg],
) -> Option<Vec<usize>> {
    let mut ok = true;
    for (k, v) in filter {
        let mut p = at.to_vec();
        p.push(Seg::Key(k.clone()));
        if k == "point" {
            if !v.is_str() {
                pr.at(
                    &p,
                    false,
                    format!("`point` must be a point name (a string), not {v}"),
                    None,
                );
                ok = false;
                continue;
            }
            if !points.iter().any(|pt| pt.name.as_deref() == v.as_str()) {
                let mut names: Vec<_> = points.iter().filter_map(|p| p.name.clone()).collect();
                names.dedup();
                pr.at(
                    &p,
                    false,
                    format!("no point is named {v}"),
                    Some(format!("named points: {}", names.join(", "))),
                );
                ok = false;
            }
            continue;
        }
        if !points.iter().any(|pt| get_path(pt.params(), k).is_some()) {
            let names: Vec<&str> = points
                .first()
                .map(|p| p.params().keys().map(|s| s.as_str()).collect())
                .unwrap_or_default();
            let help = nearest(k, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
            pr.at(&p, true, format!("no parameter `{k}`"), help);
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let matched: Vec<usize> = points
        .iter()
        .filter(|pt| point_matches(filter, pt))
        .map(|pt| pt.index)
        .collect();
    if matched.is_empty() {
        let mut help = String::from("values present:");
        for k in filter.keys().filter(|k| *k != "point") {
            let mut vals: Vec<String> = points
                .iter()
                .filter_map(|pt| get_path(pt.params(), k).map(short))
                .collect();
            vals.sort();
            vals.dedup();
            help.push_str(&format!(" {k} ∈ {{{}}};", vals.join(", ")));
        }
        pr.at(at, false, "matches no point of this scenario", Some(help));
        return None;
    }
    Some(matched)
}

/// Whether `pt` satisfies every entry of a `where` filter.
pub(super) fn point_matches(filter: &toml::Table, pt: &PlannedPoint) -> bool {
    filter.iter().all(|(k, v)| {
        if k == "point" {
            pt.name.as_deref() == v.as_str()
        } else {
            get_path(pt.params(), k).is_some_and(|x| values_equal(x, v))
        }
    })
}

/// The claim's kind: as declared, else measurement for a real metric and mechanism for a
/// model's. A mechanism claim on a metric computed from the inputs alone cannot fail: it is
/// refused with a hint.
fn claim_kind(
    c: &ClaimSpec,
    source: &MetricSource,
    sim: &dyn Simulation,
    pr: &mut Problems<'_>,
    at: &[Seg],
) -> ClaimKind {
    let kind = c.kind.unwrap_or(match source {
        MetricSource::Real(_) => ClaimKind::Measurement,
        MetricSource::Model(_) => ClaimKind::Mechanism,
    });
    match (kind, source) {
        (ClaimKind::Measurement, MetricSource::Model(m)) => pr.at(
            at,
            false,
            format!("kind = \"measurement\" is for a real kernel's `real.NAME`, and `{m}` is the model's"),
            Some("use kind = \"mechanism\" (or \"arithmetic\" for a metric computed from the inputs)".into()),
        ),
        (ClaimKind::Mechanism, MetricSource::Real(_)) => pr.at(
            at,
            false,
            format!("`{}` is measured, not modelled", c.metric),
            Some("use kind = \"measurement\"".into()),
        ),
        (ClaimKind::Mechanism, MetricSource::Model(m))
            if sim.metric_def(m).is_some_and(|d| d.from_inputs) =>
        {
            pr.at(
                at,
                true,
                format!(
                    "`{m}` is computed from the parameters alone, so a claim on it cannot come out of the mechanism"
                ),
                Some("declare kind = \"arithmetic\" (it is reported apart from the mechanism verdicts)".into()),
            )
        }
        _ => {}
    }
    kind
}

/// The rule and the points of record: one point is its own record; several need a rollup
/// (`article` takes the one `article = true` point among them).
fn rollup(
    c: &ClaimSpec,
    matched: &[usize],
    points: &[PlannedPoint],
    pr: &mut Problems<'_>,
    at: &[Seg],
    overridden: bool,
) -> Option<(Rule, Vec<usize>)> {
    let many = matched.len() > 1;
    match (c.rollup, many) {
        (None, false) => Some((Rule::Single, matched.to_vec())),
        // `--set` can make several points alike (a swept rate set to one value): the claim,
        // written for one of them, is judged at all.
        (None, true) if overridden => {
            eprintln!(
                "warning: {}: with the --set overrides claim `{}` matches {} points; it holds only if it holds at all of them",
                pr.file.display(),
                c.id,
                matched.len()
            );
            Some((Rule::All, matched.to_vec()))
        }
        (None, true) => {
            pr.at(
                at,
                true,
                format!(
                    "`where` matches {} points and the claim says which verdict is of record",
                    matched.len()
                ),
                Some("add rollup = \"article\" (and mark the article's own point with article = true), \"all\" or \"any\"; or narrow `where` to one point".into()),
            );
            None
        }
        (Some(Rollup::Article), _) => {
            let article: Vec<usize> = matched
                .iter()
                .copied()
                .filter(|&i| points[i].article)
                .collect();
            if article.len() == 1 {
                Some((Rule::Article, article))
            } else {
                let names: Vec<String> = matched
                    .iter()
                    .map(|&i| points[i].describe(points))
                    .collect();
                pr.at(
                    at,
                    false,
                    format!(
                        "rollup = \"article\" needs exactly one matched point with article = true, and {} of the {} are",
                        article.len(),
                        matched.len()
                    ),
                    Some(format!("matched: {}", names.join("; "))),
                );
                None
            }
        }
        (Some(Rollup::All), _) => Some((Rule::All, matched.to_vec())),
        (Some(Rollup::Any), _) => Some((Rule::Any, matched.to_vec())),
    }
}

/// A boundary searches one numeric parameter of the one point of record, over a real range.
fn check_boundary(
    b: &BoundarySpec,
    rule: Rule,
    record: &[usize],
    points: &[PlannedPoint],
    pr: &mut Problems<'_>,
    at: &[Seg],
) {
    let field = |k: &str| {
        let mut p = at.to_vec();
        p.push(key(k));
        p
    };
    if matches!(rule, Rule::All | Rule::Any) {
        pr.at(
            at,
            true,
            "a boundary is searched at one point of record, and this claim rolls up several",
            Some("use rollup = \"article\", or narrow `where` to one point".into()),
        );
        return;
    }
    if !(b.min.is_finite() && b.max.is_finite() && b.min < b.max) {
        pr.at(
            &field("min"),
            false,
            format!("[{}, {}]: expected finite min < max", b.min, b.max),
            None,
        );
    }
    if b.scale == Scale::Log && b.min <= 0.0 {
        pr.at(&field("scale"), false, "a log scale needs min > 0", None);
    }
    for &i in record {
        let numeric =
            get_path(points[i].params(), &b.param).is_some_and(|v| v.is_float() || v.is_integer());
        if !numeric {
            let names = points[i].params().keys().map(String::as_str);
            let help = nearest(&b.param, names).map(|n| format!("did you mean `{n}`?"));
            pr.at(
                &field("param"),
                false,
                format!(
                    "`{}` is not a numeric parameter of the claim's point",
                    b.param
                ),
                help,
            );
        }
    }
}
