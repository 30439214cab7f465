//! The `thermal` room: sustained on-device LLM decode on a phone, and what an app can do about
//! thermal throttling (article 03). The article claims decode falls from 12.4 to 3.8 tok/s at
//! 30 minutes on a Snapdragon 8 Gen 3, that its headroom-driven scheduler (4 → 1 threads at
//! headroom 12/7/4 "°C") plus the sustained hint keeps 77% of peak (7.8 tok/s), trading ~18%
//! of peak for 2x the sustained rate, and that 4 → 2 threads costs ~30% throughput.
//!
//! ```text
//!  app policy (every 2 s: getThermalHeadroom → threads, batch, clock hint)
//!     │ threads n, clock cap
//!     ▼
//!  DVFS: P = base + n·C·V(f)²·f + leak(T_j) + DRAM(r)       r = 1/(t_compute(n,f) + t_memory)
//!     │                                                        (straggler: a thread on a little core)
//!     ▼
//!  T_j ──R_js── T_s ──R_sa── T_a        (C_j ≈ 24 s, C_s ≈ 13 min time constants)
//!     │              │
//!     │              └─ HAL severity (skin, thresholds + hysteresis) → clock cap, core isolation
//!     │              └─ TemperatureWatcher: 30 s of skin samples → headroom (1.0 = SEVERE)
//!     └─ kernel step_wise trip (junction) → cooling state → clock cap
//!        or (power_cap regime) an ideal PI power allocator on skin and junction
//! ```
//!
//! Assumptions: the phone's constants (capacities, resistances, powers, the OEM cap table) are
//! the research file's starting values, not measurements of any device; the model is
//! deterministic but for the ambient temperature (spread per replication) and the phases of
//! the platform's and the app's timers. The real kernel (`thermal_sustained`) runs a fixed CPU
//! workload on this machine and samples every thermal sensor it exposes.

mod metrics;
pub(crate) mod model;
mod params;
pub mod real;
#[cfg(test)]
mod tests;

pub use params::{Governor, Policy, ThermalParams};
pub use real::ThermalSustained;

use self::model::{Phases, simulate};
use crate::des::uniform;
use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Thermal;

impl Room for Thermal {
    const NAME: &'static str = "thermal";
    const DESCRIPTION: &'static str = "phone thermal throttling under sustained LLM decode: two-node RC network, DVFS and leakage, HAL severity levels, kernel trips or a power allocator, the headroom API, app policies";
    type Params = ThermalParams;

    // How long and how finely the session is simulated, and when the chart metrics read it;
    // not what the phone is (the robustness probes leave them alone).
    const HORIZON: &'static [&'static str] = &["duration_min", "observe_min", "dt_s"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&ThermalSustained]
    }

    fn work(p: &ThermalParams) -> Option<Work> {
        Some(Work {
            units: 2.0 * p.duration_min * 60.0 / p.dt_s,
            unit: "time steps",
            per_second: 5e6,
        })
    }

    fn run(p: &ThermalParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        let mut rng = ctx.streams.stream("ambient");
        // Box-Muller: one normal draw for the ambient.
        let (u1, u2) = (uniform(&mut rng).max(1e-300), uniform(&mut rng));
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let ta = p.ambient_c + p.ambient_jitter_c * z;
        let mut timers = ctx.streams.stream("timers");
        let phases = Phases([uniform(&mut timers), uniform(&mut timers)]);
        let tr = simulate(p, p.policy, ta, phases);
        let naive = if p.policy == Policy::Naive {
            tr.clone()
        } else {
            simulate(p, Policy::Naive, ta, phases)
        };
        Ok(metrics::outcome(p, &tr, &naive))
    }
}
