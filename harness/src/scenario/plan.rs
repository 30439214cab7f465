//! From a scenario file to a checked run plan: parse, validate every field with a located
//! error, expand points × sweep, apply `--quick` and `--set`, resolve claims to points.
//!
//! Parameter sources and their order (later wins): `[params]`, the point's `params`, the
//! sweep's values, `[quick.params]` (with `--quick`), then `--set`. In every source but
//! `[params]` each key is a dotted parameter path (`"service.mean" = 2.0`) whose value
//! replaces what is there, so a point can swap `service = { dist = "det", value = 1.0 }`
//! wholesale.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sims::params::ParamsError;
use sims::simulation::Simulation;
use toml_edit::Document;

use super::file::{ClaimSpec, ScenarioFile};
use super::locate::{Seg, display_path, parse_field_path, path_at, span_of};
use super::values::{get_path, set_path, short, values_equal};
use crate::error::{Diagnostic, LabError, nearest, suggest_from_serde_message};
use crate::real::{Calibrate, RealPlan};
use crate::summary::{ChartSpec, Expected};

/// Command-line choices that shape a plan.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub quick: bool,
    pub seed: Option<u64>,
    pub replications: Option<u32>,
    pub overrides: Vec<Override>,
}

/// One `--set key=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted parameter path.
    pub path: String,
    pub value: toml::Value,
    /// As typed, for provenance and messages.
    pub raw: String,
}

impl Override {
    /// Whether it sets a real kernel's key (`real.KEY`) rather than a model parameter.
    pub fn is_real(&self) -> bool {
        self.path.starts_with("real.")
    }

    /// Parses `key=value`; the value is read as TOML (`2`, `0.5`, `true`, `[1, 2]`,
    /// `{ dist = "det", value = 1 }`) and otherwise taken as a string.
    pub fn parse(s: &str) -> Result<Override, LabError> {
        let Some((k, v)) = s.split_once('=') else {
            return Err(LabError::bad(format!(
                "--set {s}: expected key=value, e.g. --set arrival_rate=0.8"
            )));
        };
        let key = k.trim();
        let key = key.strip_prefix("params.").unwrap_or(key);
        if key.is_empty() || key.split('.').any(|p| p.is_empty()) {
            return Err(LabError::bad(format!(
                "--set {s}: the key must be a dotted parameter path like service.mean"
            )));
        }
        let text = v.trim();
        let value = format!("v = {text}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(text.to_string()));
        Ok(Override {
            path: key.to_string(),
            value,
            raw: s.to_string(),
        })
    }
}

/// One point of the plan.
#[derive(Debug, Clone)]
pub struct PlannedPoint {
    pub index: usize,
    pub label: Option<String>,
    /// The `[[points]]` name it came from (claims select it with `point = "name"`).
    pub name: Option<String>,
    /// Every parameter, defaults filled in by the room.
    pub params: toml::Table,
    /// The `[[points]]` entry it came from.
    spec: Option<usize>,
}

/// A claim with the points it applies to.
#[derive(Debug, Clone)]
pub struct ResolvedClaim {
    pub id: String,
    pub text: String,
    pub metric: String,
    pub expected: Expected,
    pub points: Vec<usize>,
    pub note: String,
}

/// A checked, expanded scenario, ready to run.
pub struct ScenarioPlan {
    pub file: PathBuf,
    pub source: String,
    pub sha256: String,
    pub id: String,
    pub title: String,
    pub article: String,
    pub sim: &'static dyn Simulation,
    pub seed: u64,
    pub replications: u32,
    pub common_random_numbers: bool,
    pub quick: bool,
    pub overrides: Vec<String>,
    pub points: Vec<PlannedPoint>,
    pub claims: Vec<ResolvedClaim>,
    pub charts: Vec<ChartSpec>,
    /// The room's real kernel, when the scenario has `[real]` (or `--set real.*`).
    pub real: Option<RealPlan>,
}

impl std::fmt::Debug for ScenarioPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioPlan")
            .field("file", &self.file)
            .field("id", &self.id)
            .field("sim", &self.sim.name())
            .field("points", &self.points.len())
            .finish()
    }
}

