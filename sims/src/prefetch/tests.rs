//! The room against exact answers: the generator's enumerated law against its own samples,
//! the n-gram against the Bayes rate, the LSTM's gradient against finite differences, the
//! serialized sizes against the arithmetic, and the screen-load replay against closed forms.

use super::data::{Dataset, Split, read_csv};
use super::generator::{Generator, exact};
use super::lstm::{Dims, Lstm, train};
use super::ngram::{Bayes, NGram, Predict, Prior, accuracy};
use super::quant::Model;
use super::*;
use crate::des::RngStreams;
use crate::room::testing::{check, replicate};

fn small(sequences: u32, window: u32) -> PrefetchParams {
    let mut p = PrefetchParams {
        sequences,
        ..PrefetchParams::default()
    };
    p.data.window = window;
    p
}

fn data(p: &PrefetchParams, seed: u64) -> (Generator, Dataset) {
    let nav = Generator::new(&p.data, &p.generator);
    let mut rng = RngStreams::new(seed, 0, 0).stream("sessions");
    let ds = Dataset::generate(
        &nav,
        p.data.window as usize,
        u64::from(p.sequences),
        0.8,
        &mut rng,
    );
    (nav, ds)
}

/// |observed − expected| within `z` binomial standard errors (plus `slack`).
fn within(hits: u64, n: u64, expected: f64, z: f64, slack: f64) -> bool {
    let obs = hits as f64 / n as f64;
    let se = (expected * (1.0 - expected) / n as f64).sqrt();
    (obs - expected).abs() <= z * se + slack
}

#[test]
fn the_exact_law_is_a_distribution_and_its_predictor_scores_the_bayes_rate() {
    let p = small(150_000, 5);
    let (nav, ds) = data(&p, 7);
    let ex = exact(&nav, 5);
    let total: f64 = ex.windows.values().map(|e| e.0).sum();
    assert!(
        (total - 1.0).abs() < 1e-9,
        "window probabilities sum to {total}"
    );
    for (pw, d) in ex.windows.values().take(1000) {
        assert!(*pw > 0.0);
        let s: f64 = d.iter().map(|e| e.1).sum();
        assert!((s - 1.0).abs() < 1e-9);
    }
    let ngram = NGram::train(&ds, 5, 3, nav.screens());
    let bayes = Bayes {
        exact: &ex,
        window: 5,
        prior: Prior(ngram.prior.clone()),
    };
    // The posterior's own accuracy on fresh samples is the exact rate, up to sampling error
    // (windows of one session are dependent: 4 standard errors).
    let (h1, h3, n) = accuracy(&bayes, &ds, Split::Test, 5);
    assert!(n > 10_000);
    assert!(
        within(h1, n, ex.bayes_top(1), 4.0, 0.0),
        "top-1 {h1}/{n} vs {}",
        ex.bayes_top(1)
    );
    assert!(
        within(h3, n, ex.bayes_top(3), 4.0, 0.0),
        "top-3 {h3}/{n} vs {}",
        ex.bayes_top(3)
    );
    // The prior, exactly and as trained.
    let (_, p3, n) = accuracy(&Prior(ngram.prior.clone()), &ds, Split::Test, 5);
    assert!(
        within(p3, n, ex.prior_top(3), 4.0, 0.0),
        "prior {p3}/{n} vs {}",
        ex.prior_top(3)
    );
}

#[test]
fn the_ngram_reaches_the_bayes_rate_where_its_contexts_are_well_counted() {
    // Windows of 2 (280 contexts): the trained n-gram is the Bayes predictor up to sampling.
    for w in [1u32, 2] {
        let p = small(100_000, w);
        let (nav, ds) = data(&p, 11);
        let ex = exact(&nav, w as usize);
        let ngram = NGram::train(&ds, w as usize, 3, nav.screens());
        let (h1, h3, n) = accuracy(&ngram, &ds, Split::Test, w as usize);
        assert!(
            within(h1, n, ex.bayes_top(1), 4.0, 0.0),
            "w{w} top-1 {h1}/{n} vs {}",
            ex.bayes_top(1)
        );
        assert!(
            within(h3, n, ex.bayes_top(3), 4.0, 0.0),
            "w{w} top-3 {h3}/{n} vs {}",
            ex.bayes_top(3)
        );
    }
}

