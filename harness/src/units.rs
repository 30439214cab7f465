//! Finished run units on disk, one format for two uses: the journal a running scenario keeps
//! (`<out>/.<id>.journal-<pid>/`, one file per unit written to a temporary name and renamed,
//! so a unit is there whole or not at all) for `lab run --resume`, and the `units.jsonl` of a
//! finished scenario directory (a header line, then one line per unit in (point, replication)
//! order) that `lab merge` pools. A unit's line is exactly its journal file's text.
//!
//! Values are stored with their bits (`f64::to_bits` in hex) beside the readable number, so a
//! merged or resumed run computes from the very same numbers as an uninterrupted one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sims::simulation::{Counted, Outcome};

use crate::error::LabError;
use crate::runner::{Shard, UnitResult};
use crate::scenario::ScenarioPlan;

/// The file name of a finished scenario's units.
pub const UNITS_FILE: &str = "units.jsonl";

/// What makes units interchangeable: two runs whose headers agree (apart from `shard`) compute
/// the same value for the same unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The scenario's id.
    pub scenario: String,
    /// SHA-256 of the scenario file.
    pub scenario_sha256: String,
    /// The scenario file the run read (merge reads it again when it still has that hash).
    pub source: String,
    /// The code's git commit.
    pub git_commit: String,
    /// Uncommitted changes at run time.
    pub git_dirty: bool,
    /// `lab`'s version.
    pub lab_version: String,
    /// The scenario's seed after `--seed`.
    pub seed: u64,
    /// `--seed` as given.
    pub seed_flag: Option<u64>,
    /// `--replications` as given.
    pub replications_flag: Option<u32>,
    /// `--quick`.
    pub quick: bool,
    /// `--set` as given, in order.
    pub set: Vec<String>,
    /// `--robustness-budget` as given (absent: the default), for `lab merge` to judge alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustness_budget: Option<f64>,
    /// SHA-256 of every point's parameters (after any kernel calibration).
    pub params_sha256: String,
    /// Every unit of the scenario.
    pub units_total: usize,
    /// The part of the sweep this run ran (`null` for the whole).
    pub shard: Option<Shard>,
}

impl Header {
    /// The header of a run of `plan`.
    pub fn of(
        plan: &ScenarioPlan,
        flags: (Option<u64>, Option<u32>, &[String]),
        commit: &str,
        dirty: bool,
        shard: Option<Shard>,
    ) -> Header {
        let source = std::fs::canonicalize(&plan.file).unwrap_or_else(|_| plan.file.clone());
        Header {
            scenario: plan.id.clone(),
            scenario_sha256: plan.sha256.clone(),
            source: source.display().to_string(),
            git_commit: commit.to_string(),
            git_dirty: dirty,
            lab_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: plan.seed,
            seed_flag: flags.0,
            replications_flag: flags.1,
            quick: plan.quick,
            set: flags.2.to_vec(),
            robustness_budget: plan.robustness_budget,
            params_sha256: params_sha256(plan),
            units_total: crate::runner::all_units(plan).len(),
            shard,
        }
    }

    /// The first field on which two headers differ in a way that makes their units
    /// incompatible (the shard may differ), as `(name, self's value, other's value)`.
    pub fn mismatch(&self, other: &Header) -> Option<(&'static str, String, String)> {
        let f = |n: &'static str, a: String, b: String| (a != b).then_some((n, a, b));
        f("scenario", self.scenario.clone(), other.scenario.clone())
            .or_else(|| {
                f(
                    "scenario file hash (scenario_sha256)",
                    self.scenario_sha256.clone(),
                    other.scenario_sha256.clone(),
                )
            })
            .or_else(|| {
                f(
                    "git commit",
                    self.git_commit.clone(),
                    other.git_commit.clone(),
                )
            })
            .or_else(|| f("seed", self.seed.to_string(), other.seed.to_string()))
            .or_else(|| f("--quick", self.quick.to_string(), other.quick.to_string()))
            .or_else(|| {
                f(
                    "--replications",
                    format!("{:?}", self.replications_flag),
                    format!("{:?}", other.replications_flag),
                )
            })
            .or_else(|| f("--set", self.set.join(" "), other.set.join(" ")))
            .or_else(|| {
                f(
                    "point parameters (a kernel calibrated them differently?)",
                    self.params_sha256.clone(),
                    other.params_sha256.clone(),
                )
            })
            .or_else(|| {
                f(
                    "lab version",
                    self.lab_version.clone(),
                    other.lab_version.clone(),
                )
            })
    }
}

