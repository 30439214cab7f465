//! Upstream's unit-test cases (research note §7) and the article's decision table, plus the
//! day model against the closed-form kept fraction.

use rand::Rng;

use super::config::parse;
use super::evaluate::Final;
use super::limits::PolicyState;
use super::policy::{InvertMode, Policy, Semantics, TraceView};
use super::trace::Trace;
use super::*;
use crate::des::RngStreams;

pub(super) const LEGACY: Semantics = Semantics {
    invert: InvertMode::Legacy,
    latency_lower_inclusive: true,
    rate_limit_token_bucket: false,
    composite_equal_share: false,
};
pub(super) const PLAIN: Semantics = Semantics {
    invert: InvertMode::Plain,
    latency_lower_inclusive: true,
    rate_limit_token_bucket: false,
    composite_equal_share: false,
};

/// Decides `t` with a fresh processor (no state carried over).
pub(super) fn decide(
    policies: &[Policy],
    t: &dyn TraceView,
    sem: &Semantics,
    first: bool,
) -> Final {
    let mut st = PolicyState::new(0);
    super::evaluate::decide(policies, t, sem, first, &mut st, None)
}

pub(super) fn policies(yaml_policies: &str) -> config::TailConfig {
    parse(&format!("policies:\n{yaml_policies}")).expect("valid config")
}

pub(super) fn trace(json: &str) -> Trace {
    Trace::from_json_line(json).expect("valid trace")
}

pub(super) const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

pub(super) fn span(start_ms: u64, end_ms: u64, status: &str, attrs: &str) -> String {
    format!(
        "{{\"start_ns\": {}, \"end_ns\": {}, \"status\": \"{status}\", \"attributes\": {{{attrs}}}}}",
        start_ms * 1_000_000,
        end_ms * 1_000_000
    )
}

pub(super) fn one(spans: &[String]) -> Trace {
    trace(&format!(
        "{{\"trace_id_hex\": \"{ID}\", \"spans\": [{}]}}",
        spans.join(",")
    ))
}

pub(super) fn decision(cfg: &config::TailConfig, t: &Trace, sem: &Semantics) -> &'static str {
    decide(&cfg.policies, t, sem, cfg.sample_on_first_match).decision
}

#[test]
fn string_attribute_exact_regex_and_resource() {
    let exact = policies(
        "  - {name: s, type: string_attribute, string_attribute: {key: example, values: [value]}}",
    );
    let re = policies(
        "  - {name: s, type: string_attribute, string_attribute: {key: example, values: ['v[0-9]+.HealthCheck$'], enabled_regex_matching: true}}",
    );
    let on_span = one(&[span(0, 1, "UNSET", "\"example\": \"value\"")]);
    let on_resource = trace(&format!(
        "{{\"trace_id_hex\": \"{ID}\", \"resource_attributes\": {{\"example\": \"value\"}}, \"spans\": [{}]}}",
        span(0, 1, "UNSET", "")
    ));
    let other = one(&[span(0, 1, "UNSET", "\"example\": \"valuex\"")]);
    assert_eq!(decision(&exact, &on_span, &LEGACY), "sampled");
    assert_eq!(decision(&exact, &on_resource, &LEGACY), "sampled");
    assert_eq!(decision(&exact, &other, &LEGACY), "not_sampled");
    // Unanchored search: the regex matches inside a longer value.
    let grpc = one(&[span(
        0,
        1,
        "UNSET",
        "\"example\": \"grpc.health.v1.HealthCheck\"",
    )]);
    assert_eq!(decision(&re, &grpc, &LEGACY), "sampled");
}

#[test]
fn invert_match_in_both_modes() {
    let inv = policies(
        "  - {name: inv, type: string_attribute, string_attribute: {key: example, values: [value], invert_match: true}}",
    );
    let hit = one(&[span(0, 1, "UNSET", "\"example\": \"value\"")]);
    let miss = one(&[span(0, 1, "UNSET", "\"example\": \"other\"")]);
    let absent = one(&[span(0, 1, "UNSET", "")]);
    // Legacy: a hit is InvertNotSampled, a miss InvertSampled (alone: sampled).
    assert_eq!(decision(&inv, &hit, &LEGACY), "not_sampled");
    assert_eq!(decision(&inv, &miss, &LEGACY), "sampled");
    assert_eq!(decision(&inv, &absent, &LEGACY), "sampled");
    assert_eq!(decision(&inv, &hit, &PLAIN), "not_sampled");
    assert_eq!(decision(&inv, &miss, &PLAIN), "sampled");
}