#[test]
fn the_order5_ngram_closes_on_the_bayes_rate_as_data_grow() {
    // Window 5 has ~186k reachable contexts: the n-gram's gap to the ceiling is estimation
    // error, which falls with data; it never exceeds the ceiling beyond sampling error.
    let mut gaps = Vec::new();
    for seqs in [40_000u32, 400_000] {
        let p = small(seqs, 5);
        let (nav, ds) = data(&p, 13);
        let ex = exact(&nav, 5);
        let ngram = NGram::train(&ds, 5, 3, nav.screens());
        let (_, h3, n) = accuracy(&ngram, &ds, Split::Test, 5);
        let b = ex.bayes_top(3);
        assert!(within(h3, n, b, 4.0, 0.02), "{seqs}: top-3 {h3}/{n} vs {b}");
        assert!((h3 as f64 / n as f64) < b + 4.0 * (b * (1.0 - b) / n as f64).sqrt());
        gaps.push(b - h3 as f64 / n as f64);
    }
    assert!(gaps[1] < gaps[0], "the gap shrinks with data: {gaps:?}");
}

#[test]
fn a_truncated_window_is_the_exact_law_of_a_shorter_history() {
    let p = small(10_000, 5);
    let nav = Generator::new(&p.data, &p.generator);
    let ex = exact(&nav, 5);
    let t5 = ex.truncate(5);
    assert!((t5.bayes_top(3) - ex.bayes_top(3)).abs() < 1e-12);
    let mut last = 0.0;
    for w in 0..=5 {
        let b = ex.truncate(w).bayes_top(3);
        assert!(
            b >= last - 1e-12,
            "more history never hurts on the same windows"
        );
        last = b;
    }
    // Order 0 is the best constant ranking, which the prior excluding the current screen beats
    // or ties only through that exclusion.
    assert!(ex.truncate(0).bayes_top(3) <= ex.prior_top(3) + 0.2);
}

#[test]
fn the_streamed_rates_equal_the_enumerated_table() {
    // The walk without a table (rates) against the table and its truncations, for several
    // windows and generator shapes (intents 1 and 3, a short and a long session).
    for (window, intents, mean) in [(1, 4, 12.0), (2, 1, 12.0), (3, 3, 8.0), (5, 4, 12.0)] {
        let mut p = small(10_000, window);
        p.generator.intents = intents;
        p.generator.mean_session_screens = mean;
        let nav = Generator::new(&p.data, &p.generator);
        let ex = exact(&nav, window as usize);
        let r = super::rates::rates(&nav, window as usize);
        assert_eq!(r.windows as usize, ex.windows.len(), "window {window}");
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(r.prior_top3, ex.prior_top(3)),
            "window {window}: prior"
        );
        for w in 0..=window as usize {
            let t = ex.truncate(w);
            assert!(
                close(r.top1[w], t.bayes_top(1)) && close(r.top3[w], t.bayes_top(3)),
                "window {window}, history {w}: {} {} vs {} {}",
                r.top1[w],
                r.top3[w],
                t.bayes_top(1),
                t.bayes_top(3)
            );
        }
    }
}

#[test]
fn a_lower_order_view_is_the_model_trained_at_that_order() {
    let p = small(20_000, 5);
    let (nav, ds) = data(&p, 3);
    let full = NGram::train(&ds, 5, 3, nav.screens());
    for w in 0..=5 {
        let own = NGram::train(&ds, w, 3, nav.screens());
        let view = full.with_order(w);
        assert_eq!(own.contexts(), view.contexts(), "order {w}");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (ctx, _) in ds.windows(Split::Test, 5) {
            own.top(ctx, 3, &mut a);
            view.top(ctx, 3, &mut b);
            assert_eq!(a, b, "order {w}, history {ctx:?}");
        }
    }
}

#[test]
fn intent_boost_one_makes_the_process_second_order() {
    let mut p = small(10_000, 5);
    p.generator.intent_boost = 1.0;
    let nav = Generator::new(&p.data, &p.generator);
    let ex = exact(&nav, 5);
    assert!((ex.truncate(2).bayes_top(1) - ex.bayes_top(1)).abs() < 1e-12);
    assert!((ex.truncate(2).bayes_top(3) - ex.bayes_top(3)).abs() < 1e-12);
}

