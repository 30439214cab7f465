//! From a scenario file to a checked run plan: parse, validate every field with a located
//! error, expand points × sweep ([`super::points`]), resolve claims ([`super::claims`]), check
//! charts ([`super::charts`]) and the real kernel's table ([`super::real_plan`]).
//!
//! Parameter sources and their order (later wins): `[params]`, the point's `params`, the
//! sweep's values, `[quick.params]` (with `--quick`), then `--set`. In every source but
//! `[params]` each key is a dotted parameter path (`"service.mean" = 2.0`) whose value
//! replaces what is there, so a point can swap `service = { dist = "det", value = 1.0 }`
//! wholesale.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sims::simulation::Simulation;
use toml_edit::Document;

use super::charts;
use super::claims::{self, ResolvedClaim};
use super::diagnostics::{Problems, key};
use super::file::ScenarioFile;
use super::locate::{Seg, path_at};
use super::options::LoadOptions;
use super::points::{self, PlannedPoint};
use super::real_plan::{self, RealPlan};
use super::sources;
use crate::error::{Diagnostic, LabError, nearest, suggest_from_serde_message};
use crate::summary::ChartSpec;

/// A checked, expanded scenario, ready to run.
pub struct ScenarioPlan {
    /// The scenario file.
    pub file: PathBuf,
    /// Its text (copied into the run directory).
    pub source: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// `[scenario] id`.
    pub id: String,
    /// `[scenario] title`.
    pub title: String,
    /// `[scenario] article`.
    pub article: String,
    /// The room.
    pub sim: &'static dyn Simulation,
    /// The seed every random stream derives from.
    pub seed: u64,
    /// Replications per point.
    pub replications: u32,
    /// Whether points share random streams.
    pub common_random_numbers: bool,
    /// `--quick` was given.
    pub quick: bool,
    /// `--robustness-budget` as given (none: the default budget).
    pub robustness_budget: Option<f64>,
    /// The `--set` overrides as typed.
    pub overrides: Vec<String>,
    /// Every point, prepared.
    pub points: Vec<PlannedPoint>,
    /// Every claim, resolved to its points.
    pub claims: Vec<ResolvedClaim>,
    /// The `[[charts]]`, checked.
    pub charts: Vec<ChartSpec>,
    /// The room's real kernel, when the scenario has `[real]` (or `--set real.*`).
    pub real: Option<RealPlan>,
    /// Problems that do not stop a run, rendered (`lab check` shows them).
    pub warnings: Vec<String>,
    /// The scenario's `[sources]`, as written (for the summary).
    pub sources: std::collections::BTreeMap<String, crate::summary::SourceSpec>,
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

/// Loads, validates and expands one scenario file.
pub fn load(file: &Path, opts: &LoadOptions) -> Result<ScenarioPlan, LabError> {
    let bytes = std::fs::read(file)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", file.display())))?;
    load_bytes(file, bytes, opts)
}

/// Loads, validates and expands a scenario from its bytes; `file` names it in messages and
/// resolves the paths it gives.
pub fn load_bytes(
    file: &Path,
    bytes: Vec<u8>,
    opts: &LoadOptions,
) -> Result<ScenarioPlan, LabError> {
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
        warnings: Vec::new(),
    };

    let h = &sf.scenario;
    if !is_kebab(&h.id) {
        pr.at(&[key("scenario"), key("id")], false, format!("`{}` is not a valid id", h.id), Some("expected kebab-case: lowercase letters, digits and single dashes, e.g. \"checkout-latency\"".into()));
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
    for (i, p) in sf.points.iter().enumerate() {
        if p.replications == Some(0) {
            pr.at(
                &[key("points"), Seg::Index(i), key("replications")],
                false,
                "0 replications",
                Some("expected at least 1 (it is at most the scenario's count)".into()),
            );
        }
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

    let mut points = points::expand(&sf, sim, replications, opts, file, doc.as_ref(), &mut pr);
    if !pr.out.is_empty() {
        claims::check_metrics(&sf.claims, sim, sf.real.is_some(), &mut pr);
        pr.finish()?;
    }
    sources::resolve(&sf, &mut points, &mut pr);
    let real = real_plan::plan(&sf, sim, opts, &points, &mut pr);
    let claims = claims::resolve(
        &sf.claims,
        &points,
        sim,
        // A [real] table that failed its check has its own error; its claims are not orphans.
        real.is_some() || sf.real.is_some(),
        &mut pr,
        !opts.overrides.is_empty(),
    );
    charts::check(&sf.charts, &points, sim, &mut pr);
    pr.finish()?;
    sources::warn_unranged(&sf, &claims, &points, sim, &mut pr);
    let warnings = pr.rendered_warnings();

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
        robustness_budget: opts.robustness_budget,
        overrides: opts.overrides.iter().map(|o| o.raw.clone()).collect(),
        points,
        claims,
        charts: sf.charts.clone(),
        real,
        source,
        warnings,
        sources: sf.sources.clone(),
    })
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
