//! The mechanisms, checked in isolation with fixed seeds.

use std::collections::BTreeMap;

use super::*;
use crate::des::RngStreams;
use crate::room::testing::replicate;
use crate::stats::Estimate;

fn run_once(params: &str, seed: u64) -> BTreeMap<String, f64> {
    let t: toml::Table = params.parse().expect("valid TOML");
    crate::room::testing::check::<Migrations>(&t).expect("valid params");
    let ctx = RunContext {
        streams: RngStreams::new(seed, 0, 0),
        point: 0,
        replication: 0,
    };
    crate::room::testing::run_once::<Migrations>(&t, &ctx)
        .unwrap()
        .metrics
}

/// `want` lies within 4 standard errors (and `rel` of itself, for the histogram's 0.1%
/// buckets) of the estimate.
fn assert_close(est: &BTreeMap<String, Estimate>, metric: &str, want: f64, rel: f64) {
    let e = &est[metric];
    let tol = 4.0 * e.std_error() + rel * want.abs();
    assert!(
        (e.mean - want).abs() <= tol,
        "{metric}: {} ± {} (n = {}) vs {want}",
        e.mean,
        e.std_error(),
        e.n
    );
}

/// `a` exceeds `b` by more than 4 combined standard errors.
fn assert_greater(a: &Estimate, b: &Estimate, what: &str) {
    let se = (a.std_error().powi(2) + b.std_error().powi(2)).sqrt();
    assert!(
        a.mean - b.mean > 4.0 * se,
        "{what}: {} ± {} is not above {} ± {}",
        a.mean,
        a.std_error(),
        b.mean,
        b.std_error()
    );
}

/// Erlang C: the probability an arrival to M/M/c with offered load `a` (< c) waits.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let top = term * a / c as f64 / (1.0 - rho);
    top / (sum + top)
}

#[test]
fn without_a_migration_the_mean_latency_is_erlang_c_for_any_service_spread() {
    // Two processors shared by the running statements and a pool too large to bind form a
    // symmetric queue: its mean sojourn is M/M/2's, E[S] + C(2, a)·E[S]/(2 − a), whatever the
    // distribution of S. Deterministic and lognormal service must both give it.
    for sigma in [0.0, 0.7] {
        let es_ms = 2.0 * (sigma * sigma / 2.0f64).exp();
        let a = 1.4; // ρ = 0.7 per processor
        let rate = a / (es_ms / 1e3);
        let params = format!(
            "procedure = \"none\"\nquery_ms = 2.0\nquery_sigma = {sigma}\nrate_rps = {rate}\n\
             db_cores = 2\npool_size = 1000\nclient_timeout_ms = 1e6\nbaseline_s = 150\nafter_s = 0"
        );
        let est = replicate::<Migrations>(&params, 8, 11);
        let want = es_ms + erlang_c(2, a) * es_ms / (2.0 - a);
        assert_close(&est, "mean_ms_baseline", want, 0.0);
        assert_eq!(est["timeouts"].mean, 0.0);
        assert_eq!(est["lock_hold_s"].mean, 0.0);
    }
}

#[test]
fn a_pool_of_c_connections_queues_fifo_and_waits_longer_for_variable_service() {
    // Two connections on two processors: each statement has a processor to itself and the
    // rest queue FIFO for a connection, which is M/G/2 FCFS. With σ = 1 (squared CV e − 1 ≈
    // 1.7) it waits longer than the shared processors' insensitive M/M/2 mean.
    let es_ms = 2.0 * 0.5f64.exp();
    let rate = 1.6 / (es_ms / 1e3); // ρ = 0.8
    let common = format!(
        "procedure = \"none\"\nquery_ms = 2.0\nquery_sigma = 1.0\nrate_rps = {rate}\ndb_cores = 2\n\
         client_timeout_ms = 1e6\nbaseline_s = 100\nafter_s = 0\n"
    );
    let wide = replicate::<Migrations>(&format!("{common}pool_size = 1000"), 6, 12);
    let narrow = replicate::<Migrations>(&format!("{common}pool_size = 2"), 6, 12);
    let want = es_ms + erlang_c(2, 1.6) * es_ms / (2.0 - 1.6);
    assert_close(&wide, "mean_ms_baseline", want, 0.0);
    assert_greater(
        &narrow["mean_ms_baseline"],
        &wide["mean_ms_baseline"],
        "FIFO pool vs shared processors",
    );
}

const REWRITE: &str = "procedure = \"rewrite\"\nrows = 1e6\nrewrite_rows_per_s = 420000\nrate_rps = 300\n\
                       db_cores = 2\nclient_timeout_ms = 500\nbaseline_s = 5\nafter_s = 5\n";

#[test]
fn the_rewrite_holds_the_lock_for_rows_over_rate_exactly() {
    let m = run_once(&format!("{REWRITE}pool_size = 16"), 1);
    let hold = 1e6 / 420_000.0;
    assert!((m["lock_hold_s"] - hold).abs() < 2e-9, "{m:?}");
    assert!((m["rewrite_rows_per_s"] - 420_000.0).abs() < 1e-3, "{m:?}");
    assert!((m["wal_mb"] - 104.0).abs() < 1e-9, "{m:?}");
}

