//! The discrete-event engine: integer-nanosecond time, a future-event set with a total,
//! documented order, cancellation, per-source random streams, and reusable components
//! (multi-server station, semaphore, arrival sources).
//!
//! The engine is event scheduling, not processes: a room defines its own event enum and runs
//! `while let Some((now, ev)) = sched.pop() { match ev { .. } }`. That keeps one heap pop per
//! event and no allocation per event, which is where the speed comes from.

pub mod components;
mod queue;
mod rng;
mod scheduler;

pub use crate::time::{SimDuration, SimTime};
pub use queue::{EventKey, EventQueue, Priority};
pub use rng::{RngStreams, Stream, uniform};
pub use scheduler::{ScheduleError, Scheduler};

#[cfg(test)]
mod tests;
