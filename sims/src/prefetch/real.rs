//! The `prefetch_predictors` kernel: the article's predictors trained and timed on this
//! machine. It generates navigation data with the room's generator (its defaults: 47 screens,
//! window 5), trains the population prior and the n-gram on the training split and the LSTM
//! (embedding 16, 2 × 32, hand-written BPTT and Adam) on a subset of it, exports the LSTM as
//! float32 and as int8 (dynamic range quantization), and measures on the held-out split:
//! top-1 and top-3 accuracy of each (Wilson intervals), the exact Bayes rate, the serialized
//! sizes, and the latency of one prediction, repeated `trials` times.
//!
//! Calibration for the model: `inference_ms` (the int8 LSTM's mean latency). No GPU and no
//! ML crate: the kernel always runs.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::data::{Dataset, Split};
use super::generator::{Generator, Screen};
use super::lstm::{Dims, Lstm, train_with};
use super::ngram::{NGram, Predict, Prior, accuracy};
use super::params::{DataParams, GeneratorParams};
use super::quant::Model;
use super::rates::rates;
use super::size;
use crate::des::RngStreams;
use crate::params::{self, ParamsError};
use crate::real::{Kernel, KernelContext, KernelReport, RealSeries};

/// The `[real]` table of a prefetch scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealParams {
    /// Latency trials (each times `predictions` predictions of every model).
    pub trials: u32,
    /// Predictions timed per trial and model.
    pub predictions: u32,
    /// Sequences generated (80% train the prior and the n-gram).
    pub sequences: u32,
    /// Training windows the LSTM sees per epoch (a subset of the training split).
    pub lstm_train_windows: u32,
    /// LSTM epochs.
    pub epochs: u32,
    /// Minibatch size.
    pub batch: u32,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Held-out windows scored.
    pub eval_windows: u32,
    /// Embedding width.
    pub embedding: u32,
    /// Hidden units per layer.
    pub hidden: u32,
    /// LSTM layers.
    pub layers: u32,
}

impl Default for RealParams {
    fn default() -> Self {
        RealParams {
            trials: 5,
            predictions: 2000,
            sequences: 400_000,
            lstm_train_windows: 40_000,
            epochs: 3,
            batch: 32,
            learning_rate: 0.005,
            eval_windows: 40_000,
            embedding: 16,
            hidden: 32,
            layers: 2,
        }
    }
}

impl RealParams {
    fn from_table(t: &toml::Table) -> Result<RealParams, ParamsError> {
        let p: RealParams = params::parse(t)?;
        params::require_count("trials", p.trials, 1..=100, "trials")?;
        params::require_count("predictions", p.predictions, 10..=1_000_000, "predictions")?;
        params::require_count("sequences", p.sequences, 1000..=20_000_000, "sequences")?;
        params::require_count(
            "lstm_train_windows",
            p.lstm_train_windows,
            10..=10_000_000,
            "windows",
        )?;
        params::require_count("epochs", p.epochs, 1..=100, "epochs")?;
        params::require_count("batch", p.batch, 1..=4096, "windows")?;
        params::require_count("eval_windows", p.eval_windows, 10..=10_000_000, "windows")?;
        params::require_count("embedding", p.embedding, 1..=256, "units")?;
        params::require_count("hidden", p.hidden, 1..=256, "units")?;
        params::require_count("layers", p.layers, 1..=4, "layers")?;
        if !(p.learning_rate > 0.0 && p.learning_rate <= 1.0) {
            return Err(ParamsError::out_of_range(
                "learning_rate",
                p.learning_rate,
                "> 0 and ≤ 1",
            ));
        }
        Ok(p)
    }

