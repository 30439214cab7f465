//! The mechanisms, checked in isolation with fixed seeds.

use std::collections::BTreeMap;

use super::*;
use crate::des::RngStreams;

fn run(extra: &str) -> BTreeMap<String, f64> {
    let t: toml::Table = extra.parse().expect("valid TOML");
    crate::room::testing::check::<Idempotency>(&t).expect("valid params");
    let ctx = RunContext {
        streams: RngStreams::new(3, 0, 0),
        point: 0,
        replication: 0,
    };
    crate::room::testing::run_once::<Idempotency>(&t, &ctx)
        .unwrap()
        .metrics
}

const LOSSY: &str = "request_loss = 0.0\nresponse_loss = 0.03\nstall_rate = 0.0\ndouble_submit_rate = 0.0\nidentical_repeat_rate = 0.0\nrestarts_per_day = 0.0\n";

#[test]
fn random_keys_double_charge_every_retried_lost_response() {
    let m = run(&format!("{LOSSY}key_strategy = \"random_per_attempt\""));
    // Every lost response is retried and charged again: ≈ 3% of 10k = 300 (binomial SE ≈ 17).
    assert!((m["double_charges_per_10k"] - 309.0).abs() < 70.0, "{m:?}");
}

#[test]
fn a_stable_key_with_on_conflict_never_double_charges() {
    let m = run(&format!(
        "{LOSSY}key_strategy = \"uuid_per_payment\"\nserver_strategy = \"article\""
    ));
    assert_eq!(m["double_charges_per_10k"], 0.0);
}

#[test]
fn for_update_changes_nothing_and_one_transaction_removes_conflicts() {
    let base =
        "stall_rate = 0.01\ndouble_submit_rate = 0.01\nkey_strategy = \"uuid_per_payment\"\n";
    let a = run(&format!("{base}server_strategy = \"article\""));
    let f = run(&format!("{base}server_strategy = \"article_for_update\""));
    let one = run(&format!("{base}server_strategy = \"one_transaction\""));
    // Its extra round trip shifts timings a little; the outcomes are the same mechanism.
    assert!(
        (a["conflicts_per_10k"] - f["conflicts_per_10k"]).abs() < 0.05 * a["conflicts_per_10k"]
    );
    assert_eq!(a["double_charges_per_10k"], f["double_charges_per_10k"]);
    assert!(a["conflicts_per_10k"] > 50.0, "{a:?}");
    assert_eq!(one["conflicts_per_10k"], 0.0);
}

#[test]
fn content_hash_merges_genuine_identical_payments() {
    let m = run(
        "key_strategy = \"content_hash\"\nserver_strategy = \"article\"\nidentical_repeat_rate = 0.01\nhash_bucket_s = 300.0\nrepeat_gap_s = 60.0",
    );
    // 1% repeats, P(same 300 s bucket | 60 s mean gap) ≈ 0.8: about 80 per 10k.
    assert!(m["false_dedupes_per_10k"] > 40.0, "{m:?}");
    assert_eq!(
        run("key_strategy = \"uuid_per_payment\"\nidentical_repeat_rate = 0.01")["false_dedupes_per_10k"],
        0.0
    );
}

#[test]
fn in_memory_dedupe_behind_a_load_balancer_leaks() {
    let m = run(&format!(
        "{LOSSY}key_strategy = \"uuid_per_payment\"\nserver_strategy = \"memory\"\ninstances = 2"
    ));
    assert!(m["double_charges_per_10k"] > 50.0, "{m:?}");
}

#[test]
fn offline_replays_after_the_ttl_charge_again() {
    let base = "response_loss = 0.05\nmax_attempts = 1\noffline_rate = 1.0\nkey_strategy = \"uuid_per_payment\"\nserver_strategy = \"article\"\nttl_h = 24.0\n";
    assert_eq!(
        run(&format!("{base}offline_delay_h = 6.0"))["double_charges_per_10k"],
        0.0
    );
    assert!(run(&format!("{base}offline_delay_h = 30.0"))["double_charges_per_10k"] > 100.0);
    // Replays days later are simulated too (the horizon follows the delay).
    assert!(run(&format!("{base}offline_delay_h = 72.0"))["double_charges_per_10k"] > 100.0);
}

