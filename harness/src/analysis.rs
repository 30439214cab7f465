//! From replication values to estimates, and from estimates to a claim's verdict at one
//! point: the interval a metric's kind calls for, the bound rule, repeated measurements, and
//! the cases that can never be more than inconclusive.

use std::collections::BTreeMap;

use sims::simulation::{Bound, MetricDef, MetricKind};
use sims::stats::{Estimate, poisson_interval, wilson_interval};

use crate::expectation::{Expectation, MetricSource};
use crate::format::{fmt_interval, fmt_qty};
use crate::runner::Samples;
use crate::summary::{ClaimResult, Expected, MetricEstimate, PointResult, RealResult, Verdict};

/// Replications below which identical values are not taken as certainty.
const ZERO_SPREAD_TRUSTED_FROM: u32 = 5;

/// Estimates one metric from its replications. The interval follows the metric's kind and
/// never leaves its range: Student t for an unbounded value, cut to the range for a bounded
/// one; for a proportion (rate, count) the pooled counts' Wilson (Poisson-exact) interval
/// joined with the spread between replications.
pub fn estimate(def: Option<&MetricDef>, samples: &Samples) -> MetricEstimate {
    let e = Estimate::from_samples(&samples.values);
    let unit = def.map(|d| d.unit.to_string()).unwrap_or_default();
    let (lo, hi) = def.map_or((f64::NEG_INFINITY, f64::INFINITY), |d| d.range());
    let cut = |(a, b): (f64, f64)| (a.max(lo), b.min(hi));
    let t = cut(e.ci95);
    let mut mean = e.mean;
    let mut ci = t;
    let proportion = def.is_some_and(|d| d.kind == MetricKind::Proportion);
    let pooled = |per: f64| -> Option<(f64, (f64, f64))> {
        if samples.counts.is_empty() || samples.counts.len() != samples.values.len() {
            return None;
        }
        let events: u64 = samples.counts.iter().map(|c| c.events).sum();
        let exposure: f64 = samples.counts.iter().map(|c| c.exposure).sum();
        if exposure <= 0.0 {
            return None;
        }
        let (a, b) = if proportion {
            wilson_interval(events, exposure.round() as u64)
        } else {
            let (a, b) = poisson_interval(events);
            (a / exposure, b / exposure)
        };
        Some((per * events as f64 / exposure, (per * a, per * b)))
    };
    let per = match def.map(|d| d.kind) {
        Some(MetricKind::Proportion) | Some(MetricKind::Count) => Some(1.0),
        Some(MetricKind::Rate { per }) => Some(per),
        _ => None,
    };
    if let Some((m, (a, b))) = per.and_then(pooled) {
        mean = m;
        // The spread between replications counts too when events cluster.
        ci = if e.n >= 2 {
            (a.min(t.0), b.max(t.1))
        } else {
            (a, b)
        };
        ci = cut(ci);
    }
    MetricEstimate {
        mean,
        ci95: [ci.0, ci.1],
        std: e.std,
        n: e.n,
        unit,
    }
}

/// Estimates every metric of one point.
pub fn estimates(
    samples: &BTreeMap<String, Samples>,
    def_of: impl Fn(&str) -> Option<&'static MetricDef>,
) -> BTreeMap<String, MetricEstimate> {
    samples
        .iter()
        .map(|(k, s)| (k.clone(), estimate(def_of(k), s)))
        .collect()
}

/// A verdict with its reason in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// holds, fails, inconclusive or not_run.
    pub verdict: Verdict,
    /// Why: the interval against the range, or what is missing.
    pub reason: String,
}

impl Assessment {
    fn new(verdict: Verdict, reason: impl Into<String>) -> Assessment {
        Assessment {
            verdict,
            reason: reason.into(),
        }
    }
}

