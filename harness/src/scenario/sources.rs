//! Parameter sources: the scenario's `[sources]` (and each point's own), checked against the
//! points' parameters and resolved per point. A parameter without an entry is assumed; an
//! assumed numeric parameter that a claim rests on should carry a plausible `range`, which
//! the verdict is then checked across.

use std::collections::BTreeMap;

use sims::simulation::Simulation;

use super::claims::ResolvedClaim;
use super::diagnostics::{Problems, key};
use super::file::{ClaimKind, ScenarioFile};
use super::locate::Seg;
use super::points::PlannedPoint;
use super::values::get_path;
use crate::error::nearest;
use crate::summary::{Scale, SourceKind, SourceSpec};

/// The source that covers `path` at a point: its own entry or the nearest enclosing table's
/// (`p0` covers `p0.share`).
pub fn source_of<'a>(
    sources: &'a BTreeMap<String, SourceSpec>,
    path: &str,
) -> Option<&'a SourceSpec> {
    let mut p = path;
    loop {
        if let Some(s) = sources.get(p) {
            return Some(s);
        }
        p = p.rsplit_once('.')?.0;
    }
}

/// Checks every `[sources]` entry (the scenario's and each point's) and gives every point its
/// resolved map. Problems: an entry for no parameter, a measured or sourced value without a
/// `ref`, a range on anything but an assumed number, an empty or non-finite range, a log scale
/// through zero, a value outside its own range.
pub(super) fn resolve(sf: &ScenarioFile, points: &mut [PlannedPoint], pr: &mut Problems<'_>) {
    let mut check = |at: Vec<Seg>, name: &str, spec: &SourceSpec, of: &[&PlannedPoint]| {
        if !of.iter().any(|p| get_path(p.params(), name).is_some()) {
            let names: Vec<&str> = of
                .first()
                .map(|p| p.params().keys().map(String::as_str).collect())
                .unwrap_or_default();
            let help = nearest(name, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
            pr.at(&at, true, format!("no parameter `{name}`"), help);
            return;
        }
        let field = |k: &str| {
            let mut p = at.clone();
            p.push(key(k));
            p
        };
        if matches!(spec.kind, SourceKind::Measured | SourceKind::Sourced)
            && spec.reference.trim().is_empty()
        {
            pr.at(
                &at,
                false,
                format!(
                    "a {} value needs `ref`: the dataset, kernel, paper or page it comes from",
                    spec.kind.as_str()
                ),
                None,
            );
        }
        let Some([lo, hi]) = spec.range else {
            if spec.scale.is_some() {
                pr.at(&field("scale"), false, "`scale` goes with a `range`", None);
            }
            return;
        };
        if spec.kind != SourceKind::Assumed {
            pr.at(
                &field("range"),
                false,
                format!(
                    "a range goes with kind = \"assumed\" (this value is {})",
                    spec.kind.as_str()
                ),
                Some("the verdicts are checked across an assumed value's range; a measured or sourced value has a ref instead".into()),
            );
            return;
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            pr.at(
                &field("range"),
                false,
                format!("[{lo}, {hi}]: expected finite low < high"),
                None,
            );
            return;
        }
        if spec.scale == Some(Scale::Log) && lo <= 0.0 {
            pr.at(
                &field("scale"),
                false,
                format!("a log scale needs a range above 0, not [{lo}, {hi}]"),
                None,
            );
        }
        for p in of {
            let Some(v) = get_path(p.params(), name) else {
                continue;
            };
            let Some(x) = v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) else {
                pr.at(
                    &field("range"),
                    false,
                    format!("`{name}` is not a number ({v}): a range needs one"),
                    None,
                );
                return;
            };
            // `--quick` may move a value on purpose (its claims then say "preview"), and a
            // sweep may chart it beyond its plausible range (what-if points).
            let quick_moved = p.quick_changed.iter().any(|q| q == name);
            let swept = sf.sweep.contains_key(name)
                || p.spec()
                    .is_some_and(|i| sf.points[i].sweep.contains_key(name));
            if !(lo..=hi).contains(&x) && !quick_moved && !swept {
                pr.at(
                    &field("range"),
                    false,
                    format!(
                        "{name} = {x} at {} lies outside its range [{lo}, {hi}]",
                        p.label
                            .clone()
                            .unwrap_or_else(|| format!("point {}", p.index))
                    ),
                    None,
                );
                return;
            }
        }
    };
    for (name, spec) in &sf.sources {
        // A point that gives this parameter a source of its own is that entry's business.
        let of: Vec<&PlannedPoint> = points
            .iter()
            .filter(|p| {
                p.spec()
                    .is_none_or(|i| !sf.points[i].sources.contains_key(name))
            })
            .collect();
        let of = if of.is_empty() {
            points.iter().collect()
        } else {
            of
        };
        check(vec![key("sources"), key(name)], name, spec, &of);
    }
    for (i, ps) in sf.points.iter().enumerate() {
        let of: Vec<&PlannedPoint> = points.iter().filter(|p| p.spec() == Some(i)).collect();
        for (name, spec) in &ps.sources {
            check(
                vec![key("points"), Seg::Index(i), key("sources"), key(name)],
                name,
                spec,
                &of,
            );
        }
    }
    for p in points.iter_mut() {
        let mut map = sf.sources.clone();
        if let Some(i) = p.spec() {
            map.extend(sf.points[i].sources.clone());
        }
        p.sources = map;
    }
}