#[test]
fn combination_precedence() {
    let cfg = policies(
        "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n  - {name: inv, type: string_attribute, string_attribute: {key: http.target, values: [/health], enabled_regex_matching: true, invert_match: true}}\n  - {name: p0, type: probabilistic, probabilistic: {sampling_percentage: 0}}",
    );
    // InvertNotSampled beats Sampled: an error on /health is dropped in legacy mode.
    let health_error = one(&[span(0, 1, "ERROR", "\"http.target\": \"/health\"")]);
    assert_eq!(decision(&cfg, &health_error, &LEGACY), "not_sampled");
    assert_eq!(decision(&cfg, &health_error, &PLAIN), "sampled");
    // InvertSampled + NotSampled → NotSampled (TestLateArrivingSpansAssignedOriginalDecision).
    let normal = one(&[span(0, 1, "UNSET", "\"http.target\": \"/api\"")]);
    assert_eq!(decision(&cfg, &normal, &LEGACY), "not_sampled");
    // Plain: the invert policy samples every non-matching trace.
    assert_eq!(decision(&cfg, &normal, &PLAIN), "sampled");
    // The deciding policy is the first one that produced the winning kind.
    let f = decide(&cfg.policies, &health_error, &PLAIN, false);
    assert_eq!(f.policy.as_deref(), Some("errors"));
}

#[test]
fn drop_policies_run_first_and_win() {
    let cfg = policies(
        "  - {name: always, type: always_sample}\n  - name: drop-health\n    type: drop\n    drop:\n      drop_sub_policy:\n        - {name: h, type: string_attribute, string_attribute: {key: url.path, values: ['^/health$'], enabled_regex_matching: true}}",
    );
    let h = one(&[span(0, 1, "ERROR", "\"url.path\": \"/health\"")]);
    let f = decide(&cfg.policies, &h, &PLAIN, false);
    assert_eq!(
        (f.decision, f.policy.as_deref()),
        ("dropped", Some("drop-health"))
    );
    let care = one(&[span(0, 1, "UNSET", "\"url.path\": \"/healthcare\"")]);
    assert_eq!(decision(&cfg, &care, &PLAIN), "sampled");
}

#[test]
fn sample_on_first_match_stops_early() {
    let mut cfg =
        policies("  - {name: a, type: always_sample}\n  - {name: b, type: always_sample}");
    cfg.sample_on_first_match = true;
    let t = one(&[span(0, 1, "UNSET", "")]);
    assert_eq!(
        decide(&cfg.policies, &t, &PLAIN, true).policy.as_deref(),
        Some("a")
    );
}

#[test]
fn latency_boundaries() {
    let cfg = policies("  - {name: l, type: latency, latency: {threshold_ms: 5000}}");
    // Real timestamps are never 0 (upstream treats 0 as unset): spans start at t = 1 s.
    let d = |spans: &[String], sem: &Semantics| decision(&cfg, &one(spans), sem);
    assert_eq!(d(&[span(1000, 5500, "UNSET", "")], &LEGACY), "not_sampled");
    assert_eq!(d(&[span(1000, 6000, "UNSET", "")], &LEGACY), "sampled");
    let exclusive = Semantics {
        latency_lower_inclusive: false,
        ..PLAIN
    };
    assert_eq!(
        d(&[span(1000, 6000, "UNSET", "")], &exclusive),
        "not_sampled"
    );
    assert_eq!(
        d(
            &[span(1000, 4000, "UNSET", ""), span(3500, 6500, "UNSET", "")],
            &LEGACY
        ),
        "sampled"
    );
    let bounded = policies(
        "  - {name: l, type: latency, latency: {threshold_ms: 5000, upper_threshold_ms: 10000}}",
    );
    for (ms, want) in [
        (5000, "not_sampled"),
        (5001, "sampled"),
        (10000, "sampled"),
        (10001, "not_sampled"),
    ] {
        assert_eq!(
            decision(
                &bounded,
                &one(&[span(1000, 1000 + ms, "UNSET", "")]),
                &LEGACY
            ),
            want,
            "{ms} ms"
        );
    }
}

