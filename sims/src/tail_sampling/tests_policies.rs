//! Upstream's unit-test cases for the policies added after the first version of the room
//! (rate_limiting, bytes_limiting, span_count, trace_state, ottl_condition, composite,
//! trace_flags), the processor's own test configuration, and config validation.

use super::config::parse;
use super::evaluate;
use super::limits::PolicyState;
use super::policy::{Decision, Semantics, TraceView};
use super::tests::{ID, LEGACY, PLAIN, decision, one, policies, span, trace};
use super::trace::Trace;

const BUCKET: Semantics = Semantics {
    rate_limit_token_bucket: true,
    ..PLAIN
};

/// Evaluates the first policy of `cfg` on each trace in turn with one shared state, at the
/// given times (ns).
fn run_policy(yaml: &str, sem: &Semantics, traces: &[(&Trace, i64)]) -> Vec<Decision> {
    let cfg = policies(yaml);
    let mut st = PolicyState::new(cfg.slots);
    traces
        .iter()
        .map(|(t, now)| {
            st.now_ns = *now;
            cfg.policies[0].evaluate(*t, sem, &mut st)
        })
        .collect()
}

/// A trace of `n` spans without attributes.
fn spans(n: usize) -> Trace {
    one(&vec![span(0, 1, "UNSET", ""); n])
}

use Decision::{NotSampled as N, Sampled as S};

#[test]
fn rate_limiting_per_second_counter_before_the_token_bucket() {
    // TestRateLimiter: 3 spans per second; 10 → no, 3 → no (not below 3), 2 → yes, 0 → yes.
    let p = "  - {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 3}}";
    let (t10, t3, t2, t0) = (spans(10), spans(3), spans(2), one(&[]));
    let got = run_policy(p, &LEGACY, &[(&t10, 0), (&t3, 0), (&t2, 0), (&t0, 0)]);
    assert_eq!(got, [N, N, S, S]);
    // The count restarts with the next Unix second.
    let got = run_policy(
        p,
        &LEGACY,
        &[(&t2, 0), (&t2, 999_999_999), (&t2, 1_000_000_000)],
    );
    assert_eq!(got, [S, N, S]);
}

#[test]
fn rate_limiting_token_bucket_bursts_to_twice_the_rate() {
    // From PR #48226: a trace larger than spans_per_second fits the burst (2× by default).
    let p = "  - {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 3}}";
    let (t6, t1) = (spans(6), spans(1));
    let s = 1_000_000_000;
    let got = run_policy(
        p,
        &BUCKET,
        &[(&t6, s), (&t1, s), (&t1, s + s / 3), (&t1, s + s / 3)],
    );
    assert_eq!(got, [S, N, S, N]);
    // burst_capacity = spans_per_second restores "never more than the rate at once".
    let p = "  - {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 3, burst_capacity: 3}}";
    assert_eq!(run_policy(p, &BUCKET, &[(&t6, s)]), [N]);
}

#[test]
fn bytes_limiting_token_bucket_cases() {
    // TestBytesLimitingTokenBucket, with the trace's OTLP size as the unit.
    let t = spans(1);
    let size = t.size_bytes();
    let case = |bps: i64, burst: i64, n: usize| {
        let p = format!(
            "  - {{name: b, type: bytes_limiting, bytes_limiting: {{bytes_per_second: {bps}, burst_capacity: {burst}}}}}"
        );
        let list: Vec<(&Trace, i64)> = (0..n).map(|_| (&t, 7_000_000_000)).collect();
        run_policy(&p, &PLAIN, &list)
    };
    assert_eq!(case(size / 2, size * 2, 1), [S], "under the burst");
    assert_eq!(case(size / 2, size, 1), [S], "at the burst");
    assert_eq!(case(size, size - 1, 1), [N], "over the burst");
    assert_eq!(case(size, size * 3, 2), [S, S], "two within the burst");
    assert_eq!(case(size / 2, size + 1, 2), [S, N], "the second exceeds it");
    // TestBytesLimitingDefaultConstructor: burst 2× the rate.
    let p = format!(
        "  - {{name: b, type: bytes_limiting, bytes_limiting: {{bytes_per_second: {size}}}}}"
    );
    assert_eq!(
        run_policy(&p, &PLAIN, &[(&t, 0), (&t, 0), (&t, 0)]),
        [S, S, N]
    );
    // TestBytesLimitingTokenRefill: 2 traces/s, burst 1; after 0.6 s one more fits.
    let p = format!(
        "  - {{name: b, type: bytes_limiting, bytes_limiting: {{bytes_per_second: {}, burst_capacity: {size}}}}}",
        size * 2
    );
    assert_eq!(
        run_policy(&p, &PLAIN, &[(&t, 0), (&t, 0), (&t, 600_000_000)]),
        [S, N, S]
    );
}

