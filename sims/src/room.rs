//! The typed trait a room implements ([`Room`]), and the one adapter that turns any room into
//! the object-safe [`Simulation`] the harness holds ([`Registered`]).
//!
//! A room never sees a `toml::Table` and never parses its own parameters: the adapter
//! deserialises them (unknown fields are errors), calls [`Validate::validate`] and
//! [`Room::prepare`] once per point, and hands every replication the same typed value.
//!
//! Adding a room is a folder with a `Room` impl and one line in [`crate::registry`]; the
//! README's "Adding a room" section walks through it, and `sims/tests/new_room.rs` follows it.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::params::{self, ParamsError};
use crate::real::Kernel;
use crate::simulation::{
    MetricDef, Outcome, PreparedParams, RunContext, RunError, Simulation, Work,
};
use crate::tool::Tool;

/// Range checks serde cannot express, run once per point after deserialisation.
pub trait Validate {
    /// `Err` names the offending field (`ParamsError::OutOfRange { path, .. }`).
    fn validate(&self) -> Result<(), ParamsError>;
}

/// A room: a model of one article's mechanism, with its typed parameters, the metrics it
/// emits, and optionally real kernels and command-line tools.
pub trait Room: 'static {
    /// The `sim = "..."` key: snake_case, unique.
    const NAME: &'static str;
    /// One line for `lab list`.
    const DESCRIPTION: &'static str;
    /// The scenario's `[params]`, as typed: `#[serde(deny_unknown_fields, default)]` with the
    /// sourced defaults in `Default`.
    type Params: DeserializeOwned + Serialize + Validate + Send + Sync + 'static;

    /// The metrics this room emits.
    fn metrics() -> &'static [MetricDef];

    /// Parameters that only set how much is simulated (customers, hours, experiments), not
    /// what. `--quick` may shrink these and still ask the claims' question; a quick change
    /// of any other parameter makes the claims it touches inconclusive in the preview.
    const HORIZON: &'static [&'static str] = &[];

    /// The room's real kernels (none by default).
    fn kernels() -> &'static [&'static dyn Kernel] {
        &[]
    }

    /// The room's command-line tools, `lab <tool> <command>` (none by default).
    fn tools() -> &'static [Tool] {
        &[]
    }

    /// Before deserialisation, for rooms whose nested parameter tables keep their own defaults
    /// for the fields a scenario leaves out (a priority class given only its `share`): the
    /// completed table, or `None` (the default) to take the table as given.
    fn complete_table(table: &toml::Table) -> Option<toml::Table> {
        let _ = table;
        None
    }

    /// Once per point, after validation: anything derived from the parameters that every
    /// replication shares (a parsed configuration file, a profile's figures filled in so the
    /// report shows them). The default does nothing.
    fn prepare(params: &mut Self::Params) -> Result<(), ParamsError> {
        let _ = params;
        Ok(())
    }

    /// What one replication costs (see [`Work`]), so a run far too big for its machine is
    /// refused before it starts. `None` (the default): not estimated.
    fn work(params: &Self::Params) -> Option<Work> {
        let _ = params;
        None
    }

    /// Runs one replication.
    fn run(params: &Self::Params, ctx: &RunContext) -> Result<Outcome, RunError>;
}

/// Parses, validates and prepares a room's parameters from a table.
pub fn parse_params<R: Room>(table: &toml::Table) -> Result<R::Params, ParamsError> {
    let completed = R::complete_table(table);
    let mut p: R::Params = params::parse(completed.as_ref().unwrap_or(table))?;
    p.validate()?;
    R::prepare(&mut p)?;
    Ok(p)
}

/// A room as a [`Simulation`]: the registry lists `&Registered::<MyRoom>::NEW`.
pub struct Registered<R>(PhantomData<fn() -> R>);

impl<R> Registered<R> {
    /// The registered room (a constant, so the registry is a `const` slice).
    pub const NEW: Registered<R> = Registered(PhantomData);
}

impl<R: Room> Simulation for Registered<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn description(&self) -> &'static str {
        R::DESCRIPTION
    }

    fn metrics(&self) -> &'static [MetricDef] {
        R::metrics()
    }

    fn kernels(&self) -> &'static [&'static dyn Kernel] {
        R::kernels()
    }

    fn tools(&self) -> &'static [Tool] {
        R::tools()
    }

    fn horizon_params(&self) -> &'static [&'static str] {
        R::HORIZON
    }

    fn prepare(&self, table: &toml::Table) -> Result<PreparedParams, ParamsError> {
        let p = parse_params::<R>(table)?;
        Ok(PreparedParams::new(params::to_table(&p), p))
    }

    fn work(&self, params: &PreparedParams) -> Option<Work> {
        params.typed::<R::Params>().and_then(R::work)
    }

    fn run(&self, params: &PreparedParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        let p = params.typed::<R::Params>().ok_or_else(|| {
            RunError::Model(format!(
                "parameters prepared by another simulation were given to `{}`",
                R::NAME
            ))
        })?;
        R::run(p, ctx)
    }
}

/// Test support shared by the rooms' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;

    use super::{Room, parse_params};
    use crate::params::ParamsError;
    use crate::simulation::{Outcome, RunContext, RunError};
    use crate::stats::Estimate;

    /// The parameter table a room's check gives for `params` (TOML text): every default
    /// filled in, or the first problem.
    pub(crate) fn check<R: Room>(params: &toml::Table) -> Result<toml::Table, ParamsError> {
        parse_params::<R>(params).map(|p| crate::params::to_table(&p))
    }

    /// Prepares `params` as the harness does and runs one replication.
    pub(crate) fn run_once<R: Room>(
        params: &toml::Table,
        ctx: &RunContext,
    ) -> Result<Outcome, RunError> {
        R::run(&parse_params::<R>(params)?, ctx)
    }

    /// Runs `replications` replications of room `R` on `params` (TOML text) in parallel threads
    /// (seeded `seed`, point 0) and estimates every metric across them.
    pub(crate) fn replicate<R: Room>(
        params: &str,
        replications: u32,
        seed: u64,
    ) -> BTreeMap<String, Estimate> {
        let t: toml::Table = params.parse().expect("test params are valid TOML");
        let p = parse_params::<R>(&t).expect("valid params");
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..replications)
                .map(|r| {
                    let p = &p;
                    s.spawn(move || {
                        R::run(p, &RunContext::for_replication(seed, r)).expect("run succeeds")
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
