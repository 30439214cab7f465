//! Policy evaluation and the combination rule, as the collector-contrib `tail_sampling`
//! processor does it (see `../shared/research/otel-tail-sampling.md` for the upstream files).
//!
//! Every policy sees a trace through [`TraceView`], so the same code decides a trace read from
//! JSON (`lab tail-sampling decide`) and a synthetic trace of the day-long simulation.

use regex::Regex;

/// A single policy's outcome (upstream `samplingpolicy.Decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Sampled,
    NotSampled,
    /// Legacy invert: no match.
    InvertSampled,
    /// Legacy invert: a match; vetoes everything but `Dropped`.
    InvertNotSampled,
    /// A `drop` policy matched: never exported.
    Dropped,
}

/// What `invert_match` means (collector version dependent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvertMode {
    /// Before v0.144.0: InvertSampled / InvertNotSampled with veto precedence.
    Legacy,
    /// v0.144.0 onward (gate `disableinvertdecisions`): Sampled / NotSampled, OR-ed.
    Plain,
}

/// Span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl AttrValue {
    /// pcommon `Value.Str()`: the string, or "" for any other type.
    pub(crate) fn str(&self) -> &str {
        match self {
            AttrValue::Str(s) => s,
            _ => "",
        }
    }

    /// pcommon `Value.Int()`: the integer, or 0 for any other type.
    pub(crate) fn int(&self) -> i64 {
        match self {
            AttrValue::Int(i) => *i,
            _ => 0,
        }
    }

    /// pcommon `Value.Bool()`: the boolean, or false for any other type.
    pub(crate) fn boolean(&self) -> bool {
        matches!(self, AttrValue::Bool(true))
    }
}

/// How a policy sees a trace: only what has arrived by decision time.
pub(crate) trait TraceView {
    /// The 16 trace-id bytes in wire order.
    fn trace_id(&self) -> [u8; 16];
    /// Whether any resource (first) or span attribute `key` satisfies `hit`, which is told
    /// whether the value is a resource attribute. `leaf` identifies the policy, so views may
    /// memoise per policy.
    fn attr_hit(&self, leaf: usize, key: &str, hit: &dyn Fn(&AttrValue, bool) -> bool) -> bool;
    /// Whether any span has one of `codes`.
    fn any_status(&self, codes: &[StatusCode]) -> bool;
    /// Span (start, end) times in ns, in arrival order.
    fn for_each_span(&self, f: &mut dyn FnMut(u64, u64) -> bool);
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub name: String,
    pub kind: PolicyKind,
}

/// Policy types.
#[derive(Debug, Clone)]
pub(crate) enum PolicyKind {
    AlwaysSample,
    StatusCode(Vec<StatusCode>),
    Latency {
        threshold_ms: i64,
        upper_threshold_ms: i64,
    },
    StringAttribute {
        leaf: usize,
        key: String,
        values: Vec<String>,
        regexes: Option<Vec<Regex>>,
        invert: bool,
    },
    NumericAttribute {
        leaf: usize,
        key: String,
        min: i64,
        max: i64,
        invert: bool,
    },
    BooleanAttribute {
        leaf: usize,
        key: String,
        value: bool,
        invert: bool,
    },
    Probabilistic {
        salt: String,
        threshold: u64,
    },
    And(Vec<Policy>),
    Not(Box<Policy>),
    Drop(Vec<Policy>),
}

/// Version-dependent rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Semantics {
    /// How `invert_match` combines with the other policies' decisions.
    pub invert: InvertMode,
    /// `latency` with only `threshold_ms`: `>=` up to v0.156, `>` from PR #49595.
    pub latency_lower_inclusive: bool,
}

