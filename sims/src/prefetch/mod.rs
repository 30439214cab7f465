//! The `prefetch` room: predictive prefetching of app screens with an on-device next-screen
//! model (article 08).
//!
//! The article trains a two-layer LSTM(32) with a 16-wide embedding on ~2.1M windows of 5
//! screens over 47 screens and reports top-1 68%, top-3 89% (88.7% quantized), a 94 KB int8
//! model that infers in 3.1 ms (12 ms unquantized), a population prior that covers 72% of
//! top-3, and from prefetching the top 3: P50 280 → 210 ms, P95 820 → 490 ms, +2.8 MB memory,
//! +0.3% battery and +4.2% network.
//!
//! ```text
//!  generator (hub, Zipf links, back, latent intent) ──► sessions ──► 80/10/10 by session
//!     │ exact law of (window, next) ──► Bayes top-1/top-3 (the ceiling of any predictor)
//!     ▼
//!  train: prior, n-gram with backoff (the LSTM: the real kernel) ──► test windows: accuracy
//!     ▼
//!  replay test sessions: screen shown ─► inference ─► prefetch top-k ─► dwell ─► tap
//!     tap: cached & finished & fresh ─► render·f + swap-in, else render + network
//! ```
//!
//! Accuracy is a property of the navigation process, which is assumed (research §3.1): the
//! room computes the best accuracy the window allows exactly and shows the n-gram reaching it.
//! Left out: the network's shape beyond a lognormal, contention between prefetches and the
//! tap's own load, CPU energy of inference, process death.

mod data;
mod generator;
mod load;
mod lstm;
mod metrics;
mod ngram;
mod params;
mod quant;
mod rates;
pub mod real;
pub mod size;
#[cfg(test)]
mod tests;
mod tools;

pub use params::{DataParams, GeneratorParams, Predictor, PrefetchParams};
pub use real::PrefetchKernel;

use std::sync::{Arc, Mutex};

use data::{Dataset, Split};
use generator::{Exact, Generator};
use ngram::{Bayes, NGram, Predict, Prior, accuracy};
use rates::Rates;

use crate::params::ParamsError;
use crate::real::Kernel;
use crate::room::Room;
use crate::simulation::{MetricDef, Outcome, RunContext, RunError, Work};

/// The registered room.
#[derive(Debug, Clone, Copy)]
pub struct Prefetch;

/// The dataset a replication uses: the log's sessions, or generated ones.
pub(crate) fn dataset(p: &PrefetchParams, nav: &Generator, ctx: &RunContext) -> Dataset {
    let mut rng = ctx.streams.stream("sessions");
    match &p.log {
        Some(log) => Dataset::from_log(log, p.data.train_fraction, &mut rng),
        None => Dataset::generate(
            nav,
            p.data.window as usize,
            u64::from(p.sequences),
            p.data.train_fraction,
            &mut rng,
        ),
    }
}

fn emit_sizes(o: &mut Outcome, p: &PrefetchParams) {
    let (v, e, h, l) = (
        p.data.screens as usize,
        p.lstm_embedding as usize,
        p.lstm_hidden as usize,
        p.lstm_layers as usize,
    );
    let fp32 = size::fp32_bytes(v, e, h, l) as f64;
    let int8 = size::int8_bytes(v, e, h, l) as f64;
    o.set("model_params", size::lstm_params(v, e, h, l) as f64);
    o.set("fp32_model_bytes", fp32);
    o.set("model_bytes", if p.quantized { int8 } else { fp32 });
    o.set("size_reduction_ratio", fp32 / int8);
    o.set("inference_ms", p.inference_ms);
}

/// What a replication learns from its data: the dataset, the predictors, their held-out
/// accuracy, and the exact rates. It depends on the data's parameters and the replication's
/// session stream only, so points that differ in the screen-load parameters alone (the
/// dependence probes of most assumptions) share it: a small cache keeps the last few. Results
/// are the same with or without it.
struct Trained {
    base: Arc<Base>,
    ngram: NGram,
    prior: Prior,
    /// The exact rates of the generator (none for a log).
    rates: Option<Arc<Rates>>,
    /// The exact law, kept only for `predictor = "bayes"` (the posterior predicts from it).
    exact: Option<Arc<Exact>>,
    accuracy: (u64, u64, u64),
    prior_top3: (u64, u64),
}

/// The dataset and the n-gram of the window's order, which holds every lower order's: the
/// points of the history sweep (one order each) share them.
struct Base {
    ds: Dataset,
    ngram: NGram,
}

