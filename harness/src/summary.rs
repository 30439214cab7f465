//! The `summary.json` types: the stable contract other tools read (schema 1).
//!
//! Fields may be added; none may be renamed or removed without bumping `schema`. Everything a
//! report, a chart or `lab compare` needs is in here or in `results.csv`, so those commands never
//! rerun a model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::expectation::Expected;
pub use crate::format::fmt_num;

/// Version of the `summary.json` layout.
pub const SCHEMA: u32 = 1;

/// One scenario's results: what was run, on what, and what came out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The layout's version, [`SCHEMA`].
    pub schema: u32,
    /// Which scenario ran.
    pub scenario: ScenarioInfo,
    /// Where, when and how.
    pub provenance: Provenance,
    /// Every point run (a shard's only), with its metrics' estimates.
    pub points: Vec<PointResult>,
    /// Every claim at every point it was judged at.
    pub claims: Vec<ClaimResult>,
    /// One verdict of record per claim, with what would flip it: the decision.
    #[serde(default)]
    pub verdicts: Vec<VerdictRecord>,
    /// The real kernel's outcome, when the scenario has one.
    pub real: Vec<RealResult>,
    /// Where the scenario's parameters come from (`[sources]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceSpec>,
    /// The scenario's `[[charts]]`, so `lab report` can redraw them from this file alone.
    #[serde(default)]
    pub charts: Vec<ChartSpec>,
}

/// Which scenario ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioInfo {
    /// The scenario's id.
    pub id: String,
    /// The room (`sim`).
    pub sim: String,
    /// SHA-256 of the scenario file's bytes, hex.
    pub file_sha256: String,
    /// The scenario's title.
    #[serde(default)]
    pub title: String,
    /// The source article's file stem.
    #[serde(default)]
    pub article: String,
}

/// Where, when and how the results were made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// The commit the lab was built from (`unknown` outside git).
    pub git_commit: String,
    /// Whether the working tree had uncommitted changes.
    pub git_dirty: bool,
    /// The lab's version.
    pub lab_version: String,
    /// The seed the run used.
    pub seed: u64,
    /// Replications per point.
    pub replications: u32,
    /// The machine's host name.
    pub host: String,
    /// UTC, RFC 3339. A timing field: excluded from determinism checks.
    pub started_at: String,
    /// Wall-clock seconds for this scenario. A timing field: excluded from determinism checks.
    pub wall_s: f64,
    /// Whether `--quick` shrank the run.
    #[serde(default)]
    pub quick: bool,
    /// `--set key=value` overrides applied, in order.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Replications the robustness and boundary probes ran on top of the points' own.
    #[serde(default)]
    pub probe_replications: u64,
    /// What the robustness pass cost against the plain run (absent when nothing was probed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robustness: Option<ProbeCost>,
}

/// The robustness pass's cost: the probes' estimated work (the rooms' own estimates of a
/// replication's work, ms of one core, as the progress bar counts it) against the plain run's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProbeCost {
    /// Replications the probes ran (screens, full probes, bisection, boundaries).
    pub replications: u64,
    /// Their estimated work, seconds of one core.
    pub work_s: f64,
    /// The plain run's estimated work (every point's replications), seconds of one core.
    pub plain_work_s: f64,
    /// `work_s / plain_work_s`.
    pub ratio: f64,
    /// Probes that ran only their screen (the first quarter of the replications): it settled
    /// every claim that asked.
    pub settled_by_screens: u64,
    /// Probes run with all their replications.
    pub full_probes: u64,
    /// The budget the pass ran within, as a multiple of the plain run's work (null: none,
    /// `--robustness-budget inf`).
    pub budget_ratio: Option<f64>,
    /// Probes the budget left out (`param = value at point`); the claims that needed them say
    /// so in their reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// One sweep point: its parameters and its metrics across replications.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PointResult {
    /// The point's index in the plan.
    pub index: usize,
    /// Optional human name from `[[points]]` (`name = "mm1-rho0.9"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The point's full parameter table (defaults, file, sweep, overrides merged).
    pub params: serde_json::Value,
    /// Each metric's estimate across replications.
    pub metrics: BTreeMap<String, MetricEstimate>,
}

/// A metric's estimate across replications.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricEstimate {
    /// Mean across replications.
    pub mean: f64,
    /// Student-t 95% confidence interval of the mean, `[lo, hi]`.
    pub ci95: [f64; 2],
    /// Sample standard deviation across replications.
    pub std: f64,
    /// Replications behind the estimate.
    pub n: u32,
    /// The metric's base unit.
    pub unit: String,
}

