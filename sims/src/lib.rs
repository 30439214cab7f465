//! claimlab's models: simulated time ([`time`]), the discrete-event engine ([`des`]), shared
//! statistics ([`stats`]), the typed [`Room`](room::Room) trait every room implements and the
//! object-safe [`Simulation`](simulation::Simulation) the harness holds, real kernels ([`real`]),
//! room tools ([`tool`]), the [`registry`] of rooms, and the rooms themselves (one module per
//! article; `queue` validates the engine itself).
//!
//! Nothing here does I/O beyond what a room's real kernel needs; reports, charts and the CLI live
//! in the `harness` crate, which depends on this one and never the other way round.

#![warn(missing_docs, unreachable_pub)]

pub mod ab_testing;
pub mod build_cache;
pub mod des;
pub mod fingerprint;
pub mod gc;
pub mod gpu_serving;
pub mod idempotency;
pub mod layer_cache;
pub mod migrations;
pub mod params;
pub mod prefetch;
pub mod queue;
pub mod real;
pub mod registry;
pub mod room;
pub mod simulation;
pub mod speculative;
pub mod stats;
pub mod tail_sampling;
pub mod thermal;
pub mod time;
pub mod tool;
pub mod webgpu;