/// The numeric parameters a point rests on: what the scenario file sets for it (tables
/// flattened to their numeric leaves), without the room's horizon and without `skip` (a
/// claim's `where` keys: its conditions, not its assumptions).
pub fn assumptions_of(point: &PlannedPoint, horizon: &[&str], skip: &[&str]) -> Vec<String> {
    fn leaves(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Integer(_) | toml::Value::Float(_) => out.push(prefix.to_string()),
            toml::Value::Table(t) => {
                for (k, v) in t {
                    leaves(&format!("{prefix}.{k}"), v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for k in &point.explicit {
        let top = k.split('.').next().unwrap_or_default();
        if horizon.contains(&top) || skip.contains(&k.as_str()) {
            continue;
        }
        if let Some(v) = get_path(point.params(), k) {
            leaves(k, v, &mut out);
        }
    }
    out.retain(|k| !skip.contains(&k.as_str()));
    out.sort();
    out.dedup();
    out
}

/// Warns about every assumed number a claim rests on that has no plausible range (or no
/// source at all): one warning per parameter, naming the claims. Measurements rest on the
/// machine, not on parameters.
pub(super) fn warn_unranged(
    sf: &ScenarioFile,
    claims: &[ResolvedClaim],
    points: &[PlannedPoint],
    sim: &dyn Simulation,
    pr: &mut Problems<'_>,
) {
    let mut users: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in claims.iter().filter(|c| c.kind != ClaimKind::Measurement) {
        let skip: Vec<&str> = c.conditions.iter().map(String::as_str).collect();
        for &i in &c.record {
            let p = &points[i];
            for a in assumptions_of(p, sim.horizon_params(), &skip) {
                let unranged = match source_of(&p.sources, &a) {
                    None => true,
                    Some(s) => s.kind == SourceKind::Assumed && s.range.is_none(),
                };
                if unranged {
                    let list = users.entry(a).or_default();
                    if !list.contains(&c.id.as_str()) {
                        list.push(&c.id);
                    }
                }
            }
        }
    }
    for (param, ids) in users {
        // Point at the value in [params] when it is there, else at [sources].
        let top = param.split('.').next().unwrap_or_default();
        let at = if sf.params.contains_key(top) {
            vec![key("params"), key(top)]
        } else {
            vec![key("sources")]
        };
        let listed = match ids.len() {
            1 => format!("claim `{}` rests on it", ids[0]),
            n => format!("{n} claims rest on it ({})", ids.join(", ")),
        };
        pr.warn_at(
            &at,
            true,
            format!("`{param}` is assumed without a plausible range, and {listed}"),
            Some(format!(
                "add to [sources]: \"{param}\" = {{ kind = \"assumed\", range = [low, high], note = \"...\" }}, or its source (measured, sourced, article)"
            )),
        );
    }
}