/// Where a parameter's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Measured: by a real kernel, or a dataset in `datasets/` with its provenance.
    Measured,
    /// From a datasheet, paper or documentation (cite it in `ref`).
    Sourced,
    /// An input the article states (never one of its claimed results).
    Article,
    /// The lab's choice: give the plausible `range`.
    Assumed,
}

impl SourceKind {
    /// The kind as the scenario spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Measured => "measured",
            SourceKind::Sourced => "sourced",
            SourceKind::Article => "article",
            SourceKind::Assumed => "assumed",
        }
    }
}

/// How a range is searched: evenly, or by ratios (for ranges over orders of magnitude).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Evenly spaced.
    #[default]
    Linear,
    /// Evenly spaced in the logarithm (both ends > 0).
    Log,
}

/// A `[sources]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// measured, sourced, article or assumed.
    pub kind: SourceKind,
    /// Where it comes from: a dataset, a paper, a kernel (required for measured and sourced).
    #[serde(default, rename = "ref", skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// The plausible range of an assumed value, `[low, high]`: the verdicts that use it are
    /// checked at both ends.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::expectation::low_high"
    )]
    pub range: Option<[f64; 2]>,
    /// How the range is searched for a flip point (default linear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// Why this value, in a sentence.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A claim's outcome.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The 95% CI lies inside the expected range.
    Holds,
    /// The 95% CI lies wholly outside the expected range.
    Fails,
    /// The CI and the expected range overlap.
    Inconclusive,
    /// The claim needs hardware or a service that is absent.
    NotRun,
    /// The verdict changes as an assumed parameter moves across its plausible range (the
    /// verdict of record only; `depends_on` says where it flips).
    Depends,
}

impl Verdict {
    /// The verdict as `summary.json` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Fails => "fails",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotRun => "not_run",
            Verdict::Depends => "depends",
        }
    }
}

/// One claim at one point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClaimResult {
    /// The claim's id.
    pub id: String,
    /// The article's sentence.
    pub text: String,
    /// The metric judged (`real.NAME` for a measurement).
    pub metric: String,
    /// The `index` of the point it was judged at (not a position in `points`, which a shard
    /// may leave incomplete).
    pub point: usize,
    /// The expectation as judged.
    pub expected: Expected,
    /// The model's estimate, absent when not run.
    pub measured: Option<MetricEstimate>,
    /// holds, fails, inconclusive or not_run.
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    /// The scenario author's explanation of the mechanism behind the verdict (`note` in
    /// `[[claims]]`): why the article's number does or does not come out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// mechanism, arithmetic or measurement.
    #[serde(default = "mechanism")]
    pub kind: String,
    /// Whether this row decides the verdict of record (a what-if row does not).
    #[serde(default = "yes")]
    pub of_record: bool,
}

fn mechanism() -> String {
    "mechanism".into()
}

fn yes() -> bool {
    true
}

/// One claim's verdict of record, with what would flip it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VerdictRecord {
    /// The claim's id.
    pub id: String,
    /// The article's sentence.
    pub text: String,
    /// mechanism, arithmetic or measurement.
    pub kind: String,
    /// The metric judged.
    pub metric: String,
    /// The verdict of record.
    pub verdict: Verdict,
    /// How the rows gave it: single, article, all or any.
    pub rule: String,
    /// Indices into `claims` of its rows (the point of record first).
    pub rows: Vec<usize>,
    /// Why, in one sentence: the deciding row's reason, or where it flips.
    pub reason: String,
    /// The mechanism, in the author's words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The assumed parameters checked across their ranges, and where they flip the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Dependence>,
    /// Where the verdict flips along the parameter the claim's `boundary` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<BoundaryResult>,
}

/// An assumed parameter moved across its plausible range.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Dependence {
    /// The parameter (dotted path).
    pub param: String,
    /// The scenario's value.
    pub value: f64,
    /// Its plausible range, `[low, high]`.
    pub range: [f64; 2],
    /// The verdict of record at the low end, the scenario's value and the high end.
    pub verdicts: [Verdict; 3],
    /// Where the verdict stops being the scenario value's (absent when it holds across the
    /// whole range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flips_at: Option<f64>,
    /// `above` or `below` the flip point (or `between` the window's ends) is where the claim
    /// holds (absent when it holds on neither side).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_when: Option<String>,
    /// For a two-sided claim with the same verdict at both ends: the values between them where
    /// the metric's mean lies inside the claimed range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<[f64; 2]>,
    /// The verdict in the window's middle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_verdict: Option<Verdict>,
}

