//! The run index: `index.md` and `index.html` at the top of a run directory, what a decision
//! review opens first. One line per scenario with its verdict counts and a link to its report,
//! the claims whose verdict changed against a baseline (`lab run --baseline DIR`, matched by
//! `lab compare`'s code), and the run's provenance. `index.json` keeps the baseline's path so
//! that `lab report DIR` redraws the same page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::LabError;
use crate::output::{Block, Document, Table, to_html, to_markdown};
use crate::summary::Summary;

/// Each scenario's summary with its directory's name, by scenario id.
type Runs = BTreeMap<String, (String, Summary)>;

/// What `index.json` records: the baseline the index was drawn against.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct IndexState {
    /// The baseline directory given to `lab run --baseline` (as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    baseline: Option<PathBuf>,
    /// The verdicts that changed against it: `scenario/claim[@point]: a -> b`.
    #[serde(default)]
    changed: Vec<String>,
}

/// Checks a `--baseline` directory before anything runs: it must hold summaries.
pub fn check_baseline(dir: &Path) -> Result<(), LabError> {
    super::scenario_dirs(dir)
        .map(|_| ())
        .map_err(|e| LabError::bad(format!("--baseline {e}")))
}

/// Whether `dir` is a run directory (scenario directories below it), not a scenario's own.
pub fn is_run_dir(dir: &Path) -> bool {
    !dir.join("summary.json").is_file() && super::scenario_dirs(dir).is_ok()
}

/// Writes `index.md`, `index.html` and `index.json` in `run_dir`. `baseline`: compare the
/// verdicts with that run (or `reports/baseline`); `None` reuses the one `index.json` names.
pub fn write(run_dir: &Path, baseline: Option<&Path>) -> Result<PathBuf, LabError> {
    let state_path = run_dir.join("index.json");
    let previous: IndexState = std::fs::read_to_string(&state_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let baseline = baseline.map(Path::to_path_buf).or(previous.baseline);
    let runs = load(run_dir)?;
    let base = match &baseline {
        Some(b) => Some(load(b).map_err(|e| LabError::bad(format!("baseline: {e}")))?),
        None => None,
    };
    let (doc, changed) = build(run_dir, &runs, baseline.as_deref().zip(base.as_ref()));
    let md = run_dir.join("index.md");
    write_atomic(&md, &to_markdown(&doc))?;
    let html = to_html(&doc, run_dir).map_err(|e| LabError::internal(e.to_string()))?;
    write_atomic(&run_dir.join("index.html"), &html)?;
    let state = IndexState { baseline, changed };
    let json = serde_json::to_string_pretty(&state)
        .map_err(|e| LabError::internal(format!("index.json: {e}")))?;
    write_atomic(&state_path, &(json + "\n"))?;
    Ok(md)
}

/// Writes through a temporary file and a rename: never a half-written page.
fn write_atomic(path: &Path, text: &str) -> Result<(), LabError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            LabError::bad(format!("{}: cannot write: {e}", path.display()))
        })
}

/// Each scenario's summary with its directory's name, by scenario id.
fn load(dir: &Path) -> Result<Runs, LabError> {
    let mut out = BTreeMap::new();
    for d in super::scenario_dirs(dir)? {
        let s = Summary::read(&d.join("summary.json")).map_err(LabError::bad)?;
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.insert(s.scenario.id.clone(), (name, s));
    }
    Ok(out)
}

