//! Points: `[[points]]` × `[sweep]` expanded, each point's parameters taken from their sources
//! in order (`[params]`, the point's `params`, the sweep, `[quick.params]`, `--set`) and
//! prepared by the room once, for all its replications.

use std::collections::BTreeMap;
use std::path::Path;

use sims::simulation::{PreparedParams, Simulation};
use toml_edit::Document;

use super::diagnostics::{Problems, locate_params_error};
use super::file::ScenarioFile;
use super::options::LoadOptions;
use super::values::{get_path, set_path, short, values_equal};
use crate::error::Diagnostic;
use crate::summary::SourceSpec;

/// One point of the plan.
#[derive(Debug, Clone)]
pub struct PlannedPoint {
    /// Its index in the plan (and in `summary.json`).
    pub index: usize,
    /// `name (axis=value, ...)` for points from `[[points]]`.
    pub label: Option<String>,
    /// The `[[points]]` name it came from (claims select it with `point = "name"`).
    pub name: Option<String>,
    /// The parameters as the room prepared them: typed, validated, defaults filled in.
    pub prepared: PreparedParams,
    /// The `[[points]]` entry is the article's own setting (`article = true`).
    pub article: bool,
    /// The parameter paths the scenario file sets for this point (`[params]`, the point's
    /// `params`, sweep axes), as written: the assumptions its claims rest on.
    pub explicit: Vec<String>,
    /// Parameters `--quick` changed here that are not the room's horizon: a claim judged
    /// here asks another question in the preview.
    pub quick_changed: Vec<String>,
    /// Where each parameter's value comes from (the scenario's `[sources]`, then the
    /// point's); filled by the sources stage.
    pub sources: BTreeMap<String, SourceSpec>,
    /// Replications run here (the point's own count, at most the run's).
    pub replications: u32,
    /// The `[[points]]` entry it came from.
    spec: Option<usize>,
}

impl PlannedPoint {
    /// Every parameter, defaults filled in.
    pub fn params(&self) -> &toml::Table {
        self.prepared.table()
    }

    /// The params that distinguish this point, for short labels (`arrival_rate=0.9, servers=8`).
    pub fn describe(&self, all: &[PlannedPoint]) -> String {
        if let Some(l) = &self.label {
            return l.clone();
        }
        let varying: Vec<String> = self
            .params()
            .iter()
            .filter(|(k, v)| {
                all.iter()
                    .any(|o| o.params().get(*k).is_none_or(|w| !values_equal(v, w)))
            })
            .map(|(k, v)| format!("{k}={}", short(v)))
            .collect();
        if varying.is_empty() {
            format!("point {}", self.index)
        } else {
            varying.join(", ")
        }
    }

    /// Which `[[points]]` entry produced this point.
    pub fn spec(&self) -> Option<usize> {
        self.spec
    }
}

