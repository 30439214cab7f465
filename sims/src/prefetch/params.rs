//! `PrefetchParams`: the scenario's `[params]` for `sim = "prefetch"`.
//!
//! Defaults are the article's setting where it states one (47 screens, a window of 5, ~2.1M
//! sequences split 80/10/10, top-3 prefetch, live predictions after 3 transitions) and the
//! research file's figures elsewhere (`shared/research/domain-models.md` §3): the generator's
//! shape is §3.1's, the screen-load mixture §3.3's. Every generator and load parameter is
//! *assumed*: the article's accuracies and load times are claims, never inputs.

use serde::{Deserialize, Serialize};

use crate::params::{
    ParamsError, require_count, require_non_negative, require_positive, require_probability,
};
use crate::room::Validate;

/// Where the navigation data comes from, and how much of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataParams {
    /// A navigation log (CSV: `session_id,step,screen`, one row per screen view, screens as
    /// integers `0..screens`; see `datasets/navigation/README.md`); empty: generate one.
    /// Default empty.
    pub sessions: String,
    /// Screens in the app (the vocabulary). Default 47 (article).
    pub screens: u32,
    /// Screens of history a prediction sees. Default 5 (article: "last 5 screens predict 6th").
    pub window: u32,
    /// Share of sessions (and so of sequences) in the training split. Default 0.8 (article:
    /// 80/10/10); validation and test take half the rest each.
    pub train_fraction: f64,
}

impl Default for DataParams {
    fn default() -> Self {
        DataParams {
            sessions: String::new(),
            screens: 47,
            window: 5,
            train_fraction: 0.8,
        }
    }
}

/// The navigation generator (research §3.1): a hub, leaves with Zipf popularity, Zipf-like
/// out-degrees, back navigation and a latent session intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorParams {
    /// Zipf exponent of the hub's (Home's) links to the leaves. Default 1.0 (research §3.1 fit).
    pub hub_zipf_s: f64,
    /// Probability of going back to the previous screen. Default 0.2 (research §3.1 fit).
    pub back_prob: f64,
    /// Probability of going to Home from a leaf. Default 0.1 (research §3.1 fit).
    pub home_prob: f64,
    /// Zipf exponent of a leaf's links to its children. Default 3.0 (research §3.1 fit).
    pub child_zipf_s: f64,
    /// Pareto tail index of out-degrees: K = min(max, 1 + ⌊Pareto(α)⌋). Default 1.2 (§3.1).
    pub out_degree_alpha: f64,
    /// Largest out-degree of a leaf. Default 6 (research §3.1).
    pub max_out_degree: u32,
    /// Latent session intents (each favours its own group of screens). Default 4 (assumed).
    pub intents: u32,
    /// Weight multiplier of a screen in the session's intent group. Default 3 (assumed; 1 makes
    /// the intent invisible and the process order 2).
    pub intent_boost: f64,
    /// Mean screens per session (geometric lengths, at least 2). Default 12 (assumed).
    pub mean_session_screens: f64,
    /// Seed of the app's screen graph (the same app in every replication). Default 8.
    pub graph_seed: u64,
}

impl Default for GeneratorParams {
    fn default() -> Self {
        GeneratorParams {
            hub_zipf_s: 1.0,
            back_prob: 0.2,
            home_prob: 0.1,
            child_zipf_s: 3.0,
            out_degree_alpha: 1.2,
            max_out_degree: 6,
            intents: 4,
            intent_boost: 3.0,
            mean_session_screens: 12.0,
            graph_seed: 8,
        }
    }
}

/// The predictor the screen-load model prefetches with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predictor {
    /// The n-gram with backoff, trained on the training split.
    Ngram,
    /// The population prior (most frequent screens) only.
    Prior,
    /// The generator's exact posterior (the Bayes-optimal predictor; generated data only).
    Bayes,
}