type Cache<T> = Mutex<Vec<(String, Arc<T>)>>;
static TRAINED: Cache<Trained> = Mutex::new(Vec::new());
static BASE: Cache<Base> = Mutex::new(Vec::new());
static EXACT: Cache<Exact> = Mutex::new(Vec::new());
/// The exact rates depend on the generator and the window only: every replication and every
/// probe of a screen-load parameter shares them.
static RATES: Cache<Rates> = Mutex::new(Vec::new());
const KEEP: usize = 8;

fn cached<T>(
    cache: &Cache<T>,
    key: String,
    make: impl FnOnce() -> Result<T, RunError>,
) -> Result<Arc<T>, RunError> {
    if let Ok(mut c) = cache.lock() {
        // Least recently used goes first: a hit moves to the end.
        if let Some(i) = c.iter().position(|(k, _)| *k == key) {
            let hit = c.remove(i);
            let v = Arc::clone(&hit.1);
            c.push(hit);
            return Ok(v);
        }
    }
    let v = Arc::new(make()?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= KEEP {
            c.remove(0);
        }
        c.push((key, Arc::clone(&v)));
    }
    Ok(v)
}

fn trained(p: &PrefetchParams, ctx: &RunContext) -> Result<Arc<Trained>, RunError> {
    let window = p.data.window as usize;
    let order = (p.ngram_order as usize).min(window);
    let key = format!(
        "{:?}",
        (
            &p.data,
            &p.generator,
            p.sequences,
            order,
            p.ngram_min_count,
            p.predictor,
            p.log.as_ref().map(|l| Arc::as_ptr(l) as usize),
            ctx.streams.derive_u64("sessions"),
        )
    );
    let base_key = format!(
        "{:?}",
        (
            &p.data,
            &p.generator,
            p.sequences,
            p.ngram_min_count,
            p.log.as_ref().map(|l| Arc::as_ptr(l) as usize),
            ctx.streams.derive_u64("sessions"),
        )
    );
    cached(&TRAINED, key, || {
        let nav = Generator::new(&p.data, &p.generator);
        let base = cached(&BASE, base_key, || {
            let ds = dataset(p, &nav, ctx);
            let ngram = NGram::train(&ds, window, p.ngram_min_count, p.data.screens as usize);
            Ok(Base { ds, ngram })
        })?;
        let ds = &base.ds;
        let ngram = base.ngram.with_order(order);
        let prior = Prior(ngram.prior.clone());
        let law_key = format!("{:?}", (p.data.screens, window, &p.generator));
        let rates = match p.log {
            Some(_) => None,
            None => Some(cached(&RATES, law_key.clone(), || {
                Ok(rates::rates(&nav, window))
            })?),
        };
        let exact = match (&p.log, p.predictor) {
            (None, params::Predictor::Bayes) => Some(cached(&EXACT, law_key, || {
                Ok(generator::exact(&nav, window))
            })?),
            _ => None,
        };
        let bayes = exact.as_ref().map(|e| Bayes {
            exact: e,
            window,
            prior: prior.clone(),
        });
        let live: &dyn Predict = match (p.predictor, &bayes) {
            (params::Predictor::Ngram, _) => &ngram,
            (params::Predictor::Prior, _) => &prior,
            (params::Predictor::Bayes, Some(b)) => b,
            (params::Predictor::Bayes, None) => {
                return Err(RunError::Infeasible(
                    "predictor = \"bayes\" needs the generator: it has no posterior for a log (data.sessions)"
                        .into(),
                ));
            }
        };
        let accuracy = accuracy(live, ds, Split::Test, window);
        let (_, prior3, n) = ngram::accuracy(&prior, ds, Split::Test, window);
        drop(bayes);
        Ok(Trained {
            base: Arc::clone(&base),
            ngram,
            prior,
            rates,
            exact,
            accuracy,
            prior_top3: (prior3, n),
        })
    })
}