#[test]
fn status_codes_and_config_strictness() {
    let cfg =
        policies("  - {name: s, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}");
    assert_eq!(
        decision(&cfg, &one(&[span(0, 1, "OK", "")]), &PLAIN),
        "not_sampled"
    );
    assert_eq!(
        decision(
            &cfg,
            &one(&[span(0, 1, "OK", ""), span(0, 1, "ERROR", "")]),
            &PLAIN
        ),
        "sampled"
    );
    for (bad, want) in [
        (
            "  - {name: s, type: status_code, status_code: {status_codes: [BROKEN]}}",
            "policies[0].status_code.status_codes[0]",
        ),
        (
            "  - {name: s, type: status_code, status_code: {status_codes: []}}",
            "policies[0].status_code.status_codes",
        ),
        (
            "  - {name: s, type: string_attribute, string_attribute: {key: k, values: ['(['], enabled_regex_matching: true}}",
            "policies[0].string_attribute.values[0]",
        ),
        ("  - {name: s, type: rate_limit}", "policies[0].type"),
    ] {
        let e = parse(&format!("policies:\n{bad}")).expect_err(bad);
        assert_eq!(e.path, want, "{e}");
    }
}

#[test]
fn probabilistic_rates_over_random_ids() {
    let mut rng = RngStreams::new(1, 0, 0).stream("ids");
    let ids: Vec<[u8; 16]> = (0..100_000)
        .map(|_| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
            b[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
            b
        })
        .collect();
    for (pct, salt, want) in [
        (0.0, "", 0.0),
        (25.0, "", 25.0),
        (33.0, "", 33.0),
        (33.0, "my-salt", 33.0),
        (100.0, "", 100.0),
        (-50.0, "", 0.0),
        (150.0, "", 100.0),
    ] {
        let salt_line = if salt.is_empty() {
            String::new()
        } else {
            format!(", hash_salt: {salt}")
        };
        let cfg = policies(&format!(
            "  - {{name: p, type: probabilistic, probabilistic: {{sampling_percentage: {pct}{salt_line}}}}}"
        ));
        let kept = ids
            .iter()
            .filter(|id| {
                let t = Trace {
                    id: **id,
                    resource: vec![],
                    spans: vec![],
                };
                decision(&cfg, &t, &PLAIN) == "sampled"
            })
            .count();
        let got = kept as f64 / 1000.0;
        // Upstream's tolerance is ±0.2 points; binomial SE at 33% over 100k is 0.15 points.
        assert!((got - want).abs() <= 0.6, "{pct}% ({salt}): {got}");
    }
}

fn run_day(extra: &str, hours: f64) -> std::collections::BTreeMap<String, f64> {
    let t: toml::Table = format!(
        "sim_hours = {hours}\nconfig = \"{}/../datasets/otel/article-01.yaml\"\n{extra}",
        env!("CARGO_MANIFEST_DIR")
    )
    .parse()
    .unwrap();
    crate::room::testing::check::<TailSampling>(&t).expect("valid");
    let ctx = RunContext {
        streams: RngStreams::new(5, 0, 0),
        point: 0,
        replication: 0,
    };
    crate::room::testing::run_once::<TailSampling>(&t, &ctx)
        .unwrap()
        .metrics
}

#[test]
fn legacy_mode_keeps_about_what_the_closed_form_says() {
    let m = run_day("collector_version = \"0.143.0\"", 0.5);
    // kept ≈ (1 − h)(1 − (1 − e)(1 − s)·0.95) with h = 1%, e = 1%, s ≈ 0.37% (research §2).
    let s = 0.0037;
    let closed = 0.99 * (1.0 - 0.99 * (1.0 - s) * 0.95);
    assert!((m["kept_fraction"] - closed).abs() < 0.006, "{m:?}");
    assert!(m["health_traces_kept_fraction"] < 0.01);
    // Errors on probes are vetoed by the invert policy: just under all errors are kept.
    assert!(m["error_traces_kept_fraction"] < 1.0, "{m:?}");
}

#[test]
fn an_unanchored_regex_catches_real_routes() {
    let m = run_day(
        "collector_version = \"0.143.0\"\nbusiness_paths = [\"/api/orders\", \"/api/v1/healthcare/claims\"]",
        0.2,
    );
    // Half the business traffic matches /health: its errors are vetoed too.
    assert!(m["error_traces_kept_fraction"] < 0.6, "{m:?}");
}

