//! The bench around the models: the `lab` CLI, scenario loading and validation, sweeps,
//! replications, seeding, verdicts, summaries, reports, charts and run comparison.
//!
//! Dependencies point one way: `harness` uses `sims`, never the reverse. Heavy output crates
//! (plotters, parquet) live only here so the models' tests compile fast.

#![warn(missing_docs)]

pub mod analysis;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod expectation;
pub mod format;
pub mod output;
pub mod probe;
pub mod provenance;
pub mod real;
pub mod runner;
pub mod scenario;
pub mod screen;
pub mod shard;
pub mod summary;
pub mod units;
pub mod verdicts;
