//! The `webgpu` room: INT4 LLM inference through WebGPU compute shaders in an Android WebView
//! (article 04). The article claims workgroup size is "the single biggest performance lever"
//! (2-3x on one device; 8x8 for Adreno's 64-wide waves, 4x4 for Mali's 16-wide warps), that all
//! layers should run GPU-side with one readback instead of 12 bridge round trips, that sub-50 ms
//! per token "may not fit", and that INT4 at 1-4B parameters suits 1-3 GB of GPU memory.
//!
//! ```text
//!  token ──► [crossings: bridge + mapAsync] x (1 | layers·k) ──► GPU step ──► token
//!                                                                 │
//!      weights (params · 4.5 bit) / min(bw_eff · BW, lanes in flight · bytes / latency)
//!      vs 2 · params · tokens FLOP / (FLOP/s · efficiency · lane utilization)
//!      lane utilization: workgroup (x, y) as waves of W lanes; at 1 token the article's
//!      2-D mapping gives work to the y = 0 row only
//! ```
//!
//! Sources: `../shared/research/webgpu.md` §4 (wave widths, bandwidth, bridge and `mapAsync`
//! ranges). The occupancy figures (resident lanes, latency, loads in flight) are assumed: the
//! workgroup claims turn on them. The real kernel (`webgpu_int4`, in `kernels/webgpu`, cargo
//! feature `gpu`) runs the WGSL through wgpu on whatever adapter exists (lavapipe in CI).

mod metrics;
pub mod model;
mod params;
pub mod real;
#[cfg(test)]
mod tests;

pub use params::{Dispatch, Family, Mapping, WebgpuParams};
pub use real::WebgpuInt4;

use crate::des::uniform;
use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Webgpu;

/// One log-normal draw with median `median` and log-sd `sigma` (Box-Muller).
pub(crate) fn lognormal(rng: &mut impl rand::Rng, median: f64, sigma: f64) -> f64 {
    if median <= 0.0 {
        return 0.0;
    }
    let (u1, u2) = (uniform(rng).max(1e-300), uniform(rng));
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

impl Room for Webgpu {
    const NAME: &'static str = "webgpu";
    const DESCRIPTION: &'static str = "INT4 LLM steps through WebGPU on phone GPUs: bandwidth/compute roofline, lanes lost to workgroup shape vs wave width (Adreno, Mali, Apple, NVIDIA), per-token bridge and mapAsync crossings";
    type Params = WebgpuParams;

    const HORIZON: &'static [&'static str] = &["sim_tokens"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&WebgpuInt4]
    }

    fn prepare(p: &mut WebgpuParams) -> Result<(), crate::params::ParamsError> {
        p.load_dataset()
    }

    fn work(p: &WebgpuParams) -> Option<Work> {
        Some(Work {
            units: f64::from(p.sim_tokens) * f64::from(model::crossings(p)),
            unit: "crossings",
            per_second: 2e7,
        })
    }

    fn run(p: &WebgpuParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        let mut rng = ctx.streams.stream("crossings");
        let n = model::crossings(p);
        let gpu = model::step(p, p.wg_x, p.wg_y).gpu_ms;
        let mut tokens = Vec::with_capacity(p.sim_tokens as usize);
        let mut crossing_total = 0.0;
        for _ in 0..p.sim_tokens {
            let mut c = 0.0;
            for _ in 0..n {
                c += lognormal(&mut rng, p.bridge_ms, p.crossing_sigma);
                c += lognormal(&mut rng, p.readback_ms, p.crossing_sigma);
            }
            crossing_total += c;
            tokens.push(gpu + c);
        }
        Ok(metrics::outcome(p, &mut tokens, crossing_total))
    }
}