/// One claim judged at one point.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The expectation as judged, in its wire form (a `matches` carries the measured value as
    /// `approx`).
    pub expected: Expected,
    /// The estimate judged, absent when there is none.
    pub measured: Option<MetricEstimate>,
    /// The verdict and its reason.
    pub assessment: Assessment,
}

/// What, besides the expectation and the estimate, a verdict takes into account.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// The metric's definition (its range, whether it is exact).
    pub def: Option<&'a MetricDef>,
    /// The model bounds the metric here.
    pub bound: Option<Bound>,
    /// `--quick` changed these parameters at the point: the preview asks another question.
    pub preview: &'a [String],
}

/// The verdict for an estimate against an expectation: holds when the 95% CI lies inside the
/// accepted range, fails when wholly outside, inconclusive otherwise. A bound can only refute
/// on its own side (a lower bound above the range) or confirm a one-sided claim in its
/// direction; a single replication, or identical values in a few, is never more than
/// inconclusive.
pub fn verdict(expected: &Expectation, measured: Option<&MetricEstimate>) -> Assessment {
    judge_estimate(expected, measured, &Context::default())
}

fn judge_estimate(
    expected: &Expectation,
    measured: Option<&MetricEstimate>,
    cx: &Context<'_>,
) -> Assessment {
    let Some(m) = measured else {
        return Assessment::new(
            Verdict::Inconclusive,
            "the model did not produce this metric at this point",
        );
    };
    let (lo, hi) = expected.range();
    let [clo, chi] = m.ci95;
    let unit = m.unit.as_str();
    let ci = format!("95% CI {}", fmt_interval(clo, chi, unit));
    let range = format!("the range {}", fmt_interval(lo, hi, unit));
    if m.n < 2 && clo == chi {
        // A single replication has no interval: judge the point value but say so.
        let inside = lo <= m.mean && m.mean <= hi;
        return Assessment::new(
            Verdict::Inconclusive,
            format!(
                "one replication, no confidence interval (value {} {} {range})",
                fmt_qty(m.mean, unit),
                if inside { "inside" } else { "outside" }
            ),
        );
    }
    let exact = cx.def.is_some_and(|d| d.exact);
    if m.std == 0.0 && clo == chi && !exact && m.n < ZERO_SPREAD_TRUSTED_FROM {
        return Assessment::new(
            Verdict::Inconclusive,
            format!(
                "identical in all {} replications ({}): too few to call that certain",
                m.n,
                fmt_qty(m.mean, unit)
            ),
        );
    }
    let inside = lo <= clo && chi <= hi;
    let below = chi < lo;
    let above = clo > hi;
    match cx.bound.unwrap_or(Bound::Estimate) {
        Bound::Estimate => {
            if inside {
                Assessment::new(Verdict::Holds, format!("{ci} inside {range}"))
            } else if below || above {
                let side = if below { "below" } else { "above" };
                Assessment::new(Verdict::Fails, format!("{ci} wholly {side} {range}"))
            } else {
                Assessment::new(Verdict::Inconclusive, format!("{ci} overlaps {range}"))
            }
        }
        Bound::Lower => {
            // The real value is at least the model's.
            if above {
                Assessment::new(
                    Verdict::Fails,
                    format!("a lower bound: {ci} already above {range}"),
                )
            } else if hi == f64::INFINITY && lo <= clo {
                Assessment::new(
                    Verdict::Holds,
                    format!(
                        "a lower bound: {ci} already at or above {}",
                        fmt_qty(lo, unit)
                    ),
                )
            } else {
                Assessment::new(
                    Verdict::Inconclusive,
                    format!(
                        "a lower bound ({ci}) cannot confirm {range}: the real value may be higher"
                    ),
                )
            }
        }
        Bound::Upper => {
            if below {
                Assessment::new(
                    Verdict::Fails,
                    format!("an upper bound: {ci} already below {range}"),
                )
            } else if lo == f64::NEG_INFINITY && chi <= hi {
                Assessment::new(
                    Verdict::Holds,
                    format!(
                        "an upper bound: {ci} already at or below {}",
                        fmt_qty(hi, unit)
                    ),
                )
            } else {
                Assessment::new(
                    Verdict::Inconclusive,
                    format!(
                        "an upper bound ({ci}) cannot confirm {range}: the real value may be lower"
                    ),
                )
            }
        }
    }
}