/// A requested flip point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoundaryResult {
    /// The parameter searched.
    pub param: String,
    /// Where the metric's mean crosses the claim's threshold (absent when it does not
    /// cross it in the searched range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The flip point's 95% interval: where the metric's interval crosses the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
    /// `above` or `below` the flip point is where the claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_when: Option<String>,
    /// The threshold the metric crosses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// What the search found, in words.
    pub reason: String,
}

impl ClaimResult {
    /// Where the judged value came from (the model, or the real kernel).
    pub fn source(&self) -> crate::expectation::MetricSource {
        crate::expectation::MetricSource::parse(&self.metric)
    }
}

/// A real kernel's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RealResult {
    /// The kernel's name.
    pub kernel: String,
    /// `ok` or `not_run`.
    pub status: String,
    /// Why it did not run (empty when it ran).
    pub reason: String,
    /// Measured values (the mean where the kernel repeated a measurement).
    pub metrics: BTreeMap<String, f64>,
    /// Each measurement's unit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, String>,
    /// 95% intervals of repeated measurements.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ci95: BTreeMap<String, [f64; 2]>,
    /// Repetitions behind each value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub n: BTreeMap<String, u32>,
    /// Measurements that are checked facts, judged as they are (no interval needed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exact: Vec<String>,
    /// Parameter values the kernel measured for the model.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub calibration: serde_json::Map<String, serde_json::Value>,
    /// The points (by `index`) that ran with those values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrated_points: Vec<usize>,
    /// What the run showed beyond numbers (a pitfall reproduced, a property checked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Where it ran: server version, threads, model files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Metrics the kernel could not measure in this run, by name: why.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmeasured: BTreeMap<String, String>,
    /// Measured curves, drawn as charts in the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<RealSeriesJson>,
    /// Seconds the kernel ran.
    #[serde(default)]
    pub wall_s: f64,
}

/// A measured curve of a real kernel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RealSeriesJson {
    /// File-name safe id.
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// The x axis's label.
    pub x_label: String,
    /// The y axis's label.
    pub y_label: String,
    /// A logarithmic y axis.
    #[serde(default)]
    pub log_y: bool,
    /// The measured lines.
    pub lines: Vec<SeriesLine>,
}

/// One line of a measured curve: `[x, y]` pairs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesLine {
    /// The line's legend entry.
    pub name: String,
    /// Its `[x, y]` points.
    pub points: Vec<[f64; 2]>,
}

/// A `[[charts]]` entry: the model's mean with its CI band over one parameter, claims as markers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// The chart's title.
    pub title: String,
    /// The parameter on the x axis (a dotted path into the point's params, e.g. `service.mean`).
    pub x: String,
    /// Metrics on the y axis; each becomes one line with its CI band.
    pub y: Vec<String>,
    /// Overlay the article's claimed values on the model's.
    #[serde(default)]
    pub claims: bool,
    /// Only points whose params match all of these (dotted paths allowed).
    #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, serde_json::Value>,
    /// A parameter whose distinct values split each metric into separate lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Axis labels; defaults are the parameter name and the metrics with their unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_label: Option<String>,
    /// The y axis's label (default: the metrics with their units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y_label: Option<String>,
    /// A logarithmic x axis.
    #[serde(default)]
    pub log_x: bool,
    /// A logarithmic y axis.
    #[serde(default)]
    pub log_y: bool,
}

/// One row of `results.csv` / `results.parquet`: one metric of one replication at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// The point's index.
    pub point: usize,
    /// The replication's index.
    pub replication: u32,
    /// A key of the replication's random streams.
    pub seed: u64,
    /// The metric's name.
    pub metric: String,
    /// Its value in the base unit.
    pub value: f64,
    /// The base unit.
    pub unit: String,
}

impl Summary {
    /// Reads a `summary.json`.
    pub fn read(path: &std::path::Path) -> Result<Summary, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let s: Summary = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not a claimlab summary.json: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if s.schema != SCHEMA {
            return Err(format!(
                "{}: summary schema {}, but this lab reads schema {SCHEMA} (written by another \
                 version of claimlab: rerun it, or use the lab that wrote it)",
                path.display(),
                s.schema
            ));
        }
        Ok(s)
    }
}