#[test]
fn every_request_that_waits_out_the_lock_longer_than_its_timeout_times_out() {
    // Requests arriving in the first (hold − timeout) seconds of the lock cannot be served in
    // time, reads included: λ·(hold − timeout) timeouts, whether or not the pool binds. Short
    // statements (50 µs) let the backlog drain at once, so no one else times out.
    let hold = 1e6 / 420_000.0;
    let want = 300.0 * (hold - 0.5);
    for pool in [16, 1000] {
        let est = replicate::<Migrations>(
            &format!("{REWRITE}pool_size = {pool}\nquery_ms = 0.05"),
            10,
            21,
        );
        // Poisson count: its standard error is √want per replication.
        let e = &est["timeouts"];
        assert!(
            (e.mean - want).abs() < 4.0 * (want / 10.0).sqrt() + 3.0,
            "pool {pool}: {} vs {want}",
            e.mean
        );
        assert!(est["p99_ms_during"].mean >= 499.0, "pool {pool}");
        assert!(est["p99_ms_baseline"].mean < 1.0, "pool {pool}");
        assert!(est["p99_ms_after"].mean < 1.0, "pool {pool}");
    }
    // With 2 ms statements the backlog takes a while: the oldest waiters time out while it
    // drains, and the tail after the lock is raised, below the timeout.
    let est = replicate::<Migrations>(&format!("{REWRITE}pool_size = 1000"), 10, 21);
    assert_greater(
        &est["timeouts"],
        &Estimate::from_samples(&[want, want]),
        "timeouts with a draining backlog",
    );
    assert!(
        est["p99_ms_after"].mean < 500.0,
        "{:?}",
        est["p99_ms_after"]
    );
}

#[test]
fn a_small_pool_runs_out_within_its_size_in_arrivals() {
    // 16 connections are held by statements blocked on the lock after the 16th arrival:
    // Gamma(16, 300/s), mean 53 ms. A pool larger than the backlog never runs out.
    let est = replicate::<Migrations>(&format!("{REWRITE}pool_size = 16"), 10, 31);
    assert_close(&est, "pool_exhausted_after_s", 16.0 / 300.0, 0.0);
    let wide = run_once(&format!("{REWRITE}pool_size = 1000"), 31);
    assert!(!wide.contains_key("pool_exhausted_after_s"), "{wide:?}");
}

const GHOST: &str = "procedure = \"ghost\"\nrows = 1e6\nbackfill_rows_per_s = 46000\nrate_rps = 300\n\
                     client_timeout_ms = 2000\nafter_s = 2\n";

#[test]
fn ghost_duration_is_batches_times_batch_plus_throttle_plus_swap() {
    // 16 processors and 8 connections: the batch never shares a processor, so the procedure
    // takes exactly 40 × (25000 / 46000 + 0.1) + 0.016 s, plus the few ms the swap waits for
    // the statements in flight.
    let m = run_once(
        &format!(
            "{GHOST}db_cores = 16\npool_size = 8\nbatch_size = 25000\nthrottle_ms = 100\nswap_lock_ms = 16"
        ),
        41,
    );
    let want = 40.0 * (25_000.0 / 46_000.0 + 0.1) + 0.016;
    let got = m["ghost_total_s"];
    assert!((want - 1e-6..want + 0.05).contains(&got), "{got} vs {want}");
    assert!((m["lock_hold_s"] - 0.016).abs() < 1e-9);
    assert!((m["throttle_s"] - 4.0).abs() < 1e-9);
    let duty = (25_000.0 / 46_000.0) / (25_000.0 / 46_000.0 + 0.1);
    assert!((m["backfill_duty_cycle"] - duty).abs() < 1e-3, "{m:?}");
    assert_eq!(m["timeouts"], 0.0);
    // A partial last batch: 1M rows in 300k batches is 4 batches.
    let m = run_once(
        &format!("{GHOST}db_cores = 16\npool_size = 8\nbatch_size = 300000\nthrottle_ms = 0"),
        41,
    );
    let got = m["ghost_total_s"] - 0.016;
    let alone = 1e6 / 46_000.0;
    assert!(
        (alone - 1e-6..alone + 0.05).contains(&got),
        "{got} vs {alone}"
    );
}

#[test]
fn on_one_processor_the_batches_share_it_and_take_longer() {
    let m = run_once(&format!("{GHOST}db_cores = 1\nthrottle_ms = 100"), 42);
    let alone = 40.0 * (25_000.0 / 46_000.0 + 0.1) + 0.016;
    // The application uses ~0.77 of the processor; a batch gets about half of it while
    // requests are present.
    assert!(m["ghost_total_s"] > alone * 1.1, "{m:?}");
}

