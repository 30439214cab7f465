//! The one trait the harness knows rooms by, and the types that cross it.

use std::collections::BTreeMap;

use crate::des::RngStreams;
use crate::params::ParamsError;

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
    /// The parameters are invalid (normally caught earlier by `check`).
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

/// A room: a model of one article's mechanism.
pub trait Simulation: Sync {
    /// The `sim = "..."` key: snake_case, unique.
    fn name(&self) -> &'static str;
    /// One line for `lab list`.
    fn description(&self) -> &'static str;
    /// The metrics this room emits.
    fn metrics(&self) -> &'static [MetricDef];
    /// Validates a parameter table without running (serde + range checks) and returns the full
    /// table with every default filled in, so reports and claim filters see every parameter.
    fn check(&self, params: &toml::Table) -> Result<toml::Table, ParamsError>;
    /// Runs one replication.
    fn run(&self, params: &toml::Table, ctx: &RunContext) -> Result<Outcome, RunError>;

    /// The definition of metric `name`, if this room emits it.
    fn metric_def(&self, name: &str) -> Option<&'static MetricDef> {
        self.metrics().iter().find(|m| m.matches(name))
    }
}

/// Test support shared by the rooms' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;

    use super::{RunContext, Simulation};
    use crate::des::RngStreams;
    use crate::stats::Estimate;

    /// Runs `replications` replications of `sim` on `params` in parallel threads (seeded
    /// `seed`, point 0) and estimates every metric across them.
    pub(crate) fn replicate(
        sim: &dyn Simulation,
        params: &str,
        replications: u32,
        seed: u64,
    ) -> BTreeMap<String, Estimate> {
        let t: toml::Table = params.parse().expect("test params are valid TOML");
        sim.check(&t).expect("valid params");
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..replications)
                .map(|r| {
                    let t = &t;
                    s.spawn(move || {
                        let ctx = RunContext {
                            streams: RngStreams::new(seed, 0, r as u64),
                            point: 0,
                            replication: r,
                        };
                        sim.run(t, &ctx).expect("run succeeds")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let mut by_metric: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for o in outcomes {
            for (k, v) in o.metrics {
                by_metric.entry(k).or_default().push(v);
            }
        }
        by_metric
            .into_iter()
            .map(|(k, v)| (k, Estimate::from_samples(&v)))
            .collect()
    }
}