    /// `--quick`: a reduced dataset and one epoch over at most 40k windows (seconds; the
    /// full run's learning curve reaches held-out top-3 ≈ 0.88 after such an epoch, so a
    /// preview's LSTM verdicts are less certain than the record's, not opposite).
    fn quick(mut self) -> RealParams {
        self.trials = self.trials.min(3);
        self.predictions = self.predictions.min(500);
        self.sequences = self.sequences.min(100_000);
        self.lstm_train_windows = self.lstm_train_windows.min(40_000);
        self.epochs = 1;
        self.eval_windows = self.eval_windows.min(3_000);
        self
    }
}

/// The registered kernel.
#[derive(Debug, Clone, Copy)]
pub struct PrefetchKernel;

impl Kernel for PrefetchKernel {
    fn name(&self) -> &'static str {
        "prefetch_predictors"
    }

    fn description(&self) -> &'static str {
        "the prior, the n-gram and the article's LSTM (hand-written, float32 and int8) trained \
         on generated navigation data: held-out accuracy, sizes, and timed inference"
    }

    fn check(&self, real: &toml::Table) -> Result<toml::Table, ParamsError> {
        Ok(params::to_table(&RealParams::from_table(real)?))
    }

    fn available(&self, real: &toml::Table) -> Result<String, String> {
        RealParams::from_table(real).map_err(|e| e.to_string())?;
        Ok("built in (CPU, no ML library)".to_string())
    }

    fn run(&self, real: &toml::Table, ctx: &KernelContext) -> KernelReport {
        let p = match RealParams::from_table(real) {
            Ok(p) => p,
            Err(e) => return KernelReport::not_run(e.to_string()),
        };
        run(&if ctx.quick { p.quick() } else { p }, ctx)
    }
}

