//! Unit tests of the analysis: intervals by metric kind, bounds, matches.
use super::*;
use crate::expectation::Tolerance;
use sims::simulation::{Better, Counted};

fn est(lo: f64, hi: f64) -> MetricEstimate {
    MetricEstimate {
        mean: (lo + hi) / 2.0,
        ci95: [lo, hi],
        std: 1.0,
        n: 10,
        unit: "s".into(),
    }
}

#[test]
fn three_way_verdicts() {
    let e = Expectation::Approx {
        value: 10.0,
        tolerance: Tolerance {
            rel: Some(0.1),
            abs: None,
        },
    };
    let v = |m: Option<&MetricEstimate>| verdict(&e, m).verdict;
    assert_eq!(v(Some(&est(9.5, 10.5))), Verdict::Holds);
    assert_eq!(v(Some(&est(11.5, 12.0))), Verdict::Fails);
    assert_eq!(v(Some(&est(7.0, 8.0))), Verdict::Fails);
    assert_eq!(v(Some(&est(10.5, 11.5))), Verdict::Inconclusive);
    assert_eq!(v(None), Verdict::Inconclusive);
    let lt = Expectation::Below(0.2);
    assert_eq!(verdict(&lt, Some(&est(0.1, 0.15))).verdict, Verdict::Holds);
    assert_eq!(verdict(&lt, Some(&est(0.25, 0.3))).verdict, Verdict::Fails);
}

#[test]
fn a_bound_refutes_one_side_and_confirms_only_its_own() {
    let lower = Context {
        bound: Some(Bound::Lower),
        ..Context::default()
    };
    let j = |e: &Expectation, m| judge_estimate(e, Some(&m), &lower).verdict;
    // p99 inflation < 5%: a lower bound under 5% cannot confirm it...
    assert_eq!(
        j(&Expectation::Below(5.0), est(1.0, 2.0)),
        Verdict::Inconclusive
    );
    // ...and one above 5% refutes it.
    assert_eq!(j(&Expectation::Below(5.0), est(6.0, 8.0)), Verdict::Fails);
    // "more than 5%": a lower bound above 5% confirms it.
    assert_eq!(j(&Expectation::Above(5.0), est(6.0, 8.0)), Verdict::Holds);
    let upper = Context {
        bound: Some(Bound::Upper),
        ..Context::default()
    };
    let j = |e: &Expectation, m| judge_estimate(e, Some(&m), &upper).verdict;
    assert_eq!(j(&Expectation::Below(5.0), est(1.0, 2.0)), Verdict::Holds);
    assert_eq!(j(&Expectation::Above(5.0), est(1.0, 2.0)), Verdict::Fails);
    assert_eq!(
        j(&Expectation::Above(0.5), est(1.0, 2.0)),
        Verdict::Inconclusive
    );
}

#[test]
fn identical_values_in_few_replications_are_not_certainty() {
    let m = MetricEstimate {
        mean: 1.0,
        ci95: [1.0, 1.0],
        std: 0.0,
        n: 3,
        unit: String::new(),
    };
    let e = Expectation::Above(0.5);
    assert_eq!(verdict(&e, Some(&m)).verdict, Verdict::Inconclusive);
    let exact = MetricDef::new("k", "x", "an exact value", Better::Neither).exact();
    let cx = Context {
        def: Some(&exact),
        ..Context::default()
    };
    assert_eq!(judge_estimate(&e, Some(&m), &cx).verdict, Verdict::Holds);
}

#[test]
fn a_match_is_judged_on_both_intervals_and_never_on_one_measurement() {
    let model = est(9.5, 10.5);
    assert_eq!(
        judge_match(&model, &est(9.8, 10.2), 1.0, None).verdict,
        Verdict::Holds
    );
    assert_eq!(
        judge_match(&model, &est(12.0, 13.0), 1.0, None).verdict,
        Verdict::Fails
    );
    assert_eq!(
        judge_match(&model, &est(10.0, 12.0), 1.0, None).verdict,
        Verdict::Inconclusive
    );
    let once = MetricEstimate {
        mean: 10.0,
        ci95: [10.0, 10.0],
        std: 0.0,
        n: 1,
        unit: String::new(),
    };
    assert_eq!(
        judge_match(&model, &once, 5.0, None).verdict,
        Verdict::Inconclusive
    );
    // A lower bound well short of the measurement cannot miss it, only one above it can.
    let low = Some(Bound::Lower);
    let far = est(20.0, 21.0);
    assert_eq!(
        judge_match(&model, &far, 1.0, low).verdict,
        Verdict::Inconclusive
    );
    assert_eq!(
        judge_match(&model, &est(9.8, 10.2), 1.0, low).verdict,
        Verdict::Inconclusive
    );
    assert_eq!(judge_match(&far, &model, 1.0, low).verdict, Verdict::Fails);
    assert_eq!(
        judge_match(&model, &far, 1.0, Some(Bound::Upper)).verdict,
        Verdict::Fails
    );
}

#[test]
fn intervals_stay_in_their_metrics_range() {
    let frac = MetricDef::new("f", "fraction", "a share", Better::Neither).fraction();
    let e = estimate(
        Some(&frac),
        &Samples {
            values: vec![0.99, 1.0, 1.0],
            counts: Vec::new(),
        },
    );
    assert!(e.ci95[1] <= 1.0 && e.ci95[0] >= 0.0, "{e:?}");
    // Every error kept in two replications: pooled counts, never [1, 1].
    let prop = MetricDef::new("p", "fraction", "kept", Better::Higher).proportion();
    let all = Samples {
        values: vec![1.0, 1.0],
        counts: vec![
            Counted {
                events: 40,
                exposure: 40.0,
            },
            Counted {
                events: 60,
                exposure: 60.0,
            },
        ],
    };
    let e = estimate(Some(&prop), &all);
    assert_eq!(e.mean, 1.0);
    assert!(
        e.ci95[0] < 0.97 && e.ci95[0] > 0.95 && e.ci95[1] == 1.0,
        "{e:?}"
    );
    // No events in 3 replications of a count: at most about 3.7 / 3 per replication.
    let count = MetricDef::new("c", "events", "events", Better::Lower).count();
    let none = Samples {
        values: vec![0.0; 3],
        counts: vec![
            Counted {
                events: 0,
                exposure: 1.0,
            };
            3
        ],
    };
    let e = estimate(Some(&count), &none);
    assert!(
        e.ci95[0] == 0.0 && (e.ci95[1] - 3.689 / 3.0).abs() < 1e-3,
        "{e:?}"
    );
}