/// FNV-1a 64 over `salt` then the 16 trace-id bytes.
pub(super) fn fnv1a64(salt: &[u8], id: &[u8; 16]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in salt.iter().chain(id.iter()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Upstream's threshold: MaxUint64 × pct/100 in 64-bit-mantissa big.Float, truncated, clamped
/// to [0, MaxUint64].
pub(super) fn probabilistic_threshold(percentage: f64) -> u64 {
    let ratio = percentage / 100.0;
    // NaN and non-positive ratios sample nothing.
    if ratio.is_nan() || ratio <= 0.0 {
        return 0;
    }
    if ratio >= 1.0 {
        return u64::MAX;
    }
    // ratio is a float64 (53-bit mantissa); the product with 2^64 − 1 is exact in 64+53 bits,
    // rounded to 64 bits of mantissa (nearest even), then truncated to an integer.
    let m = ratio.to_bits() & ((1u64 << 52) - 1) | (1u64 << 52);
    let e = ((ratio.to_bits() >> 52) & 0x7ff) as i32 - 1075; // ratio = m · 2^e
    let prod: u128 = (m as u128) * (u64::MAX as u128); // exact, < 2^117
    // Round prod to 64 significant bits, nearest even.
    let bits = 128 - prod.leading_zeros() as i32;
    let drop = (bits - 64).max(0) as u32;
    let rounded = if drop == 0 {
        prod
    } else {
        let q = prod >> drop;
        let rem = prod & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        let q = if rem > half || (rem == half && q & 1 == 1) {
            q + 1
        } else {
            q
        };
        q << drop
    };
    // Value = rounded · 2^e; e < 0 here.
    let shift = -e;
    let v = if shift >= 128 { 0 } else { rounded >> shift };
    v.min(u64::MAX as u128) as u64
}

impl Policy {
    /// Evaluates this policy on `t`.
    pub(crate) fn evaluate(&self, t: &dyn TraceView, sem: &Semantics) -> Decision {
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
                    match p.evaluate(t, sem) {
                        Decision::NotSampled | Decision::InvertNotSampled => {
                            return Decision::NotSampled;
                        }
                        _ => {}
                    }
                }
                Decision::Sampled
            }
            // Upstream `not.go` swaps only Sampled and NotSampled; the rest pass through.
            PolicyKind::Not(sub) => match sub.evaluate(t, sem) {
                Decision::Sampled => Decision::NotSampled,
                Decision::NotSampled => Decision::Sampled,
                other => other,
            },
            PolicyKind::Drop(subs) => {
                for p in subs {
                    match p.evaluate(t, sem) {
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
pub(super) fn decide(
    policies: &[Policy],
    t: &dyn TraceView,
    sem: &Semantics,
    sample_on_first_match: bool,
) -> Final {
    let ordered = policies
        .iter()
        .filter(|p| matches!(p.kind, PolicyKind::Drop(_)))
        .chain(
            policies
                .iter()
                .filter(|p| !matches!(p.kind, PolicyKind::Drop(_))),
        );
    let mut first: [Option<&str>; 5] = [None; 5];
    let idx = |d: Decision| match d {
        Decision::Dropped => 0,
        Decision::InvertNotSampled => 1,
        Decision::Sampled => 2,
        Decision::InvertSampled => 3,
        Decision::NotSampled => 4,
    };
    for p in ordered {
        let d = p.evaluate(t, sem);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_match_upstream() {
        assert_eq!(probabilistic_threshold(5.0), 0x0ccc_cccc_cccc_ccff);
        assert_eq!(probabilistic_threshold(5.0), 922_337_203_685_477_631);
        assert_eq!(probabilistic_threshold(25.0), 0x3fff_ffff_ffff_ffff);
        assert_eq!(probabilistic_threshold(100.0), u64::MAX);
        assert_eq!(probabilistic_threshold(150.0), u64::MAX);
        assert_eq!(probabilistic_threshold(0.0), 0);
        assert_eq!(probabilistic_threshold(-50.0), 0);
    }

    #[test]
    fn fnv1a_reference_values() {
        // FNV-1a 64 of the empty input is the offset basis; of "a" it is 0xaf63dc4c8601ec8c.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        h ^= b'a' as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
        assert_eq!(h, 0xaf63_dc4c_8601_ec8c);
        let id = [0u8; 16];
        assert_ne!(fnv1a64(b"default-hash-seed", &id), fnv1a64(b"other", &id));
    }
}
