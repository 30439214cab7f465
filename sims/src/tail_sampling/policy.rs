//! The policies of the collector-contrib `tail_sampling` processor: their types, what they see
//! of a trace, and the version-dependent rules (see `../shared/research/otel-tail-sampling.md`
//! for the upstream files). Evaluation and the combination rule are in `evaluate.rs`.
//!
//! Every policy sees a trace through [`TraceView`], so the same code decides a trace read from
//! JSON (`lab tail-sampling decide`) and a synthetic trace of the day-long simulation.

use regex::Regex;

use super::ottl::OttlPolicy;

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

pub(crate) use super::attr::AttrValue;

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
    /// Spans received so far (upstream `TraceData.SpanCount`).
    fn span_count(&self) -> i64;
    /// The OTLP protobuf size of the spans received, bytes (upstream `TracesSize`).
    fn size_bytes(&self) -> i64;
    /// Whether any span's W3C tracestate carries `key` with a value `hit` accepts (a
    /// tracestate that does not parse matches nothing).
    fn trace_state_hit(&self, leaf: usize, key: &str, hit: &dyn Fn(&str) -> bool) -> bool;
    /// Whether any span has the W3C sampled flag (bit 0 of its flags).
    fn any_sampled_flag(&self) -> bool;
    /// Whether the OTTL conditions of policy `leaf` hold on any span or span event.
    fn ottl_hit(&self, leaf: usize, c: &OttlPolicy) -> bool;
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
    /// `rate_limiting`: spans per second; `slot` indexes its state.
    RateLimiting {
        slot: usize,
        spans_per_second: i64,
        /// `burst_capacity` (token-bucket versions only; 0 = twice the rate).
        burst: i64,
    },
    /// `bytes_limiting`: a token bucket over the trace's OTLP byte size.
    BytesLimiting {
        slot: usize,
        bytes_per_second: i64,
        burst: i64,
    },
    /// `span_count`: min ≤ spans ≤ max (max 0: no upper bound).
    SpanCount {
        min: i32,
        max: i32,
    },
    /// `trace_state`: a key and the values that match (empty values dropped).
    TraceState {
        leaf: usize,
        key: String,
        values: Vec<String>,
    },
    /// `trace_flags`: any span with the sampled flag.
    TraceFlags,
    /// `ottl_condition`.
    Ottl {
        leaf: usize,
        cond: Box<OttlPolicy>,
    },
    /// `composite`: sub-policies with per-second span budgets.
    Composite(Box<Composite>),
}

/// A `composite` policy: sub-policies in `composite_sub_policy` order, each with its budget.
#[derive(Debug, Clone)]
pub(crate) struct Composite {
    pub slot: usize,
    pub max_total_spans_per_second: i64,
    pub subs: Vec<CompositeSub>,
}

/// One composite sub-policy and its spans-per-second budgets (version dependent: before
/// PR #49857 a sub-policy missing from `rate_allocation` gets 0).
#[derive(Debug, Clone)]
pub(crate) struct CompositeSub {
    pub policy: Policy,
    /// The budget a `rate_allocation` entry gives it, if one names it.
    pub listed: Option<i64>,
    /// `max_total_spans_per_second / number of sub-policies`, truncated.
    pub equal_share: i64,
}

/// Version-dependent rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Semantics {
    /// How `invert_match` combines with the other policies' decisions.
    pub invert: InvertMode,
    /// `latency` with only `threshold_ms`: `>=` up to v0.156, `>` from PR #49595.
    pub latency_lower_inclusive: bool,
    /// `rate_limiting` as a token bucket (burst 2× the rate or `burst_capacity`, PR #48226,
    /// from v0.152.0) instead of a per-second counter that admits while the sum stays below
    /// `spans_per_second`.
    pub rate_limit_token_bucket: bool,
    /// A composite sub-policy missing from `rate_allocation` gets the equal share (PR #49857,
    /// from v0.158.0) instead of 0.
    pub composite_equal_share: bool,
}

impl Semantics {
    /// The rules of the newest collector the room knows (plain invert, exclusive latency
    /// bound, token-bucket rate limiting, equal share for unlisted composite sub-policies).
    pub const CURRENT: Semantics = Semantics {
        invert: InvertMode::Plain,
        latency_lower_inclusive: false,
        rate_limit_token_bucket: true,
        composite_equal_share: true,
    };
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