/// Expands directories into their `*.toml` files (sorted) and loads every scenario; all
/// problems in all files are reported together. Scenario ids must be unique.
pub fn load_all(paths: &[PathBuf], opts: &LoadOptions) -> Result<Vec<ScenarioPlan>, LabError> {
    let files = expand_paths(paths)?;
    let mut plans = Vec::new();
    let mut errors = String::new();
    for f in &files {
        match load(f, opts) {
            Ok(p) => plans.push(p),
            Err(LabError::BadInput(s)) => errors.push_str(&s),
            Err(e) => return Err(e),
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for p in &plans {
        if let Some(prev) = seen.insert(p.id.clone(), p.file.clone()) {
            errors.push_str(&format!(
                "error: {}: scenario id `{}` is also used by {}\n",
                p.file.display(),
                p.id,
                prev.display()
            ));
        }
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(LabError::BadInput(errors))
    }
}

/// Scenario files named by `paths` (directories expand to their `*.toml`, sorted).
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LabError> {
    if paths.is_empty() {
        return Err(LabError::bad(
            "no scenario given: name a .toml file or a directory",
        ));
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| LabError::bad(format!("{}: cannot read directory: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(LabError::bad(format!(
                    "{}: no .toml scenario files in this directory",
                    p.display()
                )));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(LabError::bad(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    Ok(files)
}

/// Collects diagnostics for one file and renders them all at the end.
struct Problems<'a> {
    file: &'a Path,
    source: &'a str,
    doc: Option<&'a Document<String>>,
    out: Vec<Diagnostic>,
}

impl Problems<'_> {
    fn at(
        &mut self,
        path: &[Seg],
        want_key: bool,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let span = self.doc.and_then(|d| span_of(d, path, want_key));
        let mut d = Diagnostic::new(message)
            .in_file(self.file)
            .at(span)
            .field(display_path(path));
        if let Some(h) = help {
            d = d.help(h);
        }
        self.out.push(d);
    }

    fn push(&mut self, d: Diagnostic) {
        self.out.push(d);
    }

    fn finish(&mut self) -> Result<(), LabError> {
        if self.out.is_empty() {
            return Ok(());
        }
        Err(LabError::BadInput(
            std::mem::take(&mut self.out)
                .iter()
                .map(|d| d.render(Some(self.source)))
                .collect::<Vec<_>>()
                .join(""),
        ))
    }
}

fn key(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Loads, validates and expands one scenario file.
pub fn load(file: &Path, opts: &LoadOptions) -> Result<ScenarioPlan, LabError> {
    let bytes = std::fs::read(file)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", file.display())))?;
    let source = String::from_utf8(bytes.clone())
        .map_err(|_| LabError::bad(format!("{}: not UTF-8 text", file.display())))?;
    let sha256 = hex(&Sha256::digest(&bytes));

    // Syntax and types first: toml's own errors carry the span.
    let parsed: Result<ScenarioFile, toml::de::Error> = toml::from_str(&source);
    let sf = match parsed {
        Ok(sf) => sf,
        Err(e) => {
            let msg = e.message().trim().to_string();
            // Type errors come with a span but no path; syntax errors make the text
            // unparseable for toml_edit too, and then there is no path to give.
            let field = e
                .span()
                .zip(Document::parse(source.clone()).ok())
                .and_then(|(span, doc)| path_at(&doc, span.start))
                .unwrap_or_default();
            let mut d = Diagnostic::new(msg.clone())
                .in_file(file)
                .at(e.span())
                .field(field);
            if let Some(h) = suggest_from_serde_message(&msg) {
                d = d.help(h);
            }
            return Err(LabError::BadInput(d.render(Some(&source))));
        }
    };
    let doc = Document::parse(source.clone()).ok();
    let mut pr = Problems {
        file,
        source: &source,
        doc: doc.as_ref(),
        out: Vec::new(),
    };

    let h = &sf.scenario;
    if !is_kebab(&h.id) {
        pr.at(&[key("scenario"), key("id")], false, format!("`{}` is not a valid id", h.id), Some("expected kebab-case: lowercase letters, digits and single dashes, e.g. \"tail-sampling\"".into()));
    }
    let sim = sims::registry::find(&h.sim);
    if sim.is_none() {
        let names = sims::registry::SIMULATIONS.iter().map(|s| s.name());
        let help = match nearest(&h.sim, names) {
            Some(n) => format!("did you mean `{n}`? (`lab list` shows every simulation)"),
            None => format!(
                "known simulations: {}",
                sims::registry::SIMULATIONS
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        pr.at(
            &[key("scenario"), key("sim")],
            false,
            format!("unknown simulation `{}`", h.sim),
            Some(help),
        );
    }
    let replications = if let Some(r) = opts.replications {
        r
    } else if opts.quick {
        sf.quick.replications.unwrap_or(h.replications.min(3))
    } else {
        h.replications
    };
    if h.replications == 0 {
        pr.at(
            &[key("scenario"), key("replications")],
            false,
            "0 replications",
            Some("expected at least 1 (2 or more to get a confidence interval)".into()),
        );
    }
    if sf.quick.replications == Some(0) {
        pr.at(
            &[key("quick"), key("replications")],
            false,
            "0 replications",
            Some("expected at least 1".into()),
        );
    }
    if opts.replications == Some(0) {
        pr.push(Diagnostic::new("--replications 0: expected at least 1"));
    }
    let point_sweeps = sf.points.iter().enumerate().flat_map(|(i, p)| {
        p.sweep.iter().map(move |(k, v)| {
            (
                vec![key("points"), Seg::Index(i), key("sweep"), key(k)],
                k,
                v,
            )
        })
    });
    let sweeps: Vec<_> = sf
        .sweep
        .iter()
        .map(|(k, v)| (vec![key("sweep"), key(k)], k, v))
        .chain(point_sweeps)
        .collect();
    for (path, k, v) in sweeps {
        match v.as_array() {
            Some(a) if !a.is_empty() => {}
            _ => pr.at(
                &path,
                false,
                "a sweep axis must be a non-empty list of values",
                Some(format!("e.g. \"{k}\" = [1, 2, 4]")),
            ),
        }
    }
    let mut names = BTreeSet::new();
    for (i, p) in sf.points.iter().enumerate() {
        if let Some(n) = &p.name {
            if !names.insert(n.clone()) {
                pr.at(
                    &[key("points"), Seg::Index(i), key("name")],
                    false,
                    format!("point name `{n}` is used twice"),
                    None,
                );
            }
        }
    }
    let Some(sim) = sim else {
        return pr
            .finish()
            .and(Err(LabError::bad("unreachable: unknown sim")));
    };
    if !pr.out.is_empty() {
        pr.finish()?;
    }

    // Expand points × sweep and let the room check (and complete) every point's params.
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
    let mut reported = BTreeSet::new();
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
            if let Some(i) = spec {
                let ps = &sf.points[*i];
                name = ps.name.clone();
                for (k, v) in &ps.params {
                    set_path(&mut params, k, v.clone());
                }
            }
            let mut sweep_keys = Vec::new();
            let mut swept = Vec::new();
            for ((origin, k, values), &j) in axes.iter().zip(combo) {
                set_path(&mut params, k, values[j].clone());
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
            if opts.quick {
                for (k, v) in &sf.quick.params {
                    set_path(&mut params, k, v.clone());
                }
            }
            for o in opts.overrides.iter().filter(|o| !o.is_real()) {
                set_path(&mut params, &o.path, o.value.clone());
            }
            let index = points.len();
            match sim.check(&params) {
                Ok(full) => points.push(PlannedPoint {
                    index,
                    label,
                    name,
                    params: full,
                    spec: *spec,
                }),
                Err(e) => {
                    let d =
                        locate_params_error(&e, file, doc.as_ref(), &sf, *spec, &sweep_keys, opts);
                    // One report per distinct problem, not one per sweep point.
                    if reported.insert(d.render(None)) {
                        pr.push(d);
                    }
                }
            }
        }
    }
    if !pr.out.is_empty() {
        pr.finish()?;
    }

    let real = plan_real(&sf, sim, opts, &points, &mut pr);
    let claims = resolve_claims(
        &sf.claims,
        &points,
        sim,
        // A [real] table that failed its check has its own error; its claims are not orphans.
        real.is_some() || sf.real.is_some(),
        &mut pr,
        !opts.overrides.is_empty(),
    );
    check_charts(&sf.charts, &points, sim, &mut pr);
    pr.finish()?;

    Ok(ScenarioPlan {
        file: file.to_path_buf(),
        sha256,
        id: h.id.clone(),
        title: h.title.clone(),
        article: h.article.clone(),
        sim,
        seed: opts.seed.unwrap_or(h.seed),
        replications,
        common_random_numbers: h.common_random_numbers,
        quick: opts.quick,
        overrides: opts.overrides.iter().map(|o| o.raw.clone()).collect(),
        points,
        claims,
        charts: sf.charts.clone(),
        real,
        source,
    })
}

/// Checks `[real]` and the `--set real.*` overrides against the room's kernel.
fn plan_real(
    sf: &ScenarioFile,
    sim: &'static dyn Simulation,
    opts: &LoadOptions,
    points: &[PlannedPoint],
    pr: &mut Problems<'_>,
) -> Option<RealPlan> {
    let real_sets: Vec<&Override> = opts.overrides.iter().filter(|o| o.is_real()).collect();
    if sf.real.is_none() && real_sets.is_empty() {
        return None;
    }
    let Some(kernel) = crate::real::kernel_for(sim.name()) else {
        let with: Vec<_> = crate::real::kernels().iter().map(|(s, _)| *s).collect();
        pr.at(
            &[key("real")],
            true,
            format!("simulation `{}` has no real kernel", sim.name()),
            Some(format!("simulations with one: {}", with.join(", "))),
        );
        return None;
    };
    let mut table = sf.real.clone().unwrap_or_default();
    for o in &real_sets {
        set_path(
            &mut table,
            o.path.trim_start_matches("real."),
            o.value.clone(),
        );
    }
    let enabled = match table.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(v) => {
            pr.at(
                &[key("real"), key("enabled")],
                false,
                format!("expected true or false, found {v}"),
                None,
            );
            true
        }
    };
    let names: BTreeSet<&str> = points.iter().filter_map(|p| p.name.as_deref()).collect();
    let calibrate = match table.remove("calibrate") {
        None => Calibrate::None,
        Some(toml::Value::String(s)) if s == "none" => Calibrate::None,
        Some(toml::Value::String(s)) if s == "all" => Calibrate::All,
        Some(toml::Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                match v.as_str() {
                    Some(n) if names.contains(n) => out.push(n.to_string()),
                    _ => pr.at(
                        &[key("real"), key("calibrate"), Seg::Index(i)],
                        false,
                        format!("{v} is not the name of a [[points]] entry"),
                        Some(format!(
                            "named points: {}",
                            names.iter().copied().collect::<Vec<_>>().join(", ")
                        )),
                    ),
                }
            }
            Calibrate::Points(out)
        }
        Some(v) => {
            pr.at(
                &[key("real"), key("calibrate")],
                false,
                format!("expected \"none\", \"all\" or a list of point names, found {v}"),
                None,
            );
            Calibrate::None
        }
    };
    match kernel.check(&table) {
        Ok(params) => Some(RealPlan {
            kernel,
            enabled,
            calibrate,
            params,
            pinned: opts
                .overrides
                .iter()
                .filter(|o| !o.is_real())
                .map(|o| o.path.clone())
                .collect(),
        }),
        Err(e) => {
            let field = parse_field_path(e.path());
            if let Some(o) = real_sets
                .iter()
                .rev()
                .find(|o| overlaps(&parse_dotted(o.path.trim_start_matches("real.")), &field))
            {
                pr.push(
                    Diagnostic::new(format!("--set {}: {e}", o.raw))
                        .field(format!("real.{}", display_path(&field))),
                );
            } else {
                let mut p = vec![key("real")];
                p.extend(field);
                let unknown = matches!(&e, ParamsError::Invalid { message, .. } if message.starts_with("unknown field"));
                let help = match &e {
                    ParamsError::Invalid { message, .. } => suggest_from_serde_message(message),
                    _ => None,
                };
                pr.at(&p, unknown, e.to_string(), help);
            }
            None
        }
    }
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

fn overlaps(a: &[Seg], b: &[Seg]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Finds which source set the field a room rejected, and points there.
fn locate_params_error(
    e: &ParamsError,
    file: &Path,
    doc: Option<&Document<String>>,
    sf: &ScenarioFile,
    spec: Option<usize>,
    sweep_keys: &[(Option<usize>, String)],
    opts: &LoadOptions,
) -> Diagnostic {
    let field = parse_field_path(e.path());
    let message = e.to_string();
    let help = match e {
        ParamsError::Invalid { message, .. } => suggest_from_serde_message(message),
        _ => None,
    };
    let unknown =
        matches!(e, ParamsError::Invalid { message, .. } if message.starts_with("unknown field"));
    let finish = |d: Diagnostic| match &help {
        Some(h) => d.help(h.clone()),
        None => d,
    };
    let field_name = format!("params.{}", display_path(&field));

    for o in opts.overrides.iter().rev() {
        if overlaps(&parse_dotted(&o.path), &field) {
            return finish(
                Diagnostic::new(format!("--set {}: {message}", o.raw)).field(field_name),
            );
        }
    }
    let span = |path: Vec<Seg>, want_key: bool| doc.and_then(|d| span_of(d, &path, want_key));
    let from_dotted_source = |prefix: Vec<Seg>, table: &toml::Table| {
        table.keys().rev().find_map(|k| {
            let ks = parse_dotted(k);
            overlaps(&ks, &field).then(|| {
                let mut p = prefix.clone();
                p.push(Seg::Key(k.clone()));
                p.extend(field.iter().skip(ks.len()).cloned());
                p
            })
        })
    };
    let located = (opts.quick)
        .then(|| from_dotted_source(vec![key("quick"), key("params")], &sf.quick.params))
        .flatten()
        .or_else(|| {
            sweep_keys.iter().rev().find_map(|(origin, k)| {
                overlaps(&parse_dotted(k), &field).then(|| match origin {
                    None => vec![key("sweep"), Seg::Key(k.clone())],
                    Some(i) => vec![
                        key("points"),
                        Seg::Index(*i),
                        key("sweep"),
                        Seg::Key(k.clone()),
                    ],
                })
            })
        })
        .or_else(|| {
            spec.and_then(|i| {
                from_dotted_source(
                    vec![key("points"), Seg::Index(i), key("params")],
                    &sf.points[i].params,
                )
            })
        })
        .unwrap_or_else(|| {
            let mut p = vec![key("params")];
            p.extend(field.iter().cloned());
            p
        });
    let d = Diagnostic::new(message)
        .in_file(file)
        .at(span(located.clone(), unknown).or_else(|| span(vec![key("params")], false)))
        .field(display_path(&located));
    finish(d)
}

fn parse_dotted(k: &str) -> Vec<Seg> {
    k.split('.').map(|s| Seg::Key(s.to_string())).collect()
}

fn resolve_claims(
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
        let real_metric = c.metric.starts_with("real.");
        if real_metric && !has_real {
            pr.at(
                &here("metric"),
                false,
                format!(
                    "`{}` is a real kernel's measurement, and this scenario has no [real] table",
                    c.metric
                ),
                Some("add [real] to run the room's kernel, or use a model metric".into()),
            );
        } else if let Some(m) = &c.expect.matches {
            if !m.starts_with("real.") || !has_real {
                let mut p = here("expect");
                p.push(key("matches"));
                pr.at(
                    &p,
                    false,
                    format!("`matches = \"{m}\"` needs a real kernel's measurement `real.NAME` and a [real] table"),
                    None,
                );
            }
        }
        if !real_metric && sim.metric_def(&c.metric).is_none() {
            let names = sim.metrics().iter().map(|m| m.name);
            let help = match nearest(&c.metric, names) {
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
                format!("`{}` does not emit metric `{}`", sim.name(), c.metric),
                Some(help),
            );
        }
        if let Err((field, msg)) = check_expected(&c.expect) {
            let mut p = here("expect");
            if let Some(f) = field {
                p.push(key(f));
            }
            pr.at(&p, false, msg, Some("expected { approx = V, rel_tol = R } or { approx = V, abs_tol = A }, { lt = V }, { gt = V }, { gt = A, lt = B } or { between = [A, B] }".into()));
        }
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
        let matched = if real_metric {
            matched.map(|m| m.into_iter().take(1).collect())
        } else {
            matched
        };
        if let Some(m) = matched {
            out.push(ResolvedClaim {
                id: c.id.clone(),
                text: c.text.clone(),
                metric: c.metric.clone(),
                expected: c.expect.clone(),
                points: m,
                note: c.note.clone(),
            });
        }
    }
    out
}

fn check_expected(e: &Expected) -> Result<(), (Option<&'static str>, String)> {
    let kinds = [
        e.approx.is_some() || e.matches.is_some(),
        e.between.is_some(),
        e.lt.is_some() || e.gt.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err((None, "give exactly one of approx, between, or lt/gt".into()));
    }
    if e.approx.is_some() && e.matches.is_some() {
        return Err((None, "give approx or matches, not both".into()));
    }
    if e.approx.is_none() && e.matches.is_none() && (e.rel_tol.is_some() || e.abs_tol.is_some()) {
        return Err((None, "rel_tol and abs_tol go with approx or matches".into()));
    }
    for (name, v) in [("approx", e.approx), ("lt", e.lt), ("gt", e.gt)] {
        if v.is_some_and(|v| !v.is_finite()) {
            return Err((
                Some(name),
                format!("{} is not a finite number", v.unwrap_or_default()),
            ));
        }
    }
    if e.between
        .is_some_and(|[a, b]| !a.is_finite() || !b.is_finite())
    {
        return Err((Some("between"), "the range must have finite ends".into()));
    }
    for (name, v) in [("rel_tol", e.rel_tol), ("abs_tol", e.abs_tol)] {
        if let Some(v) = v {
            if !(v.is_finite() && v >= 0.0) {
                return Err((
                    Some(name),
                    format!("{v} is out of range: expected a tolerance ≥ 0"),
                ));
            }
        }
    }
    if let Some([a, b]) = e.between {
        if a > b {
            return Err((
                Some("between"),
                format!("[{a}, {b}] is empty: expected low ≤ high"),
            ));
        }
    }
    if let (Some(g), Some(l)) = (e.gt, e.lt) {
        if g >= l {
            return Err((
                None,
                format!("gt = {g} and lt = {l} leave nothing in between"),
            ));
        }
    }
    Ok(())
}

/// Points whose params match `filter` (`point = "name"` selects by label). Reports a filter
/// key no point has, and a filter that matches nothing.
fn match_points(
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
        if !points.iter().any(|pt| get_path(&pt.params, k).is_some()) {
            let names: Vec<&str> = points
                .first()
                .map(|p| p.params.keys().map(|s| s.as_str()).collect())
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
                .filter_map(|pt| get_path(&pt.params, k).map(short))
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
fn point_matches(filter: &toml::Table, pt: &PlannedPoint) -> bool {
    filter.iter().all(|(k, v)| {
        if k == "point" {
            pt.name.as_deref() == v.as_str()
        } else {
            get_path(&pt.params, k).is_some_and(|x| values_equal(x, v))
        }
    })
}

fn check_charts(
    charts: &[ChartSpec],
    points: &[PlannedPoint],
    sim: &dyn Simulation,
    pr: &mut Problems<'_>,
) {
    for (i, c) in charts.iter().enumerate() {
        let here = |k: &str| vec![key("charts"), Seg::Index(i), key(k)];
        if !points
            .iter()
            .any(|pt| get_path(&pt.params, &c.x).is_some_and(|v| v.is_integer() || v.is_float()))
        {
            pr.at(
                &here("x"),
                false,
                format!("`{}` is not a numeric parameter of any point", c.x),
                None,
            );
        }
        if c.y.is_empty() {
            pr.at(&here("y"), false, "a chart needs at least one metric", None);
        }
        for (j, m) in c.y.iter().enumerate() {
            if sim.metric_def(m).is_none() {
                let mut p = here("y");
                p.push(Seg::Index(j));
                let help = nearest(m, sim.metrics().iter().map(|m| m.name))
                    .map(|n| format!("did you mean `{n}`?"));
                pr.at(
                    &p,
                    false,
                    format!("`{}` does not emit metric `{m}`", sim.name()),
                    help,
                );
            }
        }
        for k in c.filter.keys() {
            if !points.iter().any(|pt| get_path(&pt.params, k).is_some()) {
                let mut p = here("where");
                p.push(Seg::Key(k.clone()));
                pr.at(&p, true, format!("no parameter `{k}`"), None);
            }
        }
        if let Some(s) = &c.series {
            if !points.iter().any(|pt| get_path(&pt.params, s).is_some()) {
                pr.at(&here("series"), false, format!("no parameter `{s}`"), None);
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl PlannedPoint {
    /// The params that distinguish this point, for short labels (`arrival_rate=0.9, servers=8`).
    pub fn describe(&self, all: &[PlannedPoint]) -> String {
        if let Some(l) = &self.label {
            return l.clone();
        }
        let varying: Vec<String> = self
            .params
            .iter()
            .filter(|(k, v)| {
                all.iter()
                    .any(|o| o.params.get(*k).is_none_or(|w| !values_equal(v, w)))
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