/// SHA-256 of every point's parameters, in point order.
pub fn params_sha256(plan: &ScenarioPlan) -> String {
    let mut h = Sha256::new();
    for p in &plan.points {
        h.update(
            toml::Value::Table(p.params().clone())
                .to_string()
                .as_bytes(),
        );
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn bits(v: f64) -> Value {
    json!([v, format!("{:016x}", v.to_bits())])
}

fn unbits(v: &Value) -> Option<f64> {
    let s = v.get(1)?.as_str()?;
    u64::from_str_radix(s, 16).ok().map(f64::from_bits)
}

/// One unit as one line of JSON (no newline).
pub fn encode(u: &UnitResult) -> String {
    let metrics: BTreeMap<&String, Value> = u
        .outcome
        .metrics
        .iter()
        .map(|(k, v)| (k, bits(*v)))
        .collect();
    let counts: BTreeMap<&String, Value> = u
        .outcome
        .counts
        .iter()
        .map(|(k, c)| (k, json!([c.events, bits(c.exposure)])))
        .collect();
    json!({
        "point": u.point,
        "replication": u.replication,
        "seed": u.seed_key,
        "metrics": metrics,
        "counts": counts,
    })
    .to_string()
}

/// A unit back from [`encode`]'s line.
pub fn decode(line: &str) -> Result<UnitResult, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let bad = |what: &str| format!("a unit line without a valid `{what}`");
    let num = |k: &str| v.get(k).and_then(Value::as_u64).ok_or_else(|| bad(k));
    let mut outcome = Outcome::default();
    for (k, m) in v
        .get("metrics")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("metrics"))?
    {
        outcome
            .metrics
            .insert(k.clone(), unbits(m).ok_or_else(|| bad("metrics"))?);
    }
    for (k, c) in v
        .get("counts")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("counts"))?
    {
        let events = c
            .get(0)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("counts"))?;
        let exposure = c.get(1).and_then(unbits).ok_or_else(|| bad("counts"))?;
        outcome
            .counts
            .insert(k.clone(), Counted { events, exposure });
    }
    Ok(UnitResult {
        point: num("point")? as usize,
        replication: u32::try_from(num("replication")?).map_err(|_| bad("replication"))?,
        seed_key: num("seed")?,
        outcome,
    })
}

/// `units.jsonl`'s text: the header, then the units sorted by (point, replication).
pub fn jsonl(header: &Header, units: &[UnitResult]) -> Result<String, LabError> {
    let mut out = serde_json::to_string(&json!({ "header": header }))
        .map_err(|e| LabError::internal(format!("serialising the units' header: {e}")))?;
    out.push('\n');
    let mut sorted: Vec<&UnitResult> = units.iter().collect();
    sorted.sort_by_key(|u| (u.point, u.replication));
    for u in sorted {
        out.push_str(&encode(u));
        out.push('\n');
    }
    Ok(out)
}