#[test]
fn plain_mode_keeps_nearly_everything() {
    let m = run_day("collector_version = \"0.150.0\"", 0.5);
    // (1 − h) + 0.05·h ≈ 99.05% (research §2).
    assert!((m["kept_fraction"] - 0.9905).abs() < 0.003, "{m:?}");
    assert_eq!(m["error_traces_kept_fraction"], 1.0);
}

#[test]
fn stable_semconv_key_defeats_the_health_filter() {
    let m = run_day(
        "collector_version = \"0.143.0\"\nattribute_key = \"url.path\"",
        0.5,
    );
    assert!(m["health_traces_kept_fraction"] > 0.04, "{m:?}");
}

#[test]
fn not_swaps_only_sampled_and_not_sampled() {
    // not(invert string on /health) next to an error policy: legacy InvertNotSampled passes
    // through `not` and still vetoes the error (upstream not.go).
    let cfg = policies(
        "  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}\n  - name: n\n    type: not\n    not:\n      not_sub_policy: {name: inv, type: string_attribute, string_attribute: {key: http.target, values: [/health], enabled_regex_matching: true, invert_match: true}}",
    );
    let t = one(&[span(1, 2, "ERROR", "\"http.target\": \"/health\"")]);
    assert_eq!(decision(&cfg, &t, &LEGACY), "not_sampled");
    let plain_not = policies(
        "  - name: n\n    type: not\n    not:\n      not_sub_policy: {name: s, type: string_attribute, string_attribute: {key: k, values: [v]}}",
    );
    assert_eq!(
        decision(
            &plain_not,
            &one(&[span(1, 2, "UNSET", "\"k\": \"v\"")]),
            &PLAIN
        ),
        "not_sampled"
    );
    assert_eq!(
        decision(
            &plain_not,
            &one(&[span(1, 2, "UNSET", "\"k\": \"w\"")]),
            &PLAIN
        ),
        "sampled"
    );
}

#[test]
fn attribute_types_follow_pcommon_accessors() {
    // string_attribute compares Str(): an integer 503 never matches "503".
    let s = policies(
        "  - {name: s, type: string_attribute, string_attribute: {key: code, values: ['503']}}",
    );
    assert_eq!(
        decision(&s, &one(&[span(1, 2, "UNSET", "\"code\": 503")]), &PLAIN),
        "not_sampled"
    );
    // numeric_attribute reads a string as 0; boolean_attribute reads a string as false.
    let n = policies(
        "  - {name: n, type: numeric_attribute, numeric_attribute: {key: k, min_value: 0, max_value: 10}}",
    );
    assert_eq!(
        decision(&n, &one(&[span(1, 2, "UNSET", "\"k\": \"text\"")]), &PLAIN),
        "sampled"
    );
    let b = policies(
        "  - {name: b, type: boolean_attribute, boolean_attribute: {key: k, value: false}}",
    );
    assert_eq!(
        decision(&b, &one(&[span(1, 2, "UNSET", "\"k\": \"text\"")]), &PLAIN),
        "sampled"
    );
}

#[test]
fn latency_treats_a_zero_start_as_unset() {
    let cfg = policies("  - {name: l, type: latency, latency: {threshold_ms: 2000}}");
    // [0, 100 ms] then [1000, 2500 ms]: upstream measures 1500 ms, not 2500.
    let t = one(&[span(0, 100, "UNSET", ""), span(1000, 2500, "UNSET", "")]);
    assert_eq!(decision(&cfg, &t, &LEGACY), "not_sampled");
}