/// Mean milliseconds per prediction of `pred` over `windows`, `n` predictions.
fn time_ms(pred: &dyn Predict, windows: &[&[Screen]], n: usize) -> f64 {
    let mut out = Vec::with_capacity(3);
    let mut sink = 0usize;
    let start = Instant::now();
    for i in 0..n {
        pred.top(windows[i % windows.len()], 3, &mut out);
        sink = sink.wrapping_add(usize::from(out[0]));
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / n as f64;
    std::hint::black_box(sink);
    ms
}

fn run(p: &RealParams, ctx: &KernelContext) -> KernelReport {
    let mut r = KernelReport::default();
    let data = DataParams::default();
    let g = GeneratorParams::default();
    let window = data.window as usize;
    let nav = Generator::new(&data, &g);
    let streams = RngStreams::new(ctx.seed, 0, 0);
    (ctx.progress)("generating navigation sessions");
    let ds = Dataset::generate(
        &nav,
        window,
        u64::from(p.sequences),
        data.train_fraction,
        &mut streams.stream("sessions"),
    );
    let ngram = NGram::train(&ds, window, 3, nav.screens());
    let prior = Prior(ngram.prior.clone());
    let test: Vec<(&[Screen], Screen)> = ds
        .windows(Split::Test, window)
        .take(p.eval_windows as usize)
        .collect();
    let eval = Dataset {
        sessions: test
            .iter()
            .map(|(w, y)| w.iter().copied().chain([*y]).collect())
            .collect(),
        split: vec![Split::Test; test.len()],
    };
    let mut score = |name: &str, pred: &dyn Predict| {
        let (h1, h3, n) = accuracy(pred, &eval, Split::Test, window);
        r.set_proportion(format!("{name}_top1"), h1, n);
        r.set_proportion(format!("{name}_top3"), h3, n);
        (h1 as f64 / n as f64, h3 as f64 / n as f64)
    };
    let prior_acc = score("prior", &prior);
    let ngram_acc = score("ngram", &ngram);

    (ctx.progress)("training the LSTM");
    let dims = Dims {
        v: nav.screens(),
        e: p.embedding as usize,
        h: p.hidden as usize,
        layers: p.layers as usize,
    };
    let mut rng = streams.stream("lstm");
    let samples: Vec<(Vec<Screen>, Screen)> = ds
        .windows(Split::Train, window)
        .take(p.lstm_train_windows as usize)
        .map(|(w, y)| (w.to_vec(), y))
        .collect();
    let mut lstm = Lstm::new(dims, &mut rng);
    let t0 = Instant::now();
    // The learning curve: held-out accuracy (float32) after each epoch, on the first
    // `CURVE_WINDOWS` test windows; a flat tail says more epochs on these windows add nothing.
    const CURVE_WINDOWS: usize = 10_000;
    let curve_eval = Dataset {
        sessions: eval.sessions.iter().take(CURVE_WINDOWS).cloned().collect(),
        split: vec![Split::Test; eval.sessions.len().min(CURVE_WINDOWS)],
    };
    let mut curve: Vec<(f64, f64, f64)> = Vec::new();
    let mut curve_s = 0.0;
    let losses = train_with(
        &mut lstm,
        &samples,
        p.epochs as usize,
        p.batch as usize,
        p.learning_rate,
        &mut rng,
        |epoch, m| {
            let t = Instant::now();
            let (h1, h3, n) = accuracy(&Model::export(m, false), &curve_eval, Split::Test, window);
            let n = n.max(1) as f64;
            let seen = ((epoch + 1) * samples.len()) as f64;
            curve.push((seen, h1 as f64 / n, h3 as f64 / n));
            curve_s += t.elapsed().as_secs_f64();
        },
    );
    let train_s = t0.elapsed().as_secs_f64() - curve_s;
    let fp32 = Model::export(&lstm, false);
    let int8 = Model::export(&lstm, true);
    let fp32_acc = score("lstm", &fp32);
    let int8_acc = score("lstm_int8", &int8);
    r.set_exact("int8_top3_drop", fp32_acc.1 - int8_acc.1, "fraction");

    let ex = rates(&nav, window);
    r.set_exact("bayes_top1", ex.top1[window], "fraction");
    r.set_exact("bayes_top3", ex.top3[window], "fraction");
    let params = size::lstm_params(dims.v, dims.e, dims.h, dims.layers);
    let (b32, b8) = (fp32.serialize().len(), int8.serialize().len());
    r.set_exact("lstm_params", params as f64, "parameters");
    r.set_exact("lstm_fp32_bytes", b32 as f64, "bytes");
    r.set_exact("lstm_int8_bytes", b8 as f64, "bytes");
    r.set_exact("lstm_size_ratio", b32 as f64 / b8 as f64, "ratio");
    let arithmetic = size::fp32_bytes(dims.v, dims.e, dims.h, dims.layers) == b32
        && size::int8_bytes(dims.v, dims.e, dims.h, dims.layers) == b8;
    r.findings.push(format!(
        "{params} parameters: {b32} bytes as float32, {b8} as int8 with per-row scales ({:.2}x); the arithmetic {}",
        b32 as f64 / b8 as f64,
        if arithmetic { "agrees byte for byte" } else { "DISAGREES" }
    ));
    r.findings.push(format!(
        "LSTM trained on {} windows × {} epochs in {train_s:.1} s (loss by epoch: {}); held-out top-3 {:.3} (float32), {:.3} (int8), n-gram {:.3}, Bayes {:.3}",
        samples.len(),
        p.epochs,
        losses.iter().map(|l| format!("{l:.3}")).collect::<Vec<_>>().join(", "),
        fp32_acc.1,
        int8_acc.1,
        ngram_acc.1,
        ex.top3[window]
    ));

    r.findings.push(format!(
        "LSTM learning curve (float32, held-out top-1 / top-3 on {} windows after each epoch): {}",
        curve_eval.sessions.len(),
        curve
            .iter()
            .map(|(x, a, b)| format!("{} windows seen: {a:.3} / {b:.3}", *x as u64))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    r.series.push(RealSeries {
        id: "lstm-learning-curve".into(),
        title: "LSTM held-out accuracy vs training windows seen (float32, after each epoch)".into(),
        x_label: "training windows seen (epochs × windows)".into(),
        y_label: "accuracy".into(),
        lines: vec![
            ("top-1".into(), curve.iter().map(|c| (c.0, c.1)).collect()),
            ("top-3".into(), curve.iter().map(|c| (c.0, c.2)).collect()),
        ],
        log_y: false,
    });

    (ctx.progress)("timing inference");
    let windows: Vec<&[Screen]> = test.iter().map(|(w, _)| *w).collect();
    let n = p.predictions as usize;
    let (mut t32, mut t8, mut tng, mut speed) = (vec![], vec![], vec![], vec![]);
    for _ in 0..p.trials {
        let a = time_ms(&fp32, &windows, n);
        let b = time_ms(&int8, &windows, n);
        t32.push(a);
        t8.push(b);
        speed.push(a / b);
        tng.push(time_ms(&ngram, &windows, n));
    }
    r.set_samples("lstm_fp32_infer_ms", &t32, "ms");
    r.set_samples("lstm_int8_infer_ms", &t8, "ms");
    r.set_samples("ngram_infer_ms", &tng, "ms");
    r.set_samples("int8_speedup", &speed, "ratio");
    let mean8 = t8.iter().sum::<f64>() / t8.len() as f64;
    r.calibration
        .insert("inference_ms".into(), toml::Value::Float(mean8));

    // Accuracy against history length: the n-gram of each order and the exact rate of each
    // window on the same data.
    let mut ng1 = Vec::new();
    let mut ng3 = Vec::new();
    let mut b1 = Vec::new();
    let mut b3 = Vec::new();
    for w in 1..=window {
        let m = ngram.with_order(w);
        let (h1, h3, n) = accuracy(&m, &eval, Split::Test, window);
        ng1.push((w as f64, h1 as f64 / n as f64));
        ng3.push((w as f64, h3 as f64 / n as f64));
        b1.push((w as f64, ex.top1[w]));
        b3.push((w as f64, ex.top3[w]));
    }
    r.series.push(RealSeries {
        id: "accuracy-vs-history".into(),
        title: "Held-out accuracy vs history length (n-gram order; Bayes: exact, same windows)"
            .into(),
        x_label: "screens of history".into(),
        y_label: "accuracy".into(),
        lines: vec![
            ("n-gram top-1".into(), ng1),
            ("n-gram top-3".into(), ng3),
            ("Bayes top-1".into(), b1),
            ("Bayes top-3".into(), b3),
        ],
        log_y: false,
    });
    let kb = |b: usize| b as f64 / 1000.0;
    let prior_kb = kb(4 * nav.screens());
    let ngram_kb = kb(ngram.contexts() * 24);
    let mut by_size = [
        (prior_kb, prior_acc),
        (kb(b8), int8_acc),
        (kb(b32), fp32_acc),
        (ngram_kb, ngram_acc),
    ];
    by_size.sort_by(|a, b| a.0.total_cmp(&b.0));
    r.series.push(RealSeries {
        id: "accuracy-vs-model".into(),
        title: "Held-out accuracy vs model size: prior, int8 LSTM, float32 LSTM, n-gram".into(),
        x_label: "model size [KB] (n-gram: 24 bytes a context)".into(),
        y_label: "accuracy".into(),
        lines: vec![
            (
                "top-1".into(),
                by_size.iter().map(|(x, a)| (*x, a.0)).collect(),
            ),
            (
                "top-3".into(),
                by_size.iter().map(|(x, a)| (*x, a.1)).collect(),
            ),
        ],
        log_y: false,
    });
    r.environment.insert(
        "cpu_threads".into(),
        std::thread::available_parallelism()
            .map(|n| n.get().to_string())
            .unwrap_or_else(|_| "?".into()),
    );
    r.environment.insert(
        "lstm".into(),
        format!(
            "embedding {} → {} × LSTM({}) → dense({})",
            dims.e, dims.layers, dims.h, dims.v
        ),
    );
    r
}