#[test]
fn the_lstm_gradient_matches_finite_differences() {
    let dims = Dims {
        v: 6,
        e: 3,
        h: 4,
        layers: 2,
    };
    let mut rng = RngStreams::new(3, 0, 0).stream("w");
    let m = Lstm::new(dims, &mut rng);
    let x = [1u16, 4, 2, 5];
    let y = 3u16;
    let mut grad = vec![0.0; dims.params()];
    m.backward(&x, y, &mut grad);
    let loss = |w: &[f64]| {
        let mm = Lstm {
            dims,
            w: w.to_vec(),
        };
        let l = mm.logits(&x);
        let max = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = l.iter().map(|v| (v - max).exp()).sum();
        s.ln() + max - l[usize::from(y)]
    };
    let eps = 1e-6;
    let mut worst = 0.0f64;
    let mut at = 0;
    for i in 0..dims.params() {
        let mut w = m.w.clone();
        w[i] += eps;
        let up = loss(&w);
        w[i] -= 2.0 * eps;
        let down = loss(&w);
        let fd = (up - down) / (2.0 * eps);
        // Relative error, with a floor well above the differences' rounding (~1e-10).
        let err = (fd - grad[i]).abs() / (fd.abs() + grad[i].abs()).max(1e-4);
        if err > worst {
            worst = err;
            at = i;
        }
    }
    assert!(
        worst < 1e-5,
        "worst relative error {worst} at parameter {at}"
    );
}

#[test]
fn training_learns_and_int8_stays_close_to_float32() {
    let p = small(20_000, 5);
    let (nav, ds) = data(&p, 5);
    let samples: Vec<_> = ds
        .windows(Split::Train, 5)
        .take(4000)
        .map(|(w, y)| (w.to_vec(), y))
        .collect();
    let dims = Dims {
        v: nav.screens(),
        e: 16,
        h: 32,
        layers: 2,
    };
    let mut rng = RngStreams::new(5, 0, 0).stream("lstm");
    let mut m = Lstm::new(dims, &mut rng);
    let losses = train(&mut m, &samples, 2, 32, 0.01, &mut rng);
    assert!(
        losses[1] < losses[0] && losses[1] < (47f64).ln() * 0.7,
        "{losses:?}"
    );
    let (f, q) = (Model::export(&m, false), Model::export(&m, true));
    // Sizes: the serialized bytes are the arithmetic's, 16,895 parameters at the article's shape.
    assert_eq!(size::lstm_params(47, 16, 32, 2), 16_895);
    assert_eq!(dims.params(), 16_895);
    assert_eq!(f.serialize().len(), size::fp32_bytes(47, 16, 32, 2));
    assert_eq!(q.serialize().len(), size::int8_bytes(47, 16, 32, 2));
    let (_, h3f, n) = accuracy(&f, &ds, Split::Test, 5);
    let (_, h3q, _) = accuracy(&q, &ds, Split::Test, 5);
    let prior = Prior(NGram::train(&ds, 5, 3, 47).prior);
    let (_, h3p, _) = accuracy(&prior, &ds, Split::Test, 5);
    assert!(h3f > h3p, "the LSTM beats the prior: {h3f} vs {h3p} of {n}");
    assert!(
        (h3f as f64 - h3q as f64).abs() / (n as f64) < 0.03,
        "{h3f} vs {h3q} of {n}"
    );
}

#[test]
fn without_render_noise_the_baseline_quantiles_are_closed_form() {
    let o = replicate::<Prefetch>(
        "sequences = 60000\nrender_sigma = 0.0\nprefetch_k = 0",
        2,
        21,
    );
    // Load = 160 + LogNormal(ln 100, 1.1): P50 = 260, P95 = 160 + 100 e^(1.645·1.1) = 771.
    let p50 = o["baseline_load_p50_ms"].mean;
    let p95 = o["baseline_load_p95_ms"].mean;
    assert!((p50 - 260.0).abs() < 6.0, "{p50}");
    assert!(
        (p95 - (160.0 + 100.0 * (1.6449 * 1.1f64).exp())).abs() < 30.0,
        "{p95}"
    );
    // No prefetch: nothing changes, nothing is spent.
    assert_eq!(o["effective_hit_rate"].mean, 0.0);
    assert_eq!(o["load_p95_ms"].mean, p95);
    assert_eq!(o["network_overhead_pct"].mean, 0.0);
}

