//! `lab merge DIR... --out DIR`: joins the directories of a sharded sweep (`lab run --shard`,
//! one per Slurm array task or Kubernetes pod) into the run one process would have made: the
//! shards' units are pooled, checked (same commit, seed, scenario hash and flags; none missing,
//! none twice), and summarised, judged and reported exactly as `lab run` does, so
//! `summary.json` (apart from the provenance's timing: `started_at`, `wall_s`, the kernel's
//! `wall_s`), the results and the reports are the unsharded run's bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::MergeArgs;
use crate::error::{LabError, exit_code};
use crate::runner::{self, UnitResult};
use crate::scenario::{LoadOptions, Override, ScenarioPlan, load_bytes};
use crate::summary::{Provenance, RealResult, Summary};
use crate::units::{self, Header};

/// One shard's directory for one scenario.
struct Part {
    dir: PathBuf,
    header: Header,
    units: Vec<UnitResult>,
    summary: Summary,
}

/// Runs `lab merge` and returns the exit status.
pub fn run(args: &MergeArgs) -> Result<u8, LabError> {
    let started = Instant::now();
    let mut by_id: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for d in &args.dirs {
        for s in super::scenario_dirs(d)? {
            let id = s
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            by_id.entry(id).or_default().push(s);
        }
    }
    // Check everything before writing anything.
    let mut merged = Vec::new();
    for (id, dirs) in &by_id {
        let parts = dirs
            .iter()
            .map(|d| read_part(d))
            .collect::<Result<Vec<_>, _>>()?;
        merged.push((id.clone(), check_parts(id, parts)?));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| {
        LabError::bad(format!(
            "{}: cannot create output directory: {e}",
            args.out.display()
        ))
    })?;
    for (id, (parts, pooled)) in merged {
        let dir = merge_one(&args.out, &parts, pooled, started)?;
        crate::outln!(
            "{id}: {} units from {} shard directories -> {}",
            parts[0].header.units_total,
            parts.len(),
            dir.display()
        );
    }
    // The merged run gets the index pages an unsharded run has.
    let index = super::index::write(&args.out, None)?;
    crate::outln!("index: {}", index.with_extension("html").display());
    Ok(exit_code::OK)
}

fn read_part(dir: &Path) -> Result<Part, LabError> {
    let (header, units) = units::read_jsonl(dir)?;
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", path.display())))?;
    let summary: Summary = serde_json::from_str(&text)
        .map_err(|e| LabError::bad(format!("{}: not a lab summary: {e}", path.display())))?;
    Ok(Part {
        dir: dir.to_path_buf(),
        header,
        units,
        summary,
    })
}

/// The parts of one scenario agree and hold every unit once: the parts (first shard first)
/// and their pooled units in (point, replication) order.
fn check_parts(id: &str, mut parts: Vec<Part>) -> Result<(Vec<Part>, Vec<UnitResult>), LabError> {
    parts.sort_by_key(|p| (p.header.shard.map(|s| s.index), p.dir.clone()));
    let first = &parts[0];
    for p in &parts[1..] {
        if let Some((what, a, b)) = first.header.mismatch(&p.header) {
            return Err(LabError::bad(format!(
                "{id}: the shards differ in {what}: {} has {a}, {} has {b}; merge only the \
                 shards of one sweep",
                first.dir.display(),
                p.dir.display()
            )));
        }
    }
    let mut seen: BTreeMap<(usize, u32), &Path> = BTreeMap::new();
    let mut twice = Vec::new();
    for p in &parts {
        for u in &p.units {
            if let Some(prev) = seen.insert((u.point, u.replication), &p.dir) {
                twice.push(format!(
                    "point {} replication {} (in {} and {})",
                    u.point,
                    u.replication,
                    prev.display(),
                    p.dir.display()
                ));
            }
        }
    }
    if !twice.is_empty() {
        return Err(LabError::bad(format!(
            "{id}: {} units appear in more than one shard directory: {}",
            twice.len(),
            list(&twice)
        )));
    }
    let total = first.header.units_total;
    if seen.len() != total {
        // Which ones, by point: the plan knows the replications of each.
        let plan = load_plan(first)?;
        let missing: Vec<String> = runner::all_units(&plan)
            .into_iter()
            .filter(|u| !seen.contains_key(u))
            .map(|(p, r)| format!("point {p} replication {r}"))
            .collect();
        let mut shards: Vec<String> = parts
            .iter()
            .map(|p| p.header.shard.map_or("all".into(), |s| s.to_string()))
            .collect();
        if let Some(n) = first.header.shard.map(|s| s.count)
            && parts
                .iter()
                .all(|p| p.header.shard.is_some_and(|s| s.count == n))
        {
            let absent: Vec<String> = (1..=n)
                .filter(|i| {
                    !parts
                        .iter()
                        .any(|p| p.header.shard.is_some_and(|s| s.index == *i))
                })
                .map(|i| format!("{i}/{n}"))
                .collect();
            if !absent.is_empty() {
                shards.push(format!("not given: {}", absent.join(", ")));
            }
        }
        return Err(LabError::bad(format!(
            "{id}: {} of {total} units are missing (shards given: {}): {}",
            missing.len().max(total.saturating_sub(seen.len())),
            shards.join(", "),
            list(&missing)
        )));
    }
    let mut pooled: Vec<UnitResult> = parts.iter().flat_map(|p| p.units.clone()).collect();
    pooled.sort_by_key(|u| (u.point, u.replication));
    Ok((parts, pooled))
}