/// A navigation process, a predictor and the screen-load model around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrefetchParams {
    /// The data.
    pub data: DataParams,
    /// The generator (unused with `data.sessions`).
    pub generator: GeneratorParams,
    /// Training, validation and test sequences (windows of `data.window` + 1 screens)
    /// generated. Default 2,100,000 (article: "~2.1M sequences").
    pub sequences: u32,
    /// The predictor prefetching (its accuracy is measured on the test split). Default ngram.
    pub predictor: Predictor,
    /// Longest context the n-gram uses (at most `data.window`). Default 5 (the article's window).
    pub ngram_order: u32,
    /// Contexts seen fewer times than this back off to a shorter one. Default 3 (assumed).
    pub ngram_min_count: u32,
    /// Screens prefetched per screen change. Default 3 (article).
    pub prefetch_k: u32,
    /// Transitions before live predictions; the prior predicts before. Default 3 (article).
    pub warmup_transitions: u32,
    /// Inference time before the prefetches start, ms. Default 0.05 (assumed; the kernel
    /// measures it).
    pub inference_ms: f64,
    /// Median inflate/bind/render time of a screen, ms. Default 160 (research §3.3).
    pub render_median_ms: f64,
    /// Lognormal σ of render times. Default 0.4 (research §3.3).
    pub render_sigma: f64,
    /// Median data/network time of a screen load, ms. Default 100 (research §3.3).
    pub network_median_ms: f64,
    /// Lognormal σ of network times. Default 1.1 (research §3.3).
    pub network_sigma: f64,
    /// Share of the render time a hit still pays (the cached view is attached, bound, drawn).
    /// Default 1.0 (assumed: research §3.3 finds hits cost ≈ 200 ms at the median).
    pub hit_render_fraction: f64,
    /// Fixed cost of swapping a cached screen in, ms. Default 30 (research §3.3).
    pub hit_overhead_ms: f64,
    /// Median time a user stays on a screen before the next tap, ms. Default 3000 (assumed).
    pub dwell_median_ms: f64,
    /// Lognormal σ of dwell times. Default 1.0 (assumed).
    pub dwell_sigma: f64,
    /// Prefetched screens the cache holds (least recently prefetched evicted first). Default 3.
    pub cache_screens: u32,
    /// A prefetched screen older than this is dropped (stale data), s. Default 60 (assumed).
    pub cache_ttl_s: f64,
    /// Memory a cached screen holds (view hierarchy and data), MB. Default 0.6 (assumed).
    pub screen_memory_mb: f64,
    /// Fixed memory of the predictor's runtime (interpreter, buffers), MB. Default 1.0 (assumed).
    pub runtime_memory_mb: f64,
    /// Share of a screen's bytes a prefetch downloads (data, not media). Default 0.02
    /// (assumed: research §3.3's reading of +4.2%).
    pub prefetch_bytes_fraction: f64,
    /// Share of the app's daily battery drain spent on its network traffic. Default 0.1
    /// (assumed).
    pub network_energy_share: f64,
    /// Sessions of the test split replayed by the screen-load model (0: all). Default 0.
    pub des_sessions: u32,
    /// Quantile `load_q_ms` reports (the load-time CDF's charts sweep it). Default 0.5.
    pub cdf_quantile: f64,
    /// Embedding width of the LSTM whose size `model_bytes` gives. Default 16 (article).
    pub lstm_embedding: u32,
    /// Hidden units per LSTM layer. Default 32 (article).
    pub lstm_hidden: u32,
    /// LSTM layers. Default 2 (article).
    pub lstm_layers: u32,
    /// `model_bytes` for int8 weights (dynamic quantization) instead of float32. Default true.
    pub quantized: bool,
    /// The parsed log (`data.sessions`), filled once per point.
    #[serde(skip)]
    pub log: Option<std::sync::Arc<Vec<Vec<u16>>>>,
}

impl Default for PrefetchParams {
    fn default() -> Self {
        PrefetchParams {
            data: DataParams::default(),
            generator: GeneratorParams::default(),
            sequences: 2_100_000,
            predictor: Predictor::Ngram,
            ngram_order: 5,
            ngram_min_count: 3,
            prefetch_k: 3,
            warmup_transitions: 3,
            inference_ms: 0.05,
            render_median_ms: 160.0,
            render_sigma: 0.4,
            network_median_ms: 100.0,
            network_sigma: 1.1,
            hit_render_fraction: 1.0,
            hit_overhead_ms: 30.0,
            dwell_median_ms: 3000.0,
            dwell_sigma: 1.0,
            cache_screens: 3,
            cache_ttl_s: 60.0,
            screen_memory_mb: 0.6,
            runtime_memory_mb: 1.0,
            prefetch_bytes_fraction: 0.02,
            network_energy_share: 0.1,
            des_sessions: 0,
            cdf_quantile: 0.5,
            lstm_embedding: 16,
            lstm_hidden: 32,
            lstm_layers: 2,
            quantized: true,
            log: None,
        }
    }
}

