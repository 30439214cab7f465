//! The object-safe trait the harness holds rooms by ([`Simulation`]), and the types that cross
//! it. Rooms do not implement it themselves: they implement the typed [`Room`](crate::room::Room)
//! trait, and one blanket adapter ([`Registered`](crate::room::Registered)) turns every room into
//! a `Simulation`.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::des::RngStreams;
use crate::params::ParamsError;
use crate::real::Kernel;
use crate::tool::Tool;

/// Which direction of change is an improvement, for `lab compare`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Better {
    /// Smaller is better (latency, cost).
    Lower,
    /// Larger is better (throughput, accuracy).
    Higher,
    /// Neither: a change is reported as a change, not as better or worse.
    Neither,
}

/// One metric a room emits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MetricDef {
    /// snake_case, unit last (`sojourn_p99`, `tokens_per_s`). A trailing `<N>` stands for any
    /// class number: `wait_mean_class<N>` covers `wait_mean_class0`, `wait_mean_class1`, ...
    pub name: &'static str,
    /// The base unit `summary.json` prints (`s`, `fraction`, `1/s`, `customers`).
    pub unit: &'static str,
    /// One line: what it measures.
    pub description: &'static str,
    /// Direction of improvement.
    pub better: Better,
}

impl MetricDef {
    /// A metric definition (a `const fn`, so rooms list their metrics in a `const` table).
    pub const fn new(
        name: &'static str,
        unit: &'static str,
        description: &'static str,
        better: Better,
    ) -> MetricDef {
        MetricDef {
            name,
            unit,
            description,
            better,
        }
    }

    /// Whether `name` is this metric (exactly, or by its `<N>` template).
    pub fn matches(&self, name: &str) -> bool {
        match self.name.strip_suffix("<N>") {
            Some(prefix) => name
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())),
            None => self.name == name,
        }
    }
}

/// Everything a replication needs besides its parameters.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// Random streams for this (seed, point, replication).
    pub streams: RngStreams,
    /// Sweep point index.
    pub point: usize,
    /// Replication index.
    pub replication: u32,
}

impl RunContext {
    /// The context of replication `replication` at point 0 with streams for `seed` (tests and
    /// benchmarks).
    pub fn for_replication(seed: u64, replication: u32) -> RunContext {
        RunContext {
            streams: RngStreams::new(seed, 0, u64::from(replication)),
            point: 0,
            replication,
        }
    }
}

/// A replication's metric values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Metric name to value, in the metric's base unit.
    pub metrics: BTreeMap<String, f64>,
}

impl Outcome {
    /// Records a metric value.
    pub fn set(&mut self, name: impl Into<String>, value: f64) {
        self.metrics.insert(name.into(), value);
    }
}

/// Why a replication could not produce an outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The parameters are invalid (normally caught earlier, when the point was prepared).
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The parameters describe a system the model cannot finish (say, an overloaded queue
    /// that never serves its measured customers): the user's input, not a bug.
    #[error("{0}")]
    Infeasible(String),
    /// The model hit a state it cannot continue from.
    #[error("model error: {0}")]
    Model(String),
}

/// A point's parameters, parsed and validated once and shared by all its replications: the
/// full table (every default filled in, for reports and claim filters) and the room's typed
/// parameters behind it.
#[derive(Clone)]
pub struct PreparedParams {
    table: toml::Table,
    typed: Arc<dyn Any + Send + Sync>,
}

impl PreparedParams {
    /// Wraps a room's typed parameters and their table form.
    pub fn new<T: Any + Send + Sync>(table: toml::Table, typed: T) -> PreparedParams {
        PreparedParams {
            table,
            typed: Arc::new(typed),
        }
    }

    /// Every parameter, defaults filled in.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// The typed parameters, when they are a `T`.
    pub fn typed<T: Any>(&self) -> Option<&T> {
        self.typed.downcast_ref::<T>()
    }
}

impl std::fmt::Debug for PreparedParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedParams")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// A room as the harness holds it. Written once, for every room, by
/// [`Registered`](crate::room::Registered); a room implements [`Room`](crate::room::Room).
pub trait Simulation: Sync {
    /// The `sim = "..."` key: snake_case, unique.
    fn name(&self) -> &'static str;
    /// One line for `lab list`.
    fn description(&self) -> &'static str;
    /// The metrics this room emits.
    fn metrics(&self) -> &'static [MetricDef];
    /// The room's real kernels (at most one today: the `[real]` table runs the first).
    fn kernels(&self) -> &'static [&'static dyn Kernel];
    /// The room's command-line tools (`lab <tool> <command>`).
    fn tools(&self) -> &'static [Tool];
    /// Parses and validates a point's parameter table (serde, then range checks), once per
    /// point; replications share the result.
    fn prepare(&self, params: &toml::Table) -> Result<PreparedParams, ParamsError>;
    /// Runs one replication on prepared parameters.
    fn run(&self, params: &PreparedParams, ctx: &RunContext) -> Result<Outcome, RunError>;

    /// The definition of metric `name`, if this room emits it.
    fn metric_def(&self, name: &str) -> Option<&'static MetricDef> {
        self.metrics().iter().find(|m| m.matches(name))
    }

    /// The kernel a `[real]` table runs, if the room has one.
    fn kernel(&self) -> Option<&'static dyn Kernel> {
        self.kernels().first().copied()
    }
}