/// Reads a finished scenario directory's `units.jsonl`.
pub fn read_jsonl(dir: &Path) -> Result<(Header, Vec<UnitResult>), LabError> {
    let path = dir.join(UNITS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        LabError::bad(format!(
            "{}: cannot read: {e} (runs made before `lab merge` existed have no units file; \
             run them again)",
            path.display()
        ))
    })?;
    let at = |n: usize, e: String| LabError::bad(format!("{}:{n}: {e}", path.display()));
    let mut lines = text.lines();
    let first = lines.next().ok_or_else(|| at(1, "empty file".into()))?;
    let header: Header = serde_json::from_str::<Value>(first)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("header")?.clone()).ok())
        .ok_or_else(|| at(1, "expected the header line {\"header\": {...}}".into()))?;
    let units = lines
        .enumerate()
        .map(|(i, l)| decode(l).map_err(|e| at(i + 2, e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((header, units))
}

/// A running scenario's journal: `<out>/.<id>.journal-<pid>/header.json` and one
/// `p<point>-r<replication>.json` per finished unit.
pub struct Journal {
    dir: PathBuf,
}

fn unit_file(point: usize, replication: u32) -> String {
    format!("p{point}-r{replication}.json")
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".tmp-{}", name.unwrap_or_default()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

impl Journal {
    /// Starts this process's journal for scenario `id` under `root`. With `resume`, adopts the
    /// units of journals left by dead runs and of a finished directory, when their header
    /// agrees with `header` (a disagreeing one is an error naming the field); returns them.
    pub fn start(
        root: &Path,
        header: &Header,
        resume: bool,
    ) -> Result<(Journal, Vec<UnitResult>), LabError> {
        let id = &header.scenario;
        let mut found: BTreeMap<(usize, u32), UnitResult> = BTreeMap::new();
        let mut adopted = Vec::new();
        if resume {
            let finished = root.join(id);
            if finished.join(UNITS_FILE).is_file() {
                let (h, units) = read_jsonl(&finished)?;
                check(&finished.join(UNITS_FILE), header, &h)?;
                for u in units {
                    found.insert((u.point, u.replication), u);
                }
            }
            for old in dead_journals(root, id) {
                let Ok(h) = std::fs::read_to_string(old.join("header.json")) else {
                    continue;
                };
                let h: Header = serde_json::from_str(&h).map_err(|e| {
                    LabError::bad(format!("{}: {e}", old.join("header.json").display()))
                })?;
                check(&old, header, &h)?;
                for e in std::fs::read_dir(&old)?.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !(name.starts_with('p') && name.ends_with(".json")) {
                        continue; // the header, or a temporary file a kill left
                    }
                    let text = std::fs::read_to_string(e.path())?;
                    let u = decode(text.trim_end())
                        .map_err(|m| LabError::bad(format!("{}: {m}", e.path().display())))?;
                    found.insert((u.point, u.replication), u);
                }
                adopted.push(old);
            }
        }
        // Checked: now this run's journal, holding what it adopts before the old ones go.
        let dir = root.join(format!(".{id}.journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let text = serde_json::to_string_pretty(header)
            .map_err(|e| LabError::internal(format!("serialising the journal header: {e}")))?;
        write_atomic(&dir.join("header.json"), &(text + "\n"))?;
        let journal = Journal { dir };
        for u in found.values() {
            journal.record(u)?;
        }
        for old in adopted {
            let _ = std::fs::remove_dir_all(old);
        }
        Ok((journal, found.into_values().collect()))
    }

    /// Records a finished unit (atomically).
    pub fn record(&self, u: &UnitResult) -> std::io::Result<()> {
        write_atomic(
            &self.dir.join(unit_file(u.point, u.replication)),
            &(encode(u) + "\n"),
        )
    }

    /// The scenario is written whole: its journal, and those of dead runs, go.
    pub fn finish(self, root: &Path, id: &str) {
        let _ = std::fs::remove_dir_all(&self.dir);
        for old in dead_journals(root, id) {
            let _ = std::fs::remove_dir_all(old);
        }
    }
}

/// On an interrupt: removes this process's journals under `root` that hold no finished unit;
/// returns how many units the others keep (`None` when none).
pub fn tidy_journals(root: &Path) -> Option<usize> {
    let mine = format!(".journal-{}", std::process::id());
    let mut kept = 0;
    for e in std::fs::read_dir(root).ok()?.flatten() {
        if !e.file_name().to_string_lossy().ends_with(&mine) {
            continue;
        }
        let n = std::fs::read_dir(e.path()).map_or(0, |rd| {
            rd.flatten()
                .filter(|f| f.file_name().to_string_lossy().starts_with('p'))
                .count()
        });
        if n == 0 {
            let _ = std::fs::remove_dir_all(e.path());
        }
        kept += n;
    }
    (kept > 0).then_some(kept)
}

/// A resumed run's header must be the one it resumes.
fn check(path: &Path, mine: &Header, theirs: &Header) -> Result<(), LabError> {
    if let Some((what, a, b)) = mine.mismatch(theirs) {
        return Err(LabError::bad(format!(
            "{}: cannot resume: its {what} is {b}, this run's is {a}; run with the same \
             commit, scenario and flags, or without --resume",
            path.display()
        )));
    }
    if mine.shard != theirs.shard {
        return Err(LabError::bad(format!(
            "{}: cannot resume: it ran shard {}, this run is shard {}",
            path.display(),
            theirs.shard.map_or("(all)".into(), |s| s.to_string()),
            mine.shard.map_or("(all)".into(), |s| s.to_string()),
        )));
    }
    Ok(())
}

/// Journals of scenario `id` under `root` whose process is gone.
fn dead_journals(root: &Path, id: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid: u32 = name
                .strip_prefix(&format!(".{id}.journal-"))?
                .parse()
                .ok()?;
            (pid != std::process::id() && !sims::real::process_alive(pid)).then(|| e.path())
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_survives_its_line_bit_for_bit() {
        let mut outcome = Outcome::default();
        outcome.metrics.insert("a".into(), 0.1 + 0.2);
        outcome.metrics.insert("b".into(), -1.0e-300);
        outcome.metrics.insert("p".into(), 1.0 / 3.0);
        outcome.counts.insert(
            "p".into(),
            Counted {
                events: 7,
                exposure: 21.000000000000004,
            },
        );
        let u = UnitResult {
            point: 3,
            replication: 11,
            seed_key: u64::MAX - 5,
            outcome,
        };
        let line = encode(&u);
        assert!(!line.contains('\n'));
        let back = decode(&line).unwrap();
        assert_eq!(back.point, 3);
        assert_eq!(back.replication, 11);
        assert_eq!(back.seed_key, u64::MAX - 5);
        assert_eq!(back.outcome.metrics, u.outcome.metrics);
        assert_eq!(back.outcome.counts, u.outcome.counts);
        assert_eq!(encode(&back), line);
        assert!(decode("{}").unwrap_err().contains("metrics"));
    }
}