#[test]
fn per_day_counts_follow_the_traffic_and_rates_do_not() {
    // The simulated payments are a sample: the traffic scales the per-day count only.
    let at = |ppd: f64| {
        run(&format!(
            "{LOSSY}key_strategy = \"none\"\npayments_per_day = {ppd}\npayments_simulated = 4000"
        ))
    };
    let (small, large) = (at(1000.0), at(8000.0));
    assert_eq!(
        small["double_charges_per_10k"],
        large["double_charges_per_10k"]
    );
    let per_day = |m: &BTreeMap<String, f64>, ppd: f64| m["double_charges_per_10k"] * ppd / 1e4;
    assert!((small["double_charges_per_day"] - per_day(&small, 1000.0)).abs() < 1e-9);
    assert!((large["double_charges_per_day"] - per_day(&large, 8000.0)).abs() < 1e-9);
    // About 3% of the day's payments.
    assert!(
        (large["double_charges_per_day"] - 240.0).abs() < 60.0,
        "{large:?}"
    );
}

#[test]
fn retried_payments_succeed_after_the_client_timeout() {
    // A lost response is noticed at the timeout (10 s); the retry (after up to 1 s of backoff)
    // gets the stored result.
    let m = run(&format!(
        "{LOSSY}key_strategy = \"uuid_per_payment\"\nserver_strategy = \"article\""
    ));
    let p50 = m["retried_p50_s"];
    assert!((10.0..12.0).contains(&p50), "{m:?}");
    let slow = run(&format!(
        "{LOSSY}key_strategy = \"uuid_per_payment\"\nserver_strategy = \"article\"\nclient_timeout_s = 30.0"
    ));
    assert!((30.0..32.0).contains(&slow["retried_p50_s"]), "{slow:?}");
}

#[test]
fn ttl_bounds_the_table() {
    let m = run("server_strategy = \"article\"\nttl_h = 24.0\npayments_per_day = 2000");
    assert!(
        (m["table_rows_steady_state"] - 2000.0).abs() < 100.0,
        "{m:?}"
    );
    let forever = run("server_strategy = \"article\"\nttl_h = 0.0\npayments_per_day = 2000");
    assert!(forever["table_rows_steady_state"] > 300.0 * 2000.0);
}

#[test]
fn bursts_reproduce_the_flows_under_concurrency() {
    // What the real kernel measures on PostgreSQL: one charge per key for every keyed flow;
    // the losers get 409 from the article's flows, a replay from one transaction.
    let burst = |server: &str, n: u32| {
        run(&format!(
            "burst_size = {n}\nburst_trials = 50\nserver_strategy = \"{server}\"\ncharge_median_ms = 30.0\ncharge_sigma = 0.0"
        ))
    };
    for n in [2, 8, 32] {
        let nf = n as f64;
        assert_eq!(burst("none", n)["burst_charges_per_key"], nf);
        assert_eq!(burst("none", n)["burst_double_charged"], 1.0);
        for server in ["article", "article_for_update"] {
            let m = burst(server, n);
            assert_eq!(m["burst_charges_per_key"], 1.0, "{server} n={n}");
            assert_eq!(m["burst_double_charged"], 0.0, "{server} n={n}");
            assert_eq!(m["burst_conflicts_per_key"], nf - 1.0, "{server} n={n}");
            assert_eq!(m["burst_wrong_answers_per_key"], 0.0);
        }
        let one = burst("one_transaction", n);
        assert_eq!(one["burst_charges_per_key"], 1.0);
        assert_eq!(one["burst_conflicts_per_key"], 0.0);
        assert_eq!(one["burst_replays_per_key"], nf - 1.0);
    }
}

#[test]
fn bursts_spread_past_a_charge_open_the_select_race() {
    // Arrivals spread over seconds: a late duplicate's SELECT can precede the winner's
    // completion while its claim follows it; it is told 409 for a completed payment.
    let m = run(
        "burst_size = 8\nburst_trials = 200\nburst_spread_ms = 400\nserver_strategy = \"article\"\ncharge_median_ms = 30.0\ncharge_sigma = 0.0\ndb_ms = 20.0",
    );
    assert_eq!(m["burst_charges_per_key"], 1.0);
    assert!(m["burst_wrong_answers_per_key"] > 0.0, "{m:?}");
    assert!(m["burst_replays_per_key"] > 0.0, "{m:?}");
}