fn run_replication(p: &PrefetchParams, ctx: &RunContext) -> Result<Outcome, RunError> {
    let t = trained(p, ctx)?;
    let window = p.data.window as usize;
    let mut o = Outcome::default();
    if let Some(r) = &t.rates {
        let order = (p.ngram_order as usize).min(window);
        o.set("bayes_top1_accuracy", r.top1[window]);
        o.set("bayes_top3_accuracy", r.top3[window]);
        o.set("exact_prior_top3_accuracy", r.prior_top3);
        o.set("bayes_top1_at_order", r.top1[order]);
        o.set("bayes_top3_at_order", r.top3[order]);
    }
    let bayes = t.exact.as_ref().map(|exact| Bayes {
        exact,
        window,
        prior: t.prior.clone(),
    });
    let live: &dyn Predict = match (p.predictor, &bayes) {
        (params::Predictor::Ngram, _) => &t.ngram,
        (params::Predictor::Bayes, Some(b)) => b,
        _ => &t.prior,
    };
    let (h1, h3, n) = t.accuracy;
    o.set_proportion("top1_accuracy", h1, n);
    o.set_proportion("top3_accuracy", h3, n);
    o.set_proportion("prior_top3_accuracy", t.prior_top3.0, t.prior_top3.1);
    o.set("ngram_contexts", t.ngram.contexts() as f64);
    let (ds, prior) = (&t.base.ds, &t.prior);

    let take = if p.des_sessions == 0 {
        usize::MAX
    } else {
        p.des_sessions as usize
    };
    let mut rng = ctx.streams.stream("loads");
    let mut loads = load::replay(p, ds.of(Split::Test).take(take), live, prior, &mut rng);
    let taps = loads.with.len() as u64;
    let (p50, p95, q) = (
        load::quantile(&mut loads.with, 0.5),
        load::quantile(&mut loads.with, 0.95),
        load::quantile(&mut loads.with, p.cdf_quantile),
    );
    let (b50, b95, bq) = (
        load::quantile(&mut loads.without, 0.5),
        load::quantile(&mut loads.without, 0.95),
        load::quantile(&mut loads.without, p.cdf_quantile),
    );
    o.set("load_p50_ms", p50);
    o.set("load_p95_ms", p95);
    o.set("load_q_ms", q);
    o.set("baseline_load_p50_ms", b50);
    o.set("baseline_load_p95_ms", b95);
    o.set("baseline_load_q_ms", bq);
    o.set("p50_reduction_fraction", 1.0 - p50 / b50);
    o.set("p95_reduction_fraction", 1.0 - p95 / b95);
    o.set("p95_saved_ms", b95 - p95);
    o.set_proportion("effective_hit_rate", loads.hits, taps);
    o.set_proportion("cold_start_hit_rate", loads.cold_hits, loads.cold_taps);
    emit_sizes(&mut o, p);
    let model_mb = o.metrics["model_bytes"] / 1e6;
    let cached = if loads.time_ms > 0.0 {
        loads.cached_area / loads.time_ms
    } else {
        0.0
    };
    o.set(
        "memory_overhead_mb",
        p.runtime_memory_mb + model_mb + cached * p.screen_memory_mb,
    );
    let wasted = loads.prefetches.saturating_sub(loads.hits) as f64;
    let net = if taps > 0 {
        100.0 * p.prefetch_bytes_fraction * wasted / taps as f64
    } else {
        0.0
    };
    o.set("network_overhead_pct", net);
    o.set("battery_overhead_pct", net * p.network_energy_share);
    Ok(o)
}

impl Room for Prefetch {
    const NAME: &'static str = "prefetch";
    const DESCRIPTION: &'static str = "predictive screen prefetching: a navigation generator with its exact Bayes rate, prior and n-gram predictors (an LSTM in the kernel), and screen loads with a prefetch cache";
    type Params = PrefetchParams;

    const HORIZON: &'static [&'static str] = &["sequences", "des_sessions"];

    fn metrics() -> &'static [MetricDef] {
        metrics::METRICS
    }

    fn kernels() -> &'static [&'static dyn Kernel] {
        &[&PrefetchKernel]
    }

    fn tools() -> &'static [crate::tool::Tool] {
        tools::TOOLS
    }

    fn prepare(p: &mut PrefetchParams) -> Result<(), ParamsError> {
        if p.data.sessions.is_empty() {
            p.log = None;
            return Ok(());
        }
        let text = std::fs::read_to_string(&p.data.sessions).map_err(|e| {
            ParamsError::out_of_range(
                "data.sessions",
                &p.data.sessions,
                &format!("a readable CSV file ({e})"),
            )
        })?;
        let log = data::read_csv(&text, &p.data.sessions, p.data.screens)?;
        p.log = Some(Arc::new(log));
        Ok(())
    }

    fn work(p: &PrefetchParams) -> Option<Work> {
        Some(Work {
            units: f64::from(p.sequences),
            unit: "sequences",
            per_second: 1.0e6,
        })
    }

    fn run(p: &PrefetchParams, ctx: &RunContext) -> Result<Outcome, RunError> {
        run_replication(p, ctx)
    }
}
