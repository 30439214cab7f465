//! The screen-load model (research §3.3), replayed over held-out sessions.
//!
//! ```text
//!  tap ──► cached, finished, fresh? ──yes──► hit: render·f + swap-in
//!               │ no
//!               └──────────────────────────► full load: render + network
//!  screen shown ──► inference ──► prefetch top-k (network + inflate each, in parallel)
//!               ──► dwell ──► next tap
//! ```
//!
//! The same render and network draws give the no-prefetch load of every tap (common random
//! numbers), so the two distributions differ only by the prefetch. Before `warmup_transitions`
//! transitions the prior predicts (cold start). The cache holds `cache_screens` prefetched
//! screens, least recently requested evicted first; an entry older than `cache_ttl_s` is stale.

use rand_distr::{Distribution, LogNormal};

use super::generator::Screen;
use super::ngram::{Predict, Prior};
use super::params::PrefetchParams;

/// What the replay measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loads {
    /// Load time of every tap with prefetching, ms.
    pub(crate) with: Vec<f64>,
    /// The same taps without prefetching, ms.
    pub(crate) without: Vec<f64>,
    /// Taps served from the prefetch cache.
    pub(crate) hits: u64,
    /// Taps during cold start (before live predictions), and their hits.
    pub(crate) cold_taps: u64,
    /// Hits among them.
    pub(crate) cold_hits: u64,
    /// Prefetches started (each downloads a share of a screen's bytes).
    pub(crate) prefetches: u64,
    /// Cached screens integrated over time, screen·ms.
    pub(crate) cached_area: f64,
    /// Time simulated, ms.
    pub(crate) time_ms: f64,
}

struct Entry {
    screen: Screen,
    ready: f64,
}

fn lognormal(median: f64, sigma: f64) -> LogNormal<f64> {
    LogNormal::new(median.ln(), sigma).expect("validated: median > 0, sigma ≥ 0")
}

/// Replays `sessions` with predictor `live` (and `prior` during cold start).
pub(crate) fn replay<'a, R: rand::Rng>(
    p: &PrefetchParams,
    sessions: impl Iterator<Item = &'a Vec<Screen>>,
    live: &dyn Predict,
    prior: &Prior,
    rng: &mut R,
) -> Loads {
    let render = lognormal(p.render_median_ms, p.render_sigma);
    let network = lognormal(p.network_median_ms, p.network_sigma);
    let dwell = lognormal(p.dwell_median_ms, p.dwell_sigma);
    let k = p.prefetch_k as usize;
    let ttl = p.cache_ttl_s * 1000.0;
    let window = p.data.window as usize;
    let mut out = Loads::default();
    let mut picks = Vec::with_capacity(k);
    for s in sessions {
        let mut cache: Vec<Entry> = Vec::new();
        let mut t = 0.0;
        for i in 0..s.len() {
            if i > 0 {
                let (r, n) = (render.sample(rng), network.sample(rng));
                let full = r + n;
                let hit = cache
                    .iter()
                    .position(|e| e.screen == s[i] && e.ready <= t && t - e.ready <= ttl);
                let load = match hit {
                    Some(at) => {
                        cache.remove(at);
                        out.hits += 1;
                        if i <= p.warmup_transitions as usize {
                            out.cold_hits += 1;
                        }
                        r * p.hit_render_fraction + p.hit_overhead_ms
                    }
                    None => {
                        cache.retain(|e| e.screen != s[i]);
                        full
                    }
                };
                if i <= p.warmup_transitions as usize {
                    out.cold_taps += 1;
                }
                out.with.push(load);
                out.without.push(full);
                t += load;
                out.time_ms += load;
            }
            if i + 1 == s.len() {
                break;
            }
            if k > 0 {
                let history = &s[(i + 1).saturating_sub(window)..=i];
                if i < p.warmup_transitions as usize {
                    prior.top(history, k, &mut picks);
                } else {
                    live.top(history, k, &mut picks);
                }
                let start = t + p.inference_ms;
                for &y in &picks {
                    if let Some(at) = cache.iter().position(|e| e.screen == y) {
                        let e = cache.remove(at);
                        cache.push(e);
                        continue;
                    }
                    let cost = network.sample(rng) + render.sample(rng);
                    cache.push(Entry {
                        screen: y,
                        ready: start + cost,
                    });
                    out.prefetches += 1;
                }
                let cap = p.cache_screens as usize;
                if cache.len() > cap {
                    cache.drain(..cache.len() - cap);
                }
            }
            let d = dwell.sample(rng);
            out.cached_area += cache.len() as f64 * d;
            out.time_ms += d;
            t += d;
        }
    }
    out
}

/// The `q` quantile of `xs` (sorted in place): the smallest value with at least `q` of the
/// values at or below it.
pub(crate) fn quantile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1;
    xs[i]
}