#[test]
fn with_time_to_spare_every_predicted_tap_hits() {
    // Dwell 10 minutes (every prefetch finishes), an unbounded fresh cache, the Bayes predictor
    // after no warm-up: the hit rate is the share of taps whose screen was predicted, counted
    // directly.
    let mut p = small(30_000, 5);
    p.dwell_median_ms = 600_000.0;
    p.dwell_sigma = 0.0;
    p.cache_screens = 3;
    p.cache_ttl_s = 1e9;
    p.warmup_transitions = 0;
    let (_, ds) = data(&p, 1);
    let ngram = NGram::train(&ds, 5, 3, 47);
    let prior = Prior(ngram.prior.clone());
    let mut rng = RngStreams::new(1, 0, 0).stream("loads");
    let loads = load::replay(&p, ds.of(Split::Test), &ngram, &prior, &mut rng);
    let mut predicted = 0u64;
    let mut out = Vec::new();
    for s in ds.of(Split::Test) {
        for i in 1..s.len() {
            let h = &s[i.saturating_sub(5)..i];
            ngram.top(h, 3, &mut out);
            predicted += u64::from(out.contains(&s[i]));
        }
    }
    // A screen predicted two changes ago can also still be cached: hits are at least these.
    assert!(loads.hits >= predicted, "{} < {predicted}", loads.hits);
    assert!((loads.hits - predicted) as f64 / (predicted as f64) < 0.05);
}

#[test]
fn the_room_runs_and_is_deterministic() {
    let a = replicate::<Prefetch>("sequences = 20000", 2, 4);
    let b = replicate::<Prefetch>("sequences = 20000", 2, 4);
    for (k, e) in &a {
        assert_eq!(e.mean, b[k].mean, "{k}");
    }
    assert!(a["top3_accuracy"].mean <= a["bayes_top3_accuracy"].mean + 0.02);
    assert!(a["load_p95_ms"].mean < a["baseline_load_p95_ms"].mean);
    assert_eq!(a["model_params"].mean, 16_895.0);
}

#[test]
fn a_log_round_trips_and_bad_logs_are_refused() {
    let p = small(5_000, 5);
    let (_, ds) = data(&p, 2);
    let mut csv = Vec::new();
    ds.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let back = read_csv(&text, "log.csv", 47).unwrap();
    assert_eq!(
        back.len(),
        ds.sessions.iter().filter(|s| s.len() >= 2).count()
    );
    let mut sorted = ds.sessions.clone();
    sorted.sort_by_key(|_| 0);
    assert!(back.iter().all(|s| ds.sessions.contains(s)));
    let err = read_csv("session_id,step,screen\n1,0,0\n1,1,99\n", "x.csv", 47).unwrap_err();
    assert!(err.to_string().contains("x.csv:3"), "{err}");
    let err = read_csv("session,step,screen\n", "x.csv", 47).unwrap_err();
    assert!(err.to_string().contains("session_id"), "{err}");
    let err = read_csv("session_id,step,screen\n1,a,0\n", "x.csv", 47).unwrap_err();
    assert!(err.to_string().contains("step"), "{err}");
}

#[test]
fn bad_parameters_are_refused_by_name() {
    for (text, field) in [
        ("sequences = 10", "sequences"),
        ("data = { window = 0 }", "data.window"),
        (
            "generator = { back_prob = 0.7, home_prob = 0.4 }",
            "generator.home_prob",
        ),
        (
            "generator = { intent_boost = 0.5 }",
            "generator.intent_boost",
        ),
        ("prefetch_k = 47", "prefetch_k"),
        ("cdf_quantile = 1.0", "cdf_quantile"),
        ("hit_render_fraction = 1.5", "hit_render_fraction"),
        (
            "data = { sessions = \"/nonexistent/log.csv\" }",
            "data.sessions",
        ),
    ] {
        let t: toml::Table = text.parse().unwrap();
        let e = check::<Prefetch>(&t).unwrap_err();
        assert_eq!(e.path(), field, "{text}: {e}");
    }
}

#[test]
#[ignore = "timing: cargo test --release -p sims prefetch::tests::phase_timing -- --ignored --nocapture"]
fn phase_timing() {
    use std::time::Instant;
    let p = small(2_100_000, 5);
    let t = Instant::now();
    let (nav, ds) = data(&p, 1);
    let gen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ng = NGram::train(&ds, 5, 3, nav.screens());
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let acc = accuracy(&ng, &ds, Split::Test, 5);
    let acc_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let prior = Prior(ng.prior.clone());
    let mut rng = RngStreams::new(1, 0, 0).stream("loads");
    let l = super::load::replay(&p, ds.of(Split::Test).take(30_000), &ng, &prior, &mut rng);
    let replay_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let r = super::rates::rates(&nav, 5);
    let rates_s = t.elapsed().as_secs_f64();
    eprintln!(
        "generate {gen_s:.3} s, train {train_s:.3} s ({} contexts), accuracy {acc_s:.3} s ({acc:?}), replay {replay_s:.3} s ({} taps), rates {rates_s:.3} s ({} windows)",
        ng.contexts(),
        l.with.len(),
        r.windows
    );
}
