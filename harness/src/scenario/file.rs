//! The scenario file as typed (raw input): what `toml` deserialises before any checks.
//! [`super::plan`] turns it into a run plan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::summary::{ChartSpec, Expected, Scale, SourceSpec};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// `[scenario]`: what it is and how it runs.
    pub scenario: Header,
    /// The sim's parameters (checked by the room, not here).
    #[serde(default)]
    pub params: toml::Table,
    /// Cartesian grid: dotted parameter path → list of values.
    #[serde(default)]
    pub sweep: toml::Table,
    /// Explicit points (each replaces whole top-level params); the sweep runs within each.
    #[serde(default)]
    pub points: Vec<PointSpec>,
    /// The article's claims.
    #[serde(default)]
    pub claims: Vec<ClaimSpec>,
    /// Charts of the model's metrics over a parameter.
    #[serde(default)]
    pub charts: Vec<ChartSpec>,
    /// What `--quick` changes.
    #[serde(default)]
    pub quick: QuickSpec,
    /// The room's real kernel: harness keys `enabled` and `calibrate`, the rest the kernel's.
    #[serde(default)]
    pub real: Option<toml::Table>,
    /// Where each parameter's value comes from, by dotted path: an unlisted parameter is
    /// assumed.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSpec>,
}

/// `[scenario]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Unique, kebab-case.
    pub id: String,
    /// Shown in reports.
    #[serde(default)]
    pub title: String,
    /// File stem of the source article.
    #[serde(default)]
    pub article: String,
    /// The registered simulation.
    pub sim: String,
    /// The seed every random stream derives from (default 42).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Replications per point (default 10).
    #[serde(default = "default_replications")]
    pub replications: u32,
    /// Sweep points share random streams (common random numbers), which makes differences
    /// between points less noisy. Default true.
    #[serde(default = "default_true")]
    pub common_random_numbers: bool,
    /// Free text about the scenario.
    #[serde(default)]
    pub description: String,
}

fn default_seed() -> u64 {
    42
}
fn default_replications() -> u32 {
    10
}
fn default_true() -> bool {
    true
}

/// One `[[points]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointSpec {
    /// A name claims can select with `where = { point = "..." }`.
    #[serde(default)]
    pub name: Option<String>,
    /// Parameter values of this point: dotted paths replacing `[params]` values.
    #[serde(default)]
    pub params: toml::Table,
    /// A cartesian grid within this point only (after the global `[sweep]`).
    #[serde(default)]
    pub sweep: toml::Table,
    /// The article's own setting: the verdict of record of claims with `rollup = "article"`.
    #[serde(default)]
    pub article: bool,
    /// Sources that hold at this point only (they replace the scenario's for the same key).
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSpec>,
    /// Fewer replications here than the scenario's (a long point whose claims are nearly
    /// deterministic); at most the run's count, which `--replications` sets for every point.
    #[serde(default)]
    pub replications: Option<u32>,
}

/// One `[[claims]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    /// Unique within the scenario, kebab-case.
    pub id: String,
    /// The article's sentence, as written.
    pub text: String,
    /// A metric the room emits, or `real.NAME` for a real kernel's measurement.
    pub metric: String,
    /// Which points: parameter values to match, or `point = "name"`. Empty: every point.
    #[serde(default, rename = "where")]
    pub filter: toml::Table,
    /// What the claim expects of the metric.
    pub expect: Expected,
    /// Why the mechanism gives what it gives (shown beside the verdict).
    #[serde(default)]
    pub note: String,
    /// mechanism (default for model metrics), arithmetic, or measurement (a real kernel's).
    #[serde(default)]
    pub kind: Option<ClaimKind>,
    /// How several matched points give one verdict of record: the `article = true` point,
    /// all of them, or any of them. Required when `where` matches more than one point.
    #[serde(default)]
    pub rollup: Option<Rollup>,
    /// The model bounds the metric here (it leaves out a cost, or a benefit).
    #[serde(default)]
    pub model_bound: Option<BoundSide>,
    /// Find where the verdict flips as one parameter moves.
    #[serde(default)]
    pub boundary: Option<BoundarySpec>,
}

/// What a claim's metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// The metric comes out of the model's dynamics.
    Mechanism,
    /// The article's numbers checked against each other or a formula (never counted with
    /// mechanism verdicts).
    Arithmetic,
    /// A real kernel's measurement.
    Measurement,
}

impl ClaimKind {
    /// The kind as the scenario spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Mechanism => "mechanism",
            ClaimKind::Arithmetic => "arithmetic",
            ClaimKind::Measurement => "measurement",
        }
    }
}

/// How a claim matched at several points gets one verdict of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollup {
    /// The point marked `article = true` decides; the others are what-if rows.
    Article,
    /// Holds only if it holds at every point.
    All,
    /// Holds if it holds at one point.
    Any,
}

/// Which side a model's value bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundSide {
    /// The real value is at least the model's.
    Lower,
    /// The real value is at most the model's.
    Upper,
}

/// `boundary = { param, min, max, scale }`: where the claim's verdict flips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundarySpec {
    /// A numeric parameter (dotted path).
    pub param: String,
    /// One end of the search.
    pub min: f64,
    /// The other end.
    pub max: f64,
    /// linear (default) or log.
    #[serde(default)]
    pub scale: Scale,
}

/// `[quick]`: a smaller run for tests and previews.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickSpec {
    /// Replications in quick mode (default: min(replications, 3)).
    pub replications: Option<u32>,
    /// Parameter overrides in quick mode, dotted paths allowed (`customers = 2000`).
    #[serde(default)]
    pub params: toml::Table,
}
