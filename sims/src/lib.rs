//! claimlab's models: the discrete-event engine ([`des`]), shared statistics ([`stats`]), the
//! [`Simulation`](simulation::Simulation) trait every room implements, the [`registry`] of rooms,
//! and the rooms themselves (one module per article; `queue` validates the engine itself).
//!
//! Nothing here does I/O beyond what a room's real kernel needs; reports, charts and the CLI live
//! in the `harness` crate, which depends on this one and never the other way round.

#![warn(unreachable_pub)]

pub mod ab_testing;
pub mod des;
pub mod idempotency;
pub mod migrations;
pub mod params;
pub mod queue;
pub mod real;
pub mod registry;
pub mod simulation;
pub mod stats;
pub mod tail_sampling;
