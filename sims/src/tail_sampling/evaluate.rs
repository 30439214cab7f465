//! Evaluating policies and combining their decisions, as the processor's `makeDecision` does.

use super::limits::PolicyState;
use super::policy::{Decision, InvertMode, Policy, PolicyKind, Semantics, TraceView, fnv1a64};

fn sampled_if(hit: bool) -> Decision {
    if hit {
        Decision::Sampled
    } else {
        Decision::NotSampled
    }
}

impl Policy {
    /// Evaluates this policy on `t`.
    pub(crate) fn evaluate(
        &self,
        t: &dyn TraceView,
        sem: &Semantics,
        st: &mut PolicyState,
    ) -> Decision {
        let inverted = |hit: bool, invert: bool| -> Decision {
            match (invert, sem.invert, hit) {
                (false, _, true) => Decision::Sampled,
                (false, _, false) => Decision::NotSampled,
                (true, InvertMode::Legacy, true) => Decision::InvertNotSampled,
                (true, InvertMode::Legacy, false) => Decision::InvertSampled,
                (true, InvertMode::Plain, true) => Decision::NotSampled,
                (true, InvertMode::Plain, false) => Decision::Sampled,
            }
        };
        match &self.kind {
            PolicyKind::AlwaysSample => Decision::Sampled,
            PolicyKind::StatusCode(codes) => {
                if t.any_status(codes) {
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            PolicyKind::Latency {
                threshold_ms,
                upper_threshold_ms,
            } => {
                // Upstream checks the running window span by span and stops at the first
                // satisfying window (issue #43948: with an upper bound, order matters).
                // Upstream treats a zero min or max time as unset, so a span starting at
                // t = 0 has its start replaced by the next span's.
                let (mut lo, mut hi) = (0u64, 0u64);
                let mut hit = false;
                t.for_each_span(&mut |s, e| {
                    if lo == 0 || s < lo {
                        lo = s;
                    }
                    if hi == 0 || e > hi {
                        hi = e;
                    }
                    let ms = (hi.saturating_sub(lo) / 1_000_000) as i64;
                    hit = if *upper_threshold_ms == 0 {
                        if sem.latency_lower_inclusive {
                            ms >= *threshold_ms
                        } else {
                            ms > *threshold_ms
                        }
                    } else {
                        *threshold_ms < ms && ms <= *upper_threshold_ms
                    };
                    !hit
                });
                if hit {
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            PolicyKind::StringAttribute {
                leaf,
                key,
                values,
                regexes,
                invert,
            } => {
                // Upstream compares `Str()`: non-string values read as "", and on spans an
                // empty string never matches (on resources the matcher still runs on it).
                let hit = t.attr_hit(*leaf, key, &|v, resource| {
                    let s = v.str();
                    if s.is_empty() && !resource {
                        return false;
                    }
                    match regexes {
                        Some(rs) => rs.iter().any(|r| r.is_match(s)),
                        None => values.iter().any(|x| !x.is_empty() && x == s),
                    }
                });
                inverted(hit, *invert)
            }
            PolicyKind::NumericAttribute {
                leaf,
                key,
                min,
                max,
                invert,
            } => {
                // `Int()` coerces: a value of another type reads as 0.
                let hit = t.attr_hit(*leaf, key, &|v, _| {
                    let i = v.int();
                    *min <= i && i <= *max
                });
                inverted(hit, *invert)
            }
            PolicyKind::BooleanAttribute {
                leaf,
                key,
                value,
                invert,
            } => {
                let hit = t.attr_hit(
                    *leaf,
                    key,
                    // `Bool()` coerces: a value of another type reads as false.
                    &|v, _| v.boolean() == *value,
                );
                inverted(hit, *invert)
            }
            PolicyKind::Probabilistic { salt, threshold } => {
                if fnv1a64(salt.as_bytes(), &t.trace_id()) <= *threshold {
                    Decision::Sampled
                } else {
                    Decision::NotSampled
                }
            }
            PolicyKind::And(subs) => {
                // Any NotSampled-like sub-decision makes the whole NotSampled (#33671).
                for p in subs {
                    match p.evaluate(t, sem, st) {
                        Decision::NotSampled | Decision::InvertNotSampled => {
                            return Decision::NotSampled;
                        }
                        _ => {}
                    }
                }
                Decision::Sampled
            }
            // Upstream `not.go` swaps only Sampled and NotSampled; the rest pass through.
            PolicyKind::Not(sub) => match sub.evaluate(t, sem, st) {
                Decision::Sampled => Decision::NotSampled,
                Decision::NotSampled => Decision::Sampled,
                other => other,
            },
            PolicyKind::RateLimiting {
                slot,
                spans_per_second,
                burst,
            } => {
                let n = t.span_count();
                let ok = if sem.rate_limit_token_bucket {
                    let burst = if *burst > 0 {
                        *burst
                    } else {
                        spans_per_second.saturating_mul(2)
                    };
                    st.allow_n(*slot, *spans_per_second as f64, burst, n)
                } else {
                    st.per_second(*slot, *spans_per_second, n)
                };
                sampled_if(ok)
            }
            PolicyKind::BytesLimiting {
                slot,
                bytes_per_second,
                burst,
            } => {
                let burst = if *burst > 0 {
                    *burst
                } else {
                    bytes_per_second.saturating_mul(2)
                };
                sampled_if(st.allow_n(*slot, *bytes_per_second as f64, burst, t.size_bytes()))
            }
            PolicyKind::SpanCount { min, max } => {
                let n = t.span_count();
                // Inclusive bounds; max 0 means no upper bound.
                sampled_if(n >= *min as i64 && (*max == 0 || n <= *max as i64))
            }
            PolicyKind::TraceState { leaf, key, values } => {
                sampled_if(t.trace_state_hit(*leaf, key, &|v| values.iter().any(|x| x == v)))
            }
            PolicyKind::TraceFlags => sampled_if(t.any_sampled_flag()),
            PolicyKind::Ottl { leaf, cond } => sampled_if(t.ottl_hit(*leaf, cond)),
            PolicyKind::Composite(c) => {
                st.composite_second(c.slot, c.subs.len());
                for (i, sub) in c.subs.iter().enumerate() {
                    match sub.policy.evaluate(t, sem, st) {
                        Decision::Sampled | Decision::InvertSampled => {
                            let budget = match sub.listed {
                                Some(b) => b,
                                None if sem.composite_equal_share => sub.equal_share,
                                None => 0,
                            };
                            let ok = st.composite_admit(
                                c.slot,
                                i,
                                budget,
                                c.max_total_spans_per_second,
                                t.span_count(),
                            );
                            // Over budget: NotSampled at once, the later sub-policies unasked.
                            return sampled_if(ok);
                        }
                        _ => {}
                    }
                }
                Decision::NotSampled
            }
            PolicyKind::Drop(subs) => {
                for p in subs {
                    match p.evaluate(t, sem, st) {
                        Decision::NotSampled | Decision::InvertNotSampled => {
                            return Decision::NotSampled;
                        }
                        _ => {}
                    }
                }
                Decision::Dropped
            }
        }
    }
}

/// The processor's final decision with the policies that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Final {
    pub sampled: bool,
    /// `sampled`, `not_sampled` or `dropped`.
    pub decision: &'static str,
    /// The first policy that produced the deciding kind of decision.
    pub policy: Option<String>,
}

/// Evaluates `policies` (drop policies first) and combines them with upstream's precedence:
/// Dropped > InvertNotSampled > Sampled > InvertSampled (only if no NotSampled) > NotSampled.
/// Stateful policies use and update `st`. When `per` is given it receives each top-level
/// policy's decision, in config order (`None`: not evaluated, evaluation stopped early).
pub(super) fn decide(
    policies: &[Policy],
    t: &dyn TraceView,
    sem: &Semantics,
    sample_on_first_match: bool,
    st: &mut PolicyState,
    mut per: Option<&mut Vec<Option<Decision>>>,
) -> Final {
    if let Some(per) = per.as_deref_mut() {
        per.clear();
        per.resize(policies.len(), None);
    }
    let is_drop = |p: &Policy| matches!(p.kind, PolicyKind::Drop(_));
    let ordered = policies
        .iter()
        .enumerate()
        .filter(|(_, p)| is_drop(p))
        .chain(policies.iter().enumerate().filter(|(_, p)| !is_drop(p)));
    let mut first: [Option<&str>; 5] = [None; 5];
    let idx = |d: Decision| match d {
        Decision::Dropped => 0,
        Decision::InvertNotSampled => 1,
        Decision::Sampled => 2,
        Decision::InvertSampled => 3,
        Decision::NotSampled => 4,
    };
    for (i, p) in ordered {
        let d = p.evaluate(t, sem, st);
        if let Some(per) = per.as_deref_mut() {
            per[i] = Some(d);
        }
        let slot = &mut first[idx(d)];
        if slot.is_none() {
            *slot = Some(&p.name);
        }
        if d == Decision::Dropped || (sample_on_first_match && d == Decision::Sampled) {
            break;
        }
    }
    let pick = |decision: &'static str, sampled: bool, who: Option<&str>| Final {
        sampled,
        decision,
        policy: who.map(str::to_string),
    };
    if first[0].is_some() {
        pick("dropped", false, first[0])
    } else if first[1].is_some() {
        pick("not_sampled", false, first[1])
    } else if first[2].is_some() {
        pick("sampled", true, first[2])
    } else if first[3].is_some() && first[4].is_none() {
        pick("sampled", true, first[3])
    } else {
        pick("not_sampled", false, first[4].or(first[1]))
    }
}