#[test]
fn unmodelled_settings_and_unknown_keys_are_refused() {
    for (yaml, path) in [
        (
            "decision_wait_after_root_received: 1s\npolicies:\n  - {name: a, type: always_sample}",
            "decision_wait_after_root_received",
        ),
        (
            "block_on_overflow: true\npolicies:\n  - {name: a, type: always_sample}",
            "block_on_overflow",
        ),
        (
            "sampling_strategy: span-ingest\npolicies:\n  - {name: a, type: always_sample}",
            "sampling_strategy",
        ),
        (
            "decision_wait: 1000000h\npolicies:\n  - {name: a, type: always_sample}",
            "decision_wait",
        ),
        (
            "policies:\n  - {name: s, type: string_attribute, string_attribute: {key: k, values: [v], enable_regex_matching: true}}",
            "policies[0].string_attribute.enable_regex_matching",
        ),
        (
            "policies:\n  - {name: l, type: latency, latency: {threshold_ms: 10, bogus: 1}}",
            "policies[0].latency.bogus",
        ),
        (
            "policies:\n  - name: a\n    type: and\n    and:\n      and_sub_policy:\n        - {name: d, type: drop, drop: {drop_sub_policy: [{name: x, type: always_sample}]}}",
            "policies[0].and.and_sub_policy[0].type",
        ),
    ] {
        let e = parse(yaml).expect_err(yaml);
        assert_eq!(e.path, path, "{e}");
    }
}

#[test]
fn long_requests_are_decided_before_their_spans_arrive() {
    // Requests of ~8 s: the first child is exported early and the trace is decided 10-11 s
    // after it arrived, often before the spans that show it is slow (research note §6).
    let m = run_day(
        "collector_version = \"0.143.0\"\nlatency_median_ms = 8000.0\nlatency_sigma = 0.5",
        0.1,
    );
    assert!(m["slow_traces_kept_fraction"] < 0.95, "{m:?}");
}

#[test]
fn decisions_before_the_root_arrives_are_counted() {
    // Requests far longer than decision_wait are decided on their first child alone; requests
    // of tens of milliseconds never are.
    let long = run_day(
        "collector_version = \"0.143.0\"\nlatency_median_ms = 30000.0\nlatency_sigma = 0.2",
        0.05,
    );
    assert!(long["decided_before_root_fraction"] > 0.9, "{long:?}");
    let short = run_day(
        "collector_version = \"0.143.0\"\nlatency_median_ms = 20.0\nlatency_sigma = 0.3",
        0.05,
    );
    assert_eq!(short["decided_before_root_fraction"], 0.0, "{short:?}");
}

#[test]
fn the_happy_path_is_sampled_at_five_percent_in_legacy_mode_only() {
    let legacy = run_day("collector_version = \"0.143.0\"", 0.2);
    // 5% of traces neither failed, slow nor probes: the probabilistic policy alone.
    assert!(
        (legacy["normal_traces_kept_fraction"] - 0.05).abs() < 0.003,
        "{legacy:?}"
    );
    let plain = run_day("collector_version = \"0.150.0\"", 0.2);
    assert_eq!(plain["normal_traces_kept_fraction"], 1.0, "{plain:?}");
    // Errors off the probe paths are all kept in both modes at these durations.
    assert_eq!(legacy["business_error_traces_kept_fraction"], 1.0);
    assert!(legacy["error_traces_kept_fraction"] <= 1.0);
}

#[test]
fn input_products_are_exact() {
    let m = run_day(
        "rpm = 10000.0\nprobe_share = 0.01\nspans_per_trace = 10.0\nvendor_usd_per_million_spans = 31.0\nlog_gb_month = 80.0\nstorage_usd_per_gb_month = 0.023",
        0.02,
    );
    assert_eq!(m["traces_per_day"], 14_400_000.0);
    // 10,000 x 1,440 x 30 x (0.01 + 0.99 x 10) spans x $31 per million.
    let vendor = 10_000.0 * 1440.0 * 30.0 * (0.01 + 0.99 * 10.0) / 1e6 * 31.0;
    assert!((m["vendor_usd_month"] - vendor).abs() < 1e-6, "{m:?}");
    assert!((m["log_usd_month"] - 80.0 * 0.023).abs() < 1e-12);
}

#[test]
fn losses_past_num_traces_are_counted_once_per_trace() {
    // 400k RPM overflows 50,000 pending traces within decision_wait: most traces are lost,
    // and the share of traces lost stays a share.
    let m = run_day("collector_version = \"0.143.0\"\nrpm = 400000.0", 0.005);
    let lost = m["dropped_undecided_fraction"];
    assert!(lost > 0.3 && lost <= 1.0, "{m:?}");
    let m = run_day("collector_version = \"0.143.0\"", 0.05);
    assert_eq!(m["dropped_undecided_fraction"], 0.0, "{m:?}");
}