#[test]
fn span_count_cases() {
    let case = |min: i32, max: i32, n: usize| {
        let p = format!(
            "  - {{name: c, type: span_count, span_count: {{min_spans: {min}, max_spans: {max}}}}}"
        );
        run_policy(&p, &PLAIN, &[(&spans(n), 0)])[0]
    };
    // TestEvaluate_OnlyMinSpans (min 3), counts summed over batches.
    for (n, want) in [(1, N), (3, S), (4, S), (2, N), (4, S), (6, S)] {
        assert_eq!(case(3, 0, n), want, "min 3, {n} spans");
    }
    // TestEvaluate_OnlyMaxSpans (max 20).
    for (n, want) in [(21, N), (20, S), (19, S), (21, N), (20, S), (15, S)] {
        assert_eq!(case(0, 20, n), want, "max 20, {n} spans");
    }
    // TestEvaluate_RangeOfSpans (3..=20).
    for (n, want) in [(1, N), (21, N), (4, S), (2, N), (3, S), (20, S)] {
        assert_eq!(case(3, 20, n), want, "3..=20, {n} spans");
    }
}

fn with_state(ts: &str) -> Trace {
    trace(&format!(
        "{{\"trace_id_hex\": \"{ID}\", \"spans\": [{{\"start_ns\": 0, \"end_ns\": 1, \"trace_state\": \"{ts}\"}}]}}"
    ))
}

#[test]
fn trace_state_cases() {
    // TestTraceStateFilter.
    let case = |ts: &str, values: &str| {
        let p = format!(
            "  - {{name: t, type: trace_state, trace_state: {{key: example, values: [{values}]}}}}"
        );
        run_policy(&p, &PLAIN, &[(&with_state(ts), 0)])[0]
    };
    assert_eq!(case("non_matching=value", "value"), N);
    assert_eq!(case("example=non_matching", "value"), N);
    assert_eq!(case("example=value", "value"), S);
    assert_eq!(case("example=value", ""), N);
    assert_eq!(case("example=non_matching,non_matching=value", "value"), N);
    assert_eq!(case("example=value,non_matching=value", "value"), S);
    assert_eq!(case("example=non_matching", "value1, value2"), N);
    assert_eq!(case("example=value1", "value1, value2"), S);
}

fn ottl_trace(span_attrs: &str, event_attrs: &str) -> Trace {
    trace(&format!(
        "{{\"trace_id_hex\": \"{ID}\", \"spans\": [{{\"start_ns\": 0, \"end_ns\": 1, \"attributes\": {{{span_attrs}}}, \"events\": [{{\"name\": \"test event\", \"attributes\": {{{event_attrs}}}}}]}}]}}"
    ))
}

fn ottl(span: &[&str], event: &[&str]) -> String {
    let q = |c: &[&str]| {
        c.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "  - {{name: o, type: ottl_condition, ottl_condition: {{error_mode: ignore, span: [{}], spanevent: [{}]}}}}",
        q(span),
        q(event)
    )
}

