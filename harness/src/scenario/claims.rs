//! Claims: each `[[claims]]` entry checked (its metric against the room's or the kernel's, its
//! expectation's shape) and resolved to the points its `where` selects, into typed
//! [`MetricSource`] and [`Expectation`].

use std::collections::BTreeSet;

use sims::simulation::Simulation;

use super::diagnostics::{Problems, key};
use super::file::ClaimSpec;
use super::locate::Seg;
use super::points::PlannedPoint;
use super::values::{get_path, short, values_equal};
use crate::error::nearest;
use crate::expectation::{Expectation, MetricSource};

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
        if let (Some(m), Some(expected)) = (matched, expected) {
            out.push(ResolvedClaim {
                id: c.id.clone(),
                text: c.text.clone(),
                source,
                expected,
                points: m,
                note: c.note.clone(),
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
