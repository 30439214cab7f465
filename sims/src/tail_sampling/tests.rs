//! Upstream's unit-test cases (research note §7) and the article's decision table, plus the
//! day model against the closed-form kept fraction.

use rand::Rng;

use super::config::parse;
use super::policy::{InvertMode, Semantics, decide};
use super::trace::Trace;
use super::*;
use crate::des::RngStreams;

const LEGACY: Semantics = Semantics {
    invert: InvertMode::Legacy,
    latency_lower_inclusive: true,
};
const PLAIN: Semantics = Semantics {
    invert: InvertMode::Plain,
    latency_lower_inclusive: true,
};

fn policies(yaml_policies: &str) -> config::TailConfig {
    parse(&format!("policies:\n{yaml_policies}")).expect("valid config")
}

fn trace(json: &str) -> Trace {
    Trace::from_json_line(json).expect("valid trace")
}

const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn span(start_ms: u64, end_ms: u64, status: &str, attrs: &str) -> String {
    format!(
        "{{\"start_ns\": {}, \"end_ns\": {}, \"status\": \"{status}\", \"attributes\": {{{attrs}}}}}",
        start_ms * 1_000_000,
        end_ms * 1_000_000
    )
}

fn one(spans: &[String]) -> Trace {
    trace(&format!(
        "{{\"trace_id_hex\": \"{ID}\", \"spans\": [{}]}}",
        spans.join(",")
    ))
}

fn decision(cfg: &config::TailConfig, t: &Trace, sem: &Semantics) -> &'static str {
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
    let d = |spans: &[String], sem: &Semantics| decision(&cfg, &one(spans), sem);
    assert_eq!(d(&[span(0, 4500, "UNSET", "")], &LEGACY), "not_sampled");
    assert_eq!(d(&[span(0, 5000, "UNSET", "")], &LEGACY), "sampled");
    let exclusive = Semantics {
        latency_lower_inclusive: false,
        ..PLAIN
    };
    assert_eq!(d(&[span(0, 5000, "UNSET", "")], &exclusive), "not_sampled");
    assert_eq!(
        d(
            &[span(0, 3000, "UNSET", ""), span(2500, 5500, "UNSET", "")],
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
            decision(&bounded, &one(&[span(0, ms, "UNSET", "")]), &LEGACY),
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
            "  - {name: s, type: string_attribute, string_attribute: {key: k, values: []}}",
            "policies[0].string_attribute.values",
        ),
        (
            "  - {name: s, type: string_attribute, string_attribute: {key: k, values: ['(['], enabled_regex_matching: true}}",
            "policies[0].string_attribute.values[0]",
        ),
        ("  - {name: s, type: rate_limiting}", "policies[0].type"),
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
    TailSampling.check(&t).expect("valid");
    let ctx = RunContext {
        streams: RngStreams::new(5, 0, 0),
        point: 0,
        replication: 0,
    };
    TailSampling.run(&t, &ctx).unwrap().metrics
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