/// Expands `[[points]]` × `[sweep]` and lets the room prepare every point's parameters.
/// Problems go to `pr`, one report per distinct problem (not one per sweep point).
pub(super) fn expand(
    sf: &ScenarioFile,
    sim: &dyn Simulation,
    replications: u32,
    opts: &LoadOptions,
    file: &Path,
    doc: Option<&Document<String>>,
    pr: &mut Problems<'_>,
) -> Vec<PlannedPoint> {
    let specs: Vec<Option<usize>> = if sf.points.is_empty() {
        vec![None]
    } else {
        (0..sf.points.len()).map(Some).collect()
    };
    let global_axes: Vec<(Option<usize>, &String, &Vec<toml::Value>)> = sf
        .sweep
        .iter()
        .filter_map(|(k, v)| v.as_array().map(|a| (None, k, a)))
        .collect();
    let mut points = Vec::new();
    // Distinct problems in the order found, each with the points it hit.
    let mut failed: Vec<(String, Diagnostic, Vec<String>)> = Vec::new();
    for spec in &specs {
        let mut axes = global_axes.clone();
        if let Some(i) = spec {
            axes.extend(
                sf.points[*i]
                    .sweep
                    .iter()
                    .filter_map(|(k, v)| v.as_array().map(|a| (Some(*i), k, a))),
            );
        }
        let combos = cartesian(&axes.iter().map(|(_, _, a)| a.len()).collect::<Vec<_>>());
        for combo in &combos {
            let mut params = sf.params.clone();
            let mut name = None;
            let mut explicit = Vec::new();
            for (k, v) in &sf.params {
                written(k, v, &mut explicit);
            }
            let mut article = false;
            if let Some(i) = spec {
                let ps = &sf.points[*i];
                name = ps.name.clone();
                article = ps.article;
                for (k, v) in &ps.params {
                    set_path(&mut params, k, v.clone());
                    written(k, v, &mut explicit);
                }
            }
            let mut sweep_keys = Vec::new();
            let mut swept = Vec::new();
            for ((origin, k, values), &j) in axes.iter().zip(combo) {
                set_path(&mut params, k, values[j].clone());
                explicit.push((*k).clone());
                sweep_keys.push((*origin, (*k).clone()));
                swept.push(format!("{k}={}", short(&values[j])));
            }
            let label = name.as_ref().map(|n| {
                if swept.is_empty() {
                    n.clone()
                } else {
                    format!("{n} ({})", swept.join(", "))
                }
            });
            let mut quick_changed = Vec::new();
            if opts.quick {
                for (k, v) in &sf.quick.params {
                    let horizon = sim
                        .horizon_params()
                        .contains(&k.split('.').next().unwrap_or_default());
                    let unchanged = get_path(&params, k).is_some_and(|old| values_equal(old, v));
                    if !horizon && !unchanged {
                        quick_changed.push(k.clone());
                    }
                    set_path(&mut params, k, v.clone());
                }
            }
            explicit.sort();
            explicit.dedup();
            for o in &opts.overrides {
                if let Some(path) = o.param() {
                    set_path(&mut params, path, o.value.clone());
                }
            }
            let index = points.len();
            match sim.prepare(&params) {
                Ok(prepared) => points.push(PlannedPoint {
                    index,
                    label,
                    name,
                    prepared,
                    article,
                    explicit,
                    quick_changed,
                    sources: BTreeMap::new(),
                    replications: match spec.and_then(|i| sf.points[i].replications) {
                        Some(r) if opts.replications.is_none() => r.clamp(1, replications),
                        _ => replications,
                    },
                    spec: *spec,
                }),
                Err(e) => {
                    let d = locate_params_error(&e, file, doc, sf, *spec, &sweep_keys, opts);
                    let at = label.clone().unwrap_or_else(|| format!("point {index}"));
                    // One report per distinct problem, not one per sweep point.
                    let key = d.render(None);
                    match failed.iter_mut().find(|(k, _, _)| *k == key) {
                        Some((_, _, names)) => names.push(at),
                        None => failed.push((key, d, vec![at])),
                    }
                }
            }
        }
    }
    for (_, mut d, names) in failed {
        d.message = format!("{} (at {})", d.message, point_list(&names));
        pr.push(d);
    }
    points
}

/// `point `a``, or `points `a`, `b`, `c` and 4 more`: the points a problem hit.
fn point_list(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let quoted: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    let more = names.len().saturating_sub(SHOWN);
    let (noun, tail) = match (names.len(), more) {
        (1, _) => ("point", String::new()),
        (_, 0) => ("points", String::new()),
        (_, m) => ("points", format!(" and {m} more")),
    };
    format!("{noun} {}{tail}", quoted.join(", "))
}

/// Index tuples of a cartesian product, last axis fastest; one empty tuple for no axes.
fn cartesian(lens: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in lens {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |j| {
                    let mut v = prefix.clone();
                    v.push(j);
                    v
                })
            })
            .collect();
    }
    out
}

/// The paths a value in the file sets, as written: a table's own keys (`p0 = { share = 0.5 }`
/// sets `p0.share`), not the fields a room fills in around them (the rest of class `p0` keeps
/// the room's defaults, like any parameter the file leaves out).
fn written(path: &str, v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) if !t.is_empty() => {
            for (k, v) in t {
                written(&format!("{path}.{k}"), v, out);
            }
        }
        _ => out.push(path.to_string()),
    }
}