/// The model's interval against a repeated measurement's: holds when the difference's
/// interval lies within the tolerance, fails when wholly beyond it, inconclusive otherwise;
/// a measurement made once can never be more than inconclusive. A model that bounds the metric
/// can only miss on its own side (a lower bound already above the measurement's tolerance).
fn judge_match(
    model: &MetricEstimate,
    real: &MetricEstimate,
    half_width: f64,
    bound: Option<Bound>,
) -> Assessment {
    let [mlo, mhi] = model.ci95;
    let [rlo, rhi] = real.ci95;
    let (dlo, dhi) = (mlo - rhi, mhi - rlo);
    let unit = model.unit.as_str();
    let diff = format!(
        "model {} vs measured {}: difference in {} against ±{}",
        fmt_interval(mlo, mhi, unit),
        fmt_interval(rlo, rhi, unit),
        fmt_interval(dlo, dhi, unit),
        fmt_qty(half_width, unit)
    );
    if real.n < 2 && rlo == rhi {
        return Assessment::new(
            Verdict::Inconclusive,
            format!("measured once, no interval to match: {diff}"),
        );
    }
    match bound.unwrap_or(Bound::Estimate) {
        Bound::Lower if dlo > half_width => Assessment::new(Verdict::Fails, diff),
        Bound::Upper if dhi < -half_width => Assessment::new(Verdict::Fails, diff),
        Bound::Lower => Assessment::new(
            Verdict::Inconclusive,
            format!("a lower bound cannot be matched, only shown too high: {diff}"),
        ),
        Bound::Upper => Assessment::new(
            Verdict::Inconclusive,
            format!("an upper bound cannot be matched, only shown too low: {diff}"),
        ),
        Bound::Estimate if -half_width <= dlo && dhi <= half_width => {
            Assessment::new(Verdict::Holds, diff)
        }
        Bound::Estimate if dlo > half_width || dhi < -half_width => {
            Assessment::new(Verdict::Fails, diff)
        }
        Bound::Estimate => Assessment::new(Verdict::Inconclusive, diff),
    }
}