/// The distinct values of one provenance field across the run's scenarios, joined.
fn distinct(runs: &Runs, f: impl Fn(&Summary) -> String) -> String {
    let set: BTreeSet<String> = runs.values().map(|(_, s)| f(s)).collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// The index page, and the changed verdicts in one line each (for `index.json`).
fn build(run_dir: &Path, runs: &Runs, baseline: Option<(&Path, &Runs)>) -> (Document, Vec<String>) {
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run_dir.display().to_string());
    let mut d = Document::new(format!("Run {name}"));
    let quick = runs.values().any(|(_, s)| s.provenance.quick);
    if quick {
        d.paragraph("PREVIEW (--quick): a rough run; the full run's verdicts are the record.");
    }
    let mut totals = [0usize; 5];
    let mut t = Table::new([
        "scenario",
        "title",
        "claims",
        "holds",
        "fails",
        "depends",
        "inconclusive",
        "not_run",
        "report",
    ]);
    let mut hrefs = Vec::new();
    for (id, (dir_name, s)) in runs {
        let c = crate::analysis::tally(s.verdicts.iter().map(|v| v.verdict));
        for (x, y) in totals.iter_mut().zip(c) {
            *x += y;
        }
        t.rows.push(vec![
            id.clone(),
            s.scenario.title.clone(),
            s.verdicts.len().to_string(),
            c[0].to_string(),
            c[1].to_string(),
            c[4].to_string(),
            c[2].to_string(),
            c[3].to_string(),
            format!("{dir_name}/report.html"),
        ]);
        hrefs.push(format!("{dir_name}/report.html"));
    }
    d.paragraph(format!(
        "{} scenario(s), {} claims: {} holds, {} fails, {} depends, {} inconclusive, {} not_run.",
        runs.len(),
        totals.iter().sum::<usize>(),
        totals[0],
        totals[1],
        totals[4],
        totals[2],
        totals[3]
    ));
    d.heading(2, "Scenarios", Some("scenarios"));
    d.push(Block::LinkedTable {
        table: t,
        link_col: 8,
        hrefs,
    });
    let changed = match baseline {
        Some((path, base)) => baseline_section(&mut d, path, base, runs),
        None => Vec::new(),
    };
    d.heading(2, "Provenance", Some("provenance"));
    let commit = distinct(runs, |s| s.provenance.git_commit.clone());
    let dirty = runs.values().any(|(_, s)| s.provenance.git_dirty);
    let mut facts = vec![
        (
            "commit".to_string(),
            format!(
                "{commit}{}",
                if dirty {
                    " (dirty: uncommitted changes)"
                } else {
                    " (clean)"
                }
            ),
        ),
        (
            "mode".to_string(),
            if quick {
                "--quick".to_string()
            } else {
                "full run".to_string()
            },
        ),
        (
            "seed".to_string(),
            distinct(runs, |s| s.provenance.seed.to_string()),
        ),
        (
            "replications".to_string(),
            distinct(runs, |s| s.provenance.replications.to_string()),
        ),
        (
            "machine".to_string(),
            distinct(runs, |s| s.provenance.host.clone()),
        ),
        (
            "lab version".to_string(),
            distinct(runs, |s| s.provenance.lab_version.clone()),
        ),
        (
            "started".to_string(),
            runs.values()
                .map(|(_, s)| s.provenance.started_at.clone())
                .min()
                .unwrap_or_default(),
        ),
        (
            "wall time".to_string(),
            format!(
                "{} s",
                crate::format::fmt_num(runs.values().map(|(_, s)| s.provenance.wall_s).sum())
            ),
        ),
    ];
    let overrides = distinct(runs, |s| s.provenance.overrides.join(" "));
    if !overrides.trim().is_empty() {
        facts.push(("--set".to_string(), overrides));
    }
    d.push(Block::Definitions(facts));
    (d, changed)
}

/// The claims whose verdict differs from the baseline's, verdicts of record first.
fn baseline_section(d: &mut Document, path: &Path, base: &Runs, runs: &Runs) -> Vec<String> {
    let strip = |m: &Runs| -> BTreeMap<String, Summary> {
        m.iter().map(|(k, (_, s))| (k.clone(), s.clone())).collect()
    };
    let (a, b) = (strip(base), strip(runs));
    let (_, all, _) = super::compare::compare(&a, &b, 0.0);
    // A row at a point that only repeats its claim's changed verdict of record says nothing new.
    let flips: Vec<&super::compare::Flip> = all
        .iter()
        .filter(|f| {
            f.point.is_none()
                || !all.iter().any(|g| {
                    g.point.is_none()
                        && g.scenario == f.scenario
                        && g.claim == f.claim
                        && (g.a, g.b) == (f.a, f.b)
                })
        })
        .collect();
    d.heading(
        2,
        format!("Verdicts changed against the baseline {}", path.display()),
        Some("baseline"),
    );
    let mut notes = Vec::new();
    for (id, sb) in &b {
        match a.get(id) {
            None => notes.push(format!("{id}: not in the baseline")),
            Some(sa) => notes.extend(super::compare::settings_differences(sa, sb)),
        }
    }
    let of_record = flips.iter().filter(|f| f.point.is_none()).count();
    if flips.is_empty() {
        d.paragraph("No claim changed verdict against the baseline.");
    } else {
        d.paragraph(format!(
            "{of_record} verdict(s) of record changed; {} other claim row(s) changed at single points.",
            flips.len() - of_record
        ));
        d.push(Block::Table(super::compare::flip_table(
            flips.iter().copied(),
            "baseline",
            "this run",
        )));
    }
    if !notes.is_empty() {
        d.paragraph(
            "The runs were not made alike, so a change may be the settings', not the code's:",
        );
        d.push(Block::Bullets(notes));
    }
    flips
        .iter()
        .map(|f| {
            format!(
                "{}/{}{}: {} -> {}",
                f.scenario,
                f.claim,
                f.point
                    .as_ref()
                    .map(|p| format!("@{p}"))
                    .unwrap_or_default(),
                f.a.as_str(),
                f.b.as_str()
            )
        })
        .collect()
}