/// The first few items of a long list, and how many more.
fn list(items: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", and {} more", items.len() - SHOWN));
    }
    s
}

/// The scenario as the shards ran it: the copy in the shard's directory, read as if at the
/// path the shards read (its relative paths resolve from there), with the flags from the
/// units' header.
fn load_plan(part: &Part) -> Result<ScenarioPlan, LabError> {
    let h = &part.header;
    let copy = part.dir.join("scenario.toml");
    let bytes = std::fs::read(&copy)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", copy.display())))?;
    let opts = LoadOptions {
        quick: h.quick,
        seed: h.seed_flag,
        replications: h.replications_flag,
        robustness_budget: h.robustness_budget,
        overrides: h
            .set
            .iter()
            .map(|s| Override::parse(s))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let path = PathBuf::from(&h.source);
    let plan = load_bytes(&path, bytes, &opts)?;
    if plan.sha256 != h.scenario_sha256 || units::params_sha256(&plan) != h.params_sha256 {
        return Err(LabError::bad(format!(
            "{}: the scenario no longer gives the parameters its shards ran with (a kernel \
             calibrated them, or the file changed); merge cannot judge them",
            path.display()
        )));
    }
    Ok(plan)
}

/// Judges and writes one scenario's merged directory.
fn merge_one(
    out: &Path,
    parts: &[Part],
    pooled: Vec<UnitResult>,
    started: Instant,
) -> Result<PathBuf, LabError> {
    let first = &parts[0];
    let plan = load_plan(first)?;
    // The kernel's measurements: the first shard's (each shard measured; one run measures
    // once). A calibrating kernel changed the parameters, which load_plan has refused.
    let real: Option<RealResult> = first.summary.real.first().cloned();
    let (mut summary, rows) = super::run::summarise(&plan, &pooled, None, real, &|_| {})?;
    let mut hosts: Vec<String> = parts
        .iter()
        .map(|p| p.summary.provenance.host.clone())
        .collect();
    hosts.sort();
    hosts.dedup();
    let p0 = &first.summary.provenance;
    summary.provenance = Provenance {
        git_commit: p0.git_commit.clone(),
        git_dirty: p0.git_dirty,
        lab_version: p0.lab_version.clone(),
        seed: plan.seed,
        replications: plan.replications,
        host: hosts.join(", "),
        // Timing: the earliest shard's start, and the shards' time added to the merge's.
        started_at: parts
            .iter()
            .map(|p| p.summary.provenance.started_at.clone())
            .min()
            .unwrap_or_default(),
        wall_s: parts
            .iter()
            .map(|p| p.summary.provenance.wall_s)
            .sum::<f64>()
            + started.elapsed().as_secs_f64(),
        quick: plan.quick,
        overrides: plan.overrides.clone(),
        probe_replications: summary.provenance.probe_replications,
        robustness: summary.provenance.robustness.clone(),
    };
    let header = Header {
        shard: None,
        ..first.header.clone()
    };
    let text = units::jsonl(&header, &pooled)?;
    super::run::write_scenario_dir(out, &plan, &summary, &rows, &text)
}