impl Validate for PrefetchParams {
    fn validate(&self) -> Result<(), ParamsError> {
        let d = &self.data;
        require_count("data.screens", d.screens, 3..=1000, "screens")?;
        require_count("data.window", d.window, 1..=8, "screens")?;
        require_count("sequences", self.sequences, 1000..=20_000_000, "sequences")?;
        if !(d.train_fraction > 0.0 && d.train_fraction < 1.0) {
            return Err(ParamsError::out_of_range(
                "data.train_fraction",
                d.train_fraction,
                "a share strictly between 0 and 1",
            ));
        }
        let g = &self.generator;
        require_non_negative("generator.hub_zipf_s", g.hub_zipf_s)?;
        require_non_negative("generator.child_zipf_s", g.child_zipf_s)?;
        require_probability("generator.back_prob", g.back_prob)?;
        require_probability("generator.home_prob", g.home_prob)?;
        if g.back_prob + g.home_prob >= 1.0 {
            return Err(ParamsError::out_of_range(
                "generator.home_prob",
                g.home_prob,
                "< 1 - back_prob (some probability must be left for the links)",
            ));
        }
        require_positive("generator.out_degree_alpha", g.out_degree_alpha)?;
        require_count(
            "generator.max_out_degree",
            g.max_out_degree,
            1..=64,
            "links",
        )?;
        require_count("generator.intents", g.intents, 1..=16, "intents")?;
        if !(g.intent_boost.is_finite() && g.intent_boost >= 1.0 && g.intent_boost <= 100.0) {
            return Err(ParamsError::out_of_range(
                "generator.intent_boost",
                g.intent_boost,
                "1 to 100",
            ));
        }
        if !(g.mean_session_screens >= 2.0 && g.mean_session_screens <= 1000.0) {
            return Err(ParamsError::out_of_range(
                "generator.mean_session_screens",
                g.mean_session_screens,
                "2 to 1000 screens",
            ));
        }
        require_count("ngram_order", self.ngram_order, 0..=8, "screens")?;
        require_count(
            "ngram_min_count",
            self.ngram_min_count,
            1..=1000,
            "sequences",
        )?;
        require_count("prefetch_k", self.prefetch_k, 0..=d.screens - 1, "screens")?;
        require_count(
            "warmup_transitions",
            self.warmup_transitions,
            0..=100,
            "transitions",
        )?;
        require_count("cache_screens", self.cache_screens, 0..=1000, "screens")?;
        require_count("lstm_embedding", self.lstm_embedding, 1..=1024, "units")?;
        require_count("lstm_hidden", self.lstm_hidden, 1..=1024, "units")?;
        require_count("lstm_layers", self.lstm_layers, 1..=8, "layers")?;
        for (name, x) in [
            ("render_median_ms", self.render_median_ms),
            ("network_median_ms", self.network_median_ms),
            ("dwell_median_ms", self.dwell_median_ms),
            ("cache_ttl_s", self.cache_ttl_s),
        ] {
            require_positive(name, x)?;
        }
        for (name, x) in [
            ("inference_ms", self.inference_ms),
            ("render_sigma", self.render_sigma),
            ("network_sigma", self.network_sigma),
            ("dwell_sigma", self.dwell_sigma),
            ("hit_overhead_ms", self.hit_overhead_ms),
            ("screen_memory_mb", self.screen_memory_mb),
            ("runtime_memory_mb", self.runtime_memory_mb),
        ] {
            require_non_negative(name, x)?;
        }
        require_probability("hit_render_fraction", self.hit_render_fraction)?;
        require_probability("prefetch_bytes_fraction", self.prefetch_bytes_fraction)?;
        require_probability("network_energy_share", self.network_energy_share)?;
        if !(self.cdf_quantile > 0.0 && self.cdf_quantile < 1.0) {
            return Err(ParamsError::out_of_range(
                "cdf_quantile",
                self.cdf_quantile,
                "strictly between 0 and 1",
            ));
        }
        Ok(())
    }
}