#[test]
fn p99_inflation_follows_the_duty_cycle_and_spare_processors() {
    let est = |extra: &str| {
        replicate::<Migrations>(
            &format!("{GHOST}batch_size = 25000\nbaseline_s = 60\n{extra}"),
            10,
            51,
        )
    };
    // Duty cycle 1.0, 0.52 and 0.15 on two processors.
    let t0 = est("db_cores = 2\nthrottle_ms = 0");
    let t500 = est("db_cores = 2\nthrottle_ms = 500");
    let t3000 = est("db_cores = 2\nthrottle_ms = 3000");
    let infl = |e: &BTreeMap<String, Estimate>| e["p99_inflation_pct"].clone();
    assert_greater(&infl(&t0), &infl(&t500), "throttle 0 vs 500 ms");
    assert_greater(&infl(&t500), &infl(&t3000), "throttle 500 vs 3000 ms");
    // Spare processors: the same backfill on 8 hardly shows.
    let c8 = est("db_cores = 8\nthrottle_ms = 0");
    assert_greater(&infl(&t0), &infl(&c8), "2 vs 8 processors");
    assert!(infl(&c8).mean < 10.0, "{:?}", infl(&c8));
    // The median moves far less than the tail.
    assert!(
        t0["p50_ms_during"].mean / t0["p50_ms_baseline"].mean
            < t0["p99_ms_during"].mean / t0["p99_ms_baseline"].mean
    );
    assert_eq!(t0["timeouts"].mean, 0.0);
}

#[test]
fn the_trigger_alone_inflates_p99_through_the_writes() {
    // With processors to spare, inflation comes from the trigger's cost on writes only.
    let base = format!("{GHOST}db_cores = 32\nthrottle_ms = 100\nbaseline_s = 60\n");
    let off = replicate::<Migrations>(&format!("{base}trigger_overhead_ms = 0"), 6, 61);
    let on = replicate::<Migrations>(&format!("{base}trigger_overhead_ms = 3"), 6, 61);
    assert!(
        off["p99_inflation_pct"].mean.abs() < 3.0,
        "{:?}",
        off["p99_inflation_pct"]
    );
    assert_greater(
        &on["p99_inflation_pct"],
        &off["p99_inflation_pct"],
        "trigger cost",
    );
}

#[test]
fn five_hundred_million_rows_stay_cheap_to_simulate() {
    // A 20-minute lock: 360k requests, each a handful of events.
    let m = run_once(
        "procedure = \"rewrite\"\nrows = 5e8\ndb_cores = 16\nbaseline_s = 10\nafter_s = 10",
        71,
    );
    assert!((m["lock_hold_s"] - 5e8 / 420_000.0).abs() < 1e-6);
    assert!(m["error_fraction"] > 0.99, "{m:?}");
}

#[test]
fn same_seed_same_outcome_different_seed_different_outcome() {
    let p = format!("{GHOST}throttle_ms = 100");
    assert_eq!(run_once(&p, 7), run_once(&p, 7));
    assert_ne!(run_once(&p, 7), run_once(&p, 8));
}

#[test]
fn bad_params_name_the_field() {
    let cases = [
        ("procedure = \"online\"", "procedure"),
        ("rows = 0", "rows"),
        ("rate_rps = -1", "rate_rps"),
        ("read_fraction = 1.5", "read_fraction"),
        (
            "read_fraction = 0.8\nupdate_fraction = 0.3",
            "update_fraction",
        ),
        ("pool_size = 0", "pool_size"),
        ("db_cores = 0", "db_cores"),
        ("query_ms = 0", "query_ms"),
        ("query_sigma = -0.1", "query_sigma"),
        ("client_timeout_ms = 0", "client_timeout_ms"),
        ("batch_size = 0.5", "batch_size"),
        ("throttle_ms = -1", "throttle_ms"),
        ("baseline_s = 0", "baseline_s"),
        ("pool = 16", "pool"),
        ("db_cores = \"two\"", "db_cores"),
        (
            "procedure = \"ghost\"\nrows = 1e12\nbatch_size = 1",
            "batch_size",
        ),
        ("procedure = \"ghost\"\nrows = 1e11", "rate_rps"),
    ];
    for (src, path) in cases {
        let t: toml::Table = src.parse().unwrap();
        let err = crate::room::testing::check::<Migrations>(&t).expect_err(src);
        assert_eq!(err.path(), path, "{src}: {err}");
    }
}

#[test]
fn the_kernels_trials_are_checked() {
    use crate::real::Kernel;
    let check = |v: i64| {
        let mut t = toml::Table::new();
        t.insert("trials".into(), toml::Value::Integer(v));
        super::PgMigrations.check(&t)
    };
    assert_eq!(check(5).unwrap()["trials"].as_integer(), Some(5));
    for bad in [0, 21] {
        let e = check(bad).unwrap_err();
        assert_eq!(e.path(), "trials");
        assert!(e.to_string().contains("expected 1 to 20"), "{e}");
    }
}
