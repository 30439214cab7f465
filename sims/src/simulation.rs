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

/// What values a metric takes, which decides how its interval across replications is formed
/// (an interval never leaves the metric's range).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum MetricKind {
    /// Any real number: a Student-t interval of the replication means.
    Unbounded,
    /// Never below zero (a latency, a size, a cost): the t-interval, cut at zero.
    NonNegative,
    /// Within `[lo, hi]` but not a share of counts (a utilisation, a duty cycle): the
    /// t-interval cut to the range.
    Bounded {
        /// Lowest possible value.
        lo: f64,
        /// Highest possible value.
        hi: f64,
    },
    /// A share of counted trials (traces kept of traces seen): the room reports the counts
    /// with [`Outcome::set_proportion`]; the estimate pools them across replications, and the
    /// interval covers both the exact binomial interval of the pooled counts and the spread
    /// between replications, so zero failures in N reads "at most about 3/N", never certainty.
    Proportion,
    /// Events per `per` units of exposure (double charges per 10,000 payments, traces lost per
    /// day): the room reports events and exposure with [`Outcome::set_rate`]; the estimate
    /// pools them, and the interval covers the Poisson-exact interval of the pooled events and
    /// the spread between replications, so zero events is never certainty.
    Rate {
        /// The exposure the value is per (`10000.0` for "per 10k").
        per: f64,
    },
    /// Events counted in a replication (timeouts): a rate per replication, reported with
    /// [`Outcome::set_count`].
    Count,
}

/// Whether a metric estimates the quantity it names, or bounds it because the model leaves
/// something out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The model's value estimates the real one.
    Estimate,
    /// The real value is at least the model's (the model omits a cost).
    Lower,
    /// The real value is at most the model's (the model omits a benefit).
    Upper,
}

/// One metric a room emits.
#[derive(Copy, Clone, Debug, PartialEq)]
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
    /// What values it takes.
    pub kind: MetricKind,
    /// Whether it is an estimate or a bound.
    pub bound: Bound,
    /// Computed from the parameters alone (a closed form, a product of inputs), not from the
    /// model's dynamics: a claim on it is arithmetic, and cannot come out of the mechanism.
    pub from_inputs: bool,
    /// Computed without sampling noise (an exact expectation): identical replications are
    /// certainty, not chance.
    pub exact: bool,
}

impl MetricDef {
    /// An unbounded estimate (a `const fn`, so rooms list their metrics in a `const` table);
    /// the builder methods below say what else it is.
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
            kind: MetricKind::Unbounded,
            bound: Bound::Estimate,
            from_inputs: false,
            exact: false,
        }
    }

    /// Never below zero.
    pub const fn non_negative(mut self) -> MetricDef {
        self.kind = MetricKind::NonNegative;
        self
    }

    /// Within `[lo, hi]`, not from counts.
    pub const fn bounded(mut self, lo: f64, hi: f64) -> MetricDef {
        self.kind = MetricKind::Bounded { lo, hi };
        self
    }

    /// A share in `[0, 1]` that is not a share of counts (a utilisation).
    pub const fn fraction(self) -> MetricDef {
        self.bounded(0.0, 1.0)
    }

    /// A share of counted trials; the room reports the counts.
    pub const fn proportion(mut self) -> MetricDef {
        self.kind = MetricKind::Proportion;
        self
    }

    /// Events per `per` units of exposure; the room reports events and exposure.
    pub const fn rate(mut self, per: f64) -> MetricDef {
        self.kind = MetricKind::Rate { per };
        self
    }

    /// Events counted per replication.
    pub const fn count(mut self) -> MetricDef {
        self.kind = MetricKind::Count;
        self
    }

    /// The real value is at least the model's.
    pub const fn lower_bound(mut self) -> MetricDef {
        self.bound = Bound::Lower;
        self
    }

    /// The real value is at most the model's.
    pub const fn upper_bound(mut self) -> MetricDef {
        self.bound = Bound::Upper;
        self
    }

    /// Computed from the parameters alone (so also exact).
    pub const fn from_inputs(mut self) -> MetricDef {
        self.from_inputs = true;
        self.exact = true;
        self
    }

    /// Computed without sampling noise.
    pub const fn exact(mut self) -> MetricDef {
        self.exact = true;
        self
    }

    /// The range its values (and so its intervals) stay in.
    pub fn range(&self) -> (f64, f64) {
        match self.kind {
            MetricKind::Unbounded => (f64::NEG_INFINITY, f64::INFINITY),
            MetricKind::NonNegative | MetricKind::Count | MetricKind::Rate { .. } => {
                (0.0, f64::INFINITY)
            }
            MetricKind::Bounded { lo, hi } => (lo, hi),
            MetricKind::Proportion => (0.0, 1.0),
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
    /// For proportions, rates and counts: metric name to the events (or successes) and the
    /// exposure (or trials) behind the value.
    pub counts: BTreeMap<String, Counted>,
}

/// The counts behind a proportion, rate or count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counted {
    /// Successes or events.
    pub events: u64,
    /// Trials or exposure (replications for a count).
    pub exposure: f64,
}

impl Outcome {
    /// Records a metric value.
    pub fn set(&mut self, name: impl Into<String>, value: f64) {
        self.metrics.insert(name.into(), value);
    }

    /// Records a proportion with the counts behind it: `successes / trials` (0 when there
    /// were no trials, which the pooled estimate then ignores).
    pub fn set_proportion(&mut self, name: impl Into<String>, successes: u64, trials: u64) {
        self.set_rate(name, successes, trials as f64, 1.0);
    }

    /// Records a rate with the counts behind it: `per × events / exposure` (0 without
    /// exposure).
    pub fn set_rate(&mut self, name: impl Into<String>, events: u64, exposure: f64, per: f64) {
        let name = name.into();
        let value = if exposure > 0.0 {
            per * events as f64 / exposure
        } else {
            0.0
        };
        self.metrics.insert(name.clone(), value);
        self.counts.insert(name, Counted { events, exposure });
    }

    /// Records events counted in this replication.
    pub fn set_count(&mut self, name: impl Into<String>, events: u64) {
        self.set_rate(name, events, 1.0, 1.0);
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

    /// Parameters that only set how much is simulated (customers, hours, experiments), not
    /// what: `--quick` may cut them without changing the question a claim asks.
    fn horizon_params(&self) -> &'static [&'static str];

    /// The kernel a `[real]` table runs, if the room has one.
    fn kernel(&self) -> Option<&'static dyn Kernel> {
        self.kernels().first().copied()
    }

    /// What one replication on these parameters costs, if the room estimates it.
    fn work(&self, params: &PreparedParams) -> Option<Work>;
}

/// What one replication costs: `units` of the room's own kind (customers, traces, requests)
/// and roughly how many of them one core simulates per second. The harness shows the total up
/// front and refuses runs far beyond a sane size unless told `--force`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work {
    /// How many units one replication simulates.
    pub units: f64,
    /// What a unit is, plural (`customers`).
    pub unit: &'static str,
    /// Units one core simulates per second: an order-of-magnitude figure measured on a
    /// development machine, good for "seconds or days", not for a schedule.
    pub per_second: f64,
}

impl Work {
    /// Seconds of one core this work takes, roughly.
    pub fn cpu_seconds(&self) -> f64 {
        self.units / self.per_second
    }
}