/// Judges one claim at one point: a model metric, a real kernel's measurement, or a model
/// metric that must match a measurement (`matches`).
pub fn judge(
    expected: &Expectation,
    source: &MetricSource,
    point: &PointResult,
    real: Option<&RealResult>,
    cx: &Context<'_>,
) -> Judgement {
    let model = |name: &str| point.metrics.get(name).cloned();
    if !cx.preview.is_empty() && !source.is_real() {
        return Judgement {
            expected: expected.to_wire(),
            measured: match source {
                MetricSource::Model(n) => model(n),
                MetricSource::Real(_) => None,
            },
            assessment: Assessment::new(
                Verdict::Inconclusive,
                format!(
                    "preview at other parameters: --quick sets {}",
                    cx.preview.join(", ")
                ),
            ),
        };
    }
    if let Expectation::Matches {
        measurement,
        tolerance,
    } = expected
    {
        let measured = match source {
            MetricSource::Model(name) => model(name),
            MetricSource::Real(_) => None,
        };
        return match real_estimate(real, measurement) {
            Err(why) => Judgement {
                expected: expected.to_wire(),
                measured,
                assessment: Assessment::new(Verdict::NotRun, why),
            },
            Ok(e) => {
                // The wire form keeps the measurement's name beside the value it resolved to.
                let mut wire = Expectation::Approx {
                    value: e.mean,
                    tolerance: *tolerance,
                }
                .to_wire();
                wire.matches = expected.to_wire().matches;
                let assessment = match &measured {
                    Some(m) => judge_match(m, &e, tolerance.half_width(e.mean), cx.bound),
                    None => Assessment::new(
                        Verdict::Inconclusive,
                        "the model did not produce this metric at this point",
                    ),
                };
                Judgement {
                    expected: wire,
                    measured,
                    assessment,
                }
            }
        };
    }
    let wire = expected.to_wire();
    match source {
        MetricSource::Real(name) => match real_estimate(real, name) {
            Err(why) => Judgement {
                expected: wire,
                measured: None,
                assessment: Assessment::new(Verdict::NotRun, why),
            },
            Ok(e) if e.n < 2 && e.ci95[0] == e.ci95[1] => {
                let exact = real.is_some_and(|r| r.exact.iter().any(|x| x == name));
                let (lo, hi) = expected.range();
                let inside = expected.accepts(e.mean);
                let verdict = match (exact, inside) {
                    (true, true) => Verdict::Holds,
                    (true, false) => Verdict::Fails,
                    (false, _) => Verdict::Inconclusive,
                };
                let reason = if exact {
                    // A fact the kernel checked (a type, a count the database keeps), not a noisy
                    // timing: one look is the answer.
                    format!(
                        "checked: {} {} {}",
                        fmt_qty(e.mean, &e.unit),
                        if inside { "inside" } else { "outside" },
                        fmt_interval(lo, hi, &e.unit)
                    )
                } else {
                    format!(
                        "measured once, no interval: {} {} {} (repeat the trials)",
                        fmt_qty(e.mean, &e.unit),
                        if inside { "inside" } else { "outside" },
                        fmt_interval(lo, hi, &e.unit)
                    )
                };
                Judgement {
                    expected: wire,
                    measured: Some(e),
                    assessment: Assessment::new(verdict, reason),
                }
            }
            Ok(e) => Judgement {
                assessment: judge_estimate(expected, Some(&e), &Context::default()),
                expected: wire,
                measured: Some(e),
            },
        },
        MetricSource::Model(name) => {
            let measured = point.metrics.get(name);
            Judgement {
                assessment: judge_estimate(expected, measured, cx),
                expected: wire,
                measured: measured.cloned(),
            }
        }
    }
}

/// A real kernel's measurement as an estimate, or why there is none.
fn real_estimate(real: Option<&RealResult>, name: &str) -> Result<MetricEstimate, String> {
    let Some(r) = real else {
        return Err("no real kernel ran for this scenario".into());
    };
    if r.status != "ok" {
        return Err(format!("real kernel {} not run: {}", r.kernel, r.reason));
    }
    let Some(&v) = r.metrics.get(name) else {
        return Err(match r.unmeasured.get(name) {
            Some(why) => format!("real kernel {} did not measure `{name}`: {why}", r.kernel),
            None => format!("real kernel {} did not measure `{name}`", r.kernel),
        });
    };
    let n = r.n.get(name).copied().unwrap_or(1);
    let ci95 = r.ci95.get(name).copied().unwrap_or([v, v]);
    Ok(MetricEstimate {
        mean: v,
        ci95,
        std: 0.0,
        n,
        unit: r.units.get(name).cloned().unwrap_or_default(),
    })
}

/// Counts of each verdict, in the order holds, fails, inconclusive, not_run, depends.
pub fn tally(verdicts: impl IntoIterator<Item = Verdict>) -> [usize; 5] {
    let mut t = [0; 5];
    for v in verdicts {
        t[match v {
            Verdict::Holds => 0,
            Verdict::Fails => 1,
            Verdict::Inconclusive => 2,
            Verdict::NotRun => 3,
            Verdict::Depends => 4,
        }] += 1;
    }
    t
}

/// The verdicts of claim rows (for tallies of rows).
pub fn row_verdicts(claims: &[ClaimResult]) -> impl Iterator<Item = Verdict> + '_ {
    claims.iter().map(|c| c.verdict)
}

#[cfg(test)]
mod tests;