#[test]
fn ottl_condition_cases() {
    // TestEvaluate_OTTL.
    let e = parse(&format!("policies:\n{}", ottl(&[], &[]))).expect_err("no conditions");
    assert!(e.message.contains("at least one OTTL condition"), "{e}");
    let one_span = ottl_trace("\"attr_k_1\": \"attr_v_1\"", "");
    let other = ottl_trace("\"attr_k_1\": \"attr_v_2\"", "");
    let run = |p: String, t: &Trace| run_policy(&p, &PLAIN, &[(t, 0)])[0];
    assert_eq!(
        run(
            ottl(&[r#"attributes["attr_k_1"] == "attr_v_1""#], &[]),
            &one_span
        ),
        S
    );
    assert_eq!(
        run(
            ottl(&[r#"attributes["attr_k_1"] != "attr_v_1""#], &[]),
            &one_span
        ),
        N
    );
    assert_eq!(
        run(
            ottl(&[r#"attributes["attr_k_1"] != "attr_v_1""#], &[]),
            &other
        ),
        S
    );
    let ev = ottl_trace("", "\"event_attr_k_1\": \"event_attr_v_1\"");
    assert_eq!(
        run(
            ottl(
                &[],
                &[r#"attributes["event_attr_k_1"] == "event_attr_v_1""#]
            ),
            &ev
        ),
        S
    );
    assert_eq!(
        run(ottl(&[], &[r#"name != "incorrect event name""#]), &ev),
        S
    );
    let none = one(&[]);
    assert_eq!(
        run(
            ottl(
                &[r#"attributes["attr_k_1"] == "attr_v_1""#],
                &[r#"attributes["event_attr_k_1"] == "event_attr_v_1""#]
            ),
            &none
        ),
        N
    );
    // TestOTTLDefaultErrorMode uses Substring, outside the subset: refused where it stands.
    let e = parse(&format!(
        "policies:\n{}",
        ottl(&[r#"Substring(attributes["value"], 0, 4) == "keep""#], &[])
    ))
    .expect_err("Substring is outside the subset");
    assert_eq!(e.path, "policies[0].ottl_condition.span[0]");
    assert!(
        e.message.contains("column 1") && e.message.contains("Substring"),
        "{e}"
    );
}

/// Runs the composite policy of `yaml` (total and per-sub budgets) over `traces`.
fn composite(total: i64, subs: &str, alloc: &str) -> String {
    format!(
        "  - {{name: c, type: composite, composite: {{max_total_spans_per_second: {total}, composite_sub_policy: [{subs}], rate_allocation: [{alloc}]}}}}"
    )
}

const N1: &str = "{name: n1, type: numeric_attribute, numeric_attribute: {key: tag, min_value: 0, max_value: 100}}";
const N2: &str = "{name: n2, type: numeric_attribute, numeric_attribute: {key: tag, min_value: 200, max_value: 300}}";
const ALWAYS: &str = "{name: n2, type: always_sample}";

fn tag(v: i64) -> Trace {
    one(&[span(0, 1, "UNSET", &format!("\"tag\": {v}"))])
}

#[test]
fn composite_cases() {
    let t = spans(1);
    let both = |pct: i64| format!("{{policy: n1, percent: {pct}}}, {{policy: n2, percent: {pct}}}");
    // TestCompositeEvaluatorNotSampled / Sampled.
    let p = composite(1000, &format!("{N1}, {N2}"), &both(10));
    assert_eq!(run_policy(&p, &PLAIN, &[(&t, 0)]), [N]);
    let p = composite(1000, &format!("{N1}, {ALWAYS}"), &both(10));
    assert_eq!(run_policy(&p, &PLAIN, &[(&t, 0)]), [S]);
    // TestCompositeEvaluator_OverflowAlwaysSampled: total 3, one span per second each.
    let p = composite(3, &format!("{N1}, {ALWAYS}"), &both(34));
    let (a, b, c) = (tag(10), tag(11), tag(1001));
    assert_eq!(
        run_policy(&p, &PLAIN, &[(&a, 0), (&b, 0), (&c, 0)]),
        [S, N, S]
    );
    // TestCompositeEvaluatorSampled_AlwaysSampled: budgets above the total.
    let p = composite(10, &format!("{N1}, {ALWAYS}"), &both(200));
    let ten: Vec<(&Trace, i64)> = (0..10).map(|_| (&t, 0)).collect();
    assert_eq!(run_policy(&p, &PLAIN, &ten), [S; 10]);
    // TestCompositeEvaluatorInverseSampled_AlwaysSampled, in both invert modes.
    let inv = "{name: n1, type: string_attribute, string_attribute: {key: tag, values: [foo]}}, {name: n2, type: string_attribute, string_attribute: {key: tag, values: [foo], invert_match: true}}";
    let p = composite(10, inv, &both(200));
    assert_eq!(run_policy(&p, &LEGACY, &ten), [S; 10]);
    assert_eq!(run_policy(&p, &PLAIN, &ten), [S; 10]);
    // TestCompositeEvaluatorThrottling: 10 per second, then none, then 10 the next second.
    let p = composite(
        10,
        "{name: n1, type: always_sample}",
        "{policy: n1, percent: 100}",
    );
    let mut seq: Vec<(&Trace, i64)> = (0..20).map(|_| (&t, 0)).collect();
    seq.extend((0..10).map(|_| (&t, 1_000_000_000)));
    let got = run_policy(&p, &PLAIN, &seq);
    assert_eq!(got[..10], [S; 10]);
    assert_eq!(got[10..20], [N; 10]);
    assert_eq!(got[20..], [S; 10]);
    // TestCompositeEvaluator2SubpolicyThrottling: half each.
    let p = composite(10, &format!("{N1}, {ALWAYS}"), &both(50));
    let mut seq: Vec<(&Trace, i64)> = (0..10).map(|_| (&t, 0)).collect();
    seq.extend((0..25).map(|_| (&t, 1_000_000_000)));
    seq.extend((0..5).map(|_| (&t, 2_000_000_000)));
    let got = run_policy(&p, &PLAIN, &seq);
    assert_eq!(got[..5], [S; 5]);
    assert_eq!(got[5..10], [N; 5]);
    assert_eq!(got[10..15], [S; 5]);
    assert_eq!(got[15..35], [N; 20]);
    assert_eq!(got[35..], [S; 5]);
}

#[test]
fn composite_sub_policy_missing_from_rate_allocation() {
    // Before PR #49857 it gets 0 spans per second; after it, the equal share.
    let p = composite(
        1000,
        &format!("{N1}, {ALWAYS}"),
        "{policy: n1, percent: 25}",
    );
    let t = spans(1);
    assert_eq!(run_policy(&p, &PLAIN, &[(&t, 0)]), [N]);
    let fixed = Semantics {
        composite_equal_share: true,
        ..PLAIN
    };
    assert_eq!(run_policy(&p, &fixed, &[(&t, 0)]), [S]);
}

#[test]
fn trace_flags_sample_on_the_sampled_bit() {
    let p = "  - {name: f, type: trace_flags}";
    let flagged = trace(&format!(
        "{{\"trace_id_hex\": \"{ID}\", \"spans\": [{{\"start_ns\": 0, \"end_ns\": 1}}, {{\"start_ns\": 0, \"end_ns\": 1, \"flags\": 257}}]}}"
    ));
    assert_eq!(
        run_policy(p, &PLAIN, &[(&flagged, 0), (&spans(2), 0)]),
        [S, N]
    );
}

#[test]
fn empty_string_attribute_values_match_nothing() {
    let p =
        policies("  - {name: s, type: string_attribute, string_attribute: {key: k, values: []}}");
    let inv = policies(
        "  - {name: s, type: string_attribute, string_attribute: {key: k, values: [], invert_match: true}}",
    );
    let t = one(&[span(0, 1, "UNSET", "\"k\": \"v\"")]);
    assert_eq!(decision(&p, &t, &PLAIN), "not_sampled");
    assert_eq!(decision(&inv, &t, &PLAIN), "sampled");
}

#[test]
fn unknown_settings_list_the_known_ones() {
    let e =
        parse("policies:\n  - {name: r, type: rate_limiting, rate_limiting: {spans_per_sec: 3}}")
            .expect_err("typo");
    assert_eq!(e.path, "policies[0].rate_limiting.spans_per_sec");
    assert!(
        e.message
            .contains("known: spans_per_second, burst_capacity"),
        "{e}"
    );
    let e = parse("policy: []\npolicies: []").expect_err("typo");
    assert!(e.message.contains("known: decision_wait"), "{e}");
    let e = parse("policies:\n  - {name: x, type: bogus}").expect_err("unknown type");
    assert!(
        e.message.contains("composite") && e.message.contains("ottl_condition"),
        "{e}"
    );
    let e =
        parse("policies:\n  - {name: a, type: always_sample}\n  - {name: a, type: always_sample}")
            .expect_err("duplicate");
    assert_eq!(e.path, "policies[1].name");
    let e = parse("policies:\n  - {name: c, type: composite, composite: {composite_sub_policy: [{name: d, type: drop}]}}")
        .expect_err("drop inside composite");
    assert_eq!(e.path, "policies[0].composite.composite_sub_policy[0].type");
}

#[test]
fn the_processors_own_test_configurations_load_and_decide() {
    for file in [
        "upstream-tail-sampling-config.yaml",
        "upstream-readme-example.yaml",
    ] {
        let path = format!("{}/../datasets/otel/{file}", env!("CARGO_MANIFEST_DIR"));
        let cfg = parse(&std::fs::read_to_string(&path).unwrap()).expect(file);
        let mut st = PolicyState::new(cfg.slots);
        let t = ottl_trace("\"key1\": 60, \"key2\": \"value1\"", "");
        let mut per = Vec::new();
        for (i, sem) in [LEGACY, PLAIN, Semantics::CURRENT].iter().enumerate() {
            st.now_ns = i as i64 * 1_000_000_000;
            let f = evaluate::decide(&cfg.policies, &t, sem, false, &mut st, Some(&mut per));
            // always_sample is first: sampled whatever the version.
            assert!(f.sampled, "{file}: {f:?}");
            assert!(per.iter().all(Option::is_some), "{file}: every policy ran");
        }
    }
}

#[test]
fn stateful_policies_share_one_state_across_traces() {
    // Two traces in the same second against 3 spans per second: the second is refused.
    let cfg = policies("  - {name: r, type: rate_limiting, rate_limiting: {spans_per_second: 3}}");
    let mut st = PolicyState::new(cfg.slots);
    let t = spans(2);
    let a = evaluate::decide(&cfg.policies, &t, &LEGACY, false, &mut st, None);
    let b = evaluate::decide(&cfg.policies, &t, &LEGACY, false, &mut st, None);
    assert!(a.sampled && !b.sampled);
}
