//! One policy of a `tail_sampling` config, validated as the processor validates it at start-up:
//! what it refuses we refuse (with the YAML path and why), what it accepts we accept.
//! Unknown keys are refused with the list of known ones, as the collector's strict decoder does.

use regex::Regex;
use serde_norway::{Mapping, Value};

use super::ottl::{self, Context, ErrorMode, OttlPolicy};
use super::policy::{
    Composite, CompositeSub, Policy, PolicyKind, StatusCode, probabilistic_threshold,
};
use super::yaml::{ConfigError, boolean, err, float, get, int, mapping, string};

const DEFAULT_SALT: &str = "default-hash-seed";

/// Where a policy sits: which types the processor builds there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    /// `policies`: every type.
    Top,
    /// `composite_sub_policy`: the shared types and `and`.
    CompositeSub,
    /// `and_sub_policy`, `drop_sub_policy`, `not_sub_policy`: the shared types (and `not`).
    Sub,
}

/// The types every level accepts (upstream `getSharedPolicyEvaluator`).
const SHARED: &[&str] = &[
    "always_sample",
    "latency",
    "numeric_attribute",
    "probabilistic",
    "status_code",
    "string_attribute",
    "rate_limiting",
    "bytes_limiting",
    "span_count",
    "trace_state",
    "trace_flags",
    "boolean_attribute",
    "ottl_condition",
];

/// Each type's settings block and its keys.
fn settings(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "always_sample" | "trace_flags" => &[],
        "status_code" => &["status_codes"],
        "latency" => &["threshold_ms", "upper_threshold_ms"],
        "string_attribute" => &[
            "key",
            "values",
            "enabled_regex_matching",
            "cache_max_size",
            "invert_match",
        ],
        "numeric_attribute" => &["key", "min_value", "max_value", "invert_match"],
        "boolean_attribute" => &["key", "value", "invert_match"],
        "probabilistic" => &["hash_salt", "sampling_percentage"],
        "rate_limiting" => &["spans_per_second", "burst_capacity"],
        "bytes_limiting" => &["bytes_per_second", "burst_capacity"],
        "span_count" => &["min_spans", "max_spans"],
        "trace_state" => &["key", "values"],
        "ottl_condition" => &["error_mode", "span", "spanevent"],
        "and" => &["and_sub_policy"],
        "drop" => &["drop_sub_policy"],
        "not" => &["not_sub_policy"],
        "composite" => &[
            "max_total_spans_per_second",
            "policy_order",
            "composite_sub_policy",
            "rate_allocation",
        ],
        _ => return None,
    })
}

fn types_at(level: Level) -> Vec<&'static str> {
    let mut t = SHARED.to_vec();
    match level {
        Level::Top => t.extend(["and", "not", "drop", "composite"]),
        Level::CompositeSub => t.push("and"),
        Level::Sub => t.push("not"),
    }
    t
}

/// Counts the policies that need a memo (leaves) or state (slots) while building them.
#[derive(Debug, Default)]
pub(super) struct Builder {
    pub leaves: usize,
    pub slots: usize,
}

fn opt<T>(
    s: &Mapping,
    key: &str,
    sp: &str,
    f: impl Fn(&Value, &str) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    get(s, key)
        .filter(|v| !v.is_null())
        .map(|v| f(v, &format!("{sp}.{key}")))
        .transpose()
}

fn strings(s: &Mapping, key: &str, sp: &str) -> Result<Vec<String>, ConfigError> {
    let path = format!("{sp}.{key}");
    match get(s, key).filter(|v| !v.is_null()) {
        None => Ok(Vec::new()),
        Some(v) => v
            .as_sequence()
            .ok_or_else(|| err(&path, "expected a list of strings"))?
            .iter()
            .enumerate()
            .map(|(i, v)| string(v, &format!("{path}[{i}]")))
            .collect(),
    }
}

fn int32(v: &Value, path: &str) -> Result<i32, ConfigError> {
    i32::try_from(int(v, path)?).map_err(|_| err(path, "out of range for a 32-bit integer"))
}

impl Builder {
    fn leaf(&mut self) -> usize {
        self.leaves += 1;
        self.leaves - 1
    }

    fn slot(&mut self) -> usize {
        self.slots += 1;
        self.slots - 1
    }

    /// Parses the policy at `path`.
    pub(super) fn policy(
        &mut self,
        v: &Value,
        path: &str,
        level: Level,
    ) -> Result<Policy, ConfigError> {
        let m = mapping(v, path)?;
        let name = match get(m, "name") {
            Some(n) => string(n, &format!("{path}.name"))?,
            None if level == Level::Top => return Err(err(path, "a policy needs a name")),
            None => String::new(),
        };
        let ty = get(m, "type").ok_or_else(|| err(path, "a policy needs a type"))?;
        let ty = string(ty, &format!("{path}.type"))?;
        let types = types_at(level);
        if !types.contains(&ty.as_str()) {
            let message = if settings(&ty).is_some() {
                format!(
                    "`{ty}` cannot be used here (upstream: unknown sampling policy type {ty}); here: {}",
                    types.join(", ")
                )
            } else {
                format!(
                    "unknown policy type `{ty}` (supported: {})",
                    types.join(", ")
                )
            };
            return Err(err(&format!("{path}.type"), message));
        }
        // The decoder fills every settings block the policy carries (only its type's is
        // used) and refuses keys it does not know, in the policy and in each block.
        let mut known = vec!["name", "type"];
        known.extend(
            types
                .iter()
                .filter(|t| settings(t).is_some_and(|s| !s.is_empty())),
        );
        for (k, section) in m {
            let k = k.as_str().unwrap_or("?");
            if !known.contains(&k) {
                return Err(err(
                    &format!("{path}.{k}"),
                    format!("unknown key `{k}` (known: {})", known.join(", ")),
                ));
            }
            if let (Some(allowed), Some(sm)) = (settings(k), section.as_mapping()) {
                for key in sm.keys() {
                    let key = key.as_str().unwrap_or("?");
                    if !allowed.contains(&key) {
                        return Err(err(
                            &format!("{path}.{k}.{key}"),
                            format!("unknown setting `{key}` (known: {})", allowed.join(", ")),
                        ));
                    }
                }
            }
        }
        let empty = Mapping::new();
        let sp = format!("{path}.{ty}");
        let s: &Mapping = match get(m, &ty) {
            Some(v) if !v.is_null() => mapping(v, &sp)?,
            _ => &empty,
        };
        let kind = match ty.as_str() {
            "always_sample" => PolicyKind::AlwaysSample,
            "trace_flags" => PolicyKind::TraceFlags,
            "status_code" => status_code(s, &sp)?,
            "latency" => {
                let t = opt(s, "threshold_ms", &sp, int)?.unwrap_or(0);
                let u = opt(s, "upper_threshold_ms", &sp, int)?.unwrap_or(0);
                if t == 0 && u == 0 {
                    return Err(err(&sp, "set threshold_ms and/or upper_threshold_ms"));
                }
                if u != 0 && u < t {
                    return Err(err(
                        &format!("{sp}.upper_threshold_ms"),
                        "must not be below threshold_ms",
                    ));
                }
                PolicyKind::Latency {
                    threshold_ms: t,
                    upper_threshold_ms: u,
                }
            }
            "string_attribute" => self.string_attribute(s, &sp)?,
            "numeric_attribute" => {
                let key = opt(s, "key", &sp, string)?.ok_or_else(|| err(&sp, "missing key"))?;
                let min = opt(s, "min_value", &sp, int)?.unwrap_or(i64::MIN);
                let max = opt(s, "max_value", &sp, int)?.unwrap_or(i64::MAX);
                if min > max {
                    return Err(err(&sp, "min_value is above max_value"));
                }
                PolicyKind::NumericAttribute {
                    leaf: self.leaf(),
                    key,
                    min,
                    max,
                    invert: opt(s, "invert_match", &sp, boolean)?.unwrap_or(false),
                }
            }
            "boolean_attribute" => {
                let key = opt(s, "key", &sp, string)?.ok_or_else(|| err(&sp, "missing key"))?;
                let value =
                    opt(s, "value", &sp, boolean)?.ok_or_else(|| err(&sp, "missing value"))?;
                PolicyKind::BooleanAttribute {
                    leaf: self.leaf(),
                    key,
                    value,
                    invert: opt(s, "invert_match", &sp, boolean)?.unwrap_or(false),
                }
            }
            "probabilistic" => {
                let pct = opt(s, "sampling_percentage", &sp, float)?.unwrap_or(0.0);
                let salt = opt(s, "hash_salt", &sp, string)?.unwrap_or_default();
                PolicyKind::Probabilistic {
                    salt: if salt.is_empty() {
                        DEFAULT_SALT.to_string()
                    } else {
                        salt
                    },
                    threshold: probabilistic_threshold(pct),
                }
            }
            "rate_limiting" => PolicyKind::RateLimiting {
                slot: self.slot(),
                spans_per_second: opt(s, "spans_per_second", &sp, int)?.unwrap_or(0),
                burst: opt(s, "burst_capacity", &sp, int)?.unwrap_or(0),
            },
            "bytes_limiting" => PolicyKind::BytesLimiting {
                slot: self.slot(),
                bytes_per_second: opt(s, "bytes_per_second", &sp, int)?.unwrap_or(0),
                burst: opt(s, "burst_capacity", &sp, int)?.unwrap_or(0),
            },
            "span_count" => PolicyKind::SpanCount {
                min: opt(s, "min_spans", &sp, int32)?.unwrap_or(0),
                max: opt(s, "max_spans", &sp, int32)?.unwrap_or(0),
            },
            "trace_state" => {
                let key = opt(s, "key", &sp, string)?.unwrap_or_default();
                // Upstream keeps only values that can occur: non-empty, and with the key
                // within a member's 256 characters.
                let values = strings(s, "values", &sp)?
                    .into_iter()
                    .filter(|v| !v.is_empty() && key.len() + v.len() < 256)
                    .collect();
                PolicyKind::TraceState {
                    leaf: self.leaf(),
                    key,
                    values,
                }
            }
            "ottl_condition" => PolicyKind::Ottl {
                leaf: self.leaf(),
                cond: Box::new(ottl_policy(s, &sp)?),
            },
            "and" => PolicyKind::And(self.sub_list(s, "and_sub_policy", &sp)?),
            "drop" => PolicyKind::Drop(self.sub_list(s, "drop_sub_policy", &sp)?),
            "not" => {
                let sub =
                    get(s, "not_sub_policy").ok_or_else(|| err(&sp, "missing `not_sub_policy`"))?;
                PolicyKind::Not(Box::new(self.policy(
                    sub,
                    &format!("{sp}.not_sub_policy"),
                    Level::Sub,
                )?))
            }
            "composite" => self.composite(s, &sp)?,
            other => unreachable!("type {other} was checked against the list"),
        };
        Ok(Policy { name, kind })
    }

    fn string_attribute(&mut self, s: &Mapping, sp: &str) -> Result<PolicyKind, ConfigError> {
        let key = opt(s, "key", sp, string)?.ok_or_else(|| err(sp, "missing key"))?;
        // An empty list is accepted: it matches nothing (with invert_match, everything).
        let values = strings(s, "values", sp)?;
        let regex = opt(s, "enabled_regex_matching", sp, boolean)?.unwrap_or(false);
        opt(s, "cache_max_size", sp, int)?;
        let invert = opt(s, "invert_match", sp, boolean)?.unwrap_or(false);
        let regexes = if regex {
            Some(
                values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        Regex::new(v).map_err(|e| {
                            err(&format!("{sp}.values[{i}]"), format!("invalid regex: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        Ok(PolicyKind::StringAttribute {
            leaf: self.leaf(),
            key,
            values,
            regexes,
            invert,
        })
    }

    fn sub_list(&mut self, s: &Mapping, inner: &str, sp: &str) -> Result<Vec<Policy>, ConfigError> {
        let path = format!("{sp}.{inner}");
        let subs = get(s, inner).ok_or_else(|| err(sp, format!("missing `{inner}`")))?;
        let subs = subs
            .as_sequence()
            .ok_or_else(|| err(&path, "expected a list of policies"))?;
        if subs.is_empty() {
            return Err(err(&path, "must not be empty"));
        }
        subs.iter()
            .enumerate()
            .map(|(i, v)| self.policy(v, &format!("{path}[{i}]"), Level::Sub))
            .collect()
    }

    fn composite(&mut self, s: &Mapping, sp: &str) -> Result<PolicyKind, ConfigError> {
        let total = opt(s, "max_total_spans_per_second", sp, int)?.unwrap_or(0);
        // `policy_order` is decoded but unused upstream: sub-policies run in
        // `composite_sub_policy` order.
        strings(s, "policy_order", sp)?;
        let subs_path = format!("{sp}.composite_sub_policy");
        let subs: Vec<Policy> = match get(s, "composite_sub_policy").filter(|v| !v.is_null()) {
            None => Vec::new(),
            Some(v) => v
                .as_sequence()
                .ok_or_else(|| err(&subs_path, "expected a list of policies"))?
                .iter()
                .enumerate()
                .map(|(i, v)| self.policy(v, &format!("{subs_path}[{i}]"), Level::CompositeSub))
                .collect::<Result<_, _>>()?,
        };
        let equal_share = if subs.is_empty() {
            0
        } else {
            (total as f64 / subs.len() as f64) as i64
        };
        // rate_allocation: later entries for the same policy win; percent ≤ 0 means the
        // equal share; Go converts the float budget to int64 by truncation.
        let mut alloc: Vec<(String, i64)> = Vec::new();
        let ra_path = format!("{sp}.rate_allocation");
        if let Some(v) = get(s, "rate_allocation").filter(|v| !v.is_null()) {
            let list = v
                .as_sequence()
                .ok_or_else(|| err(&ra_path, "expected a list of {policy, percent}"))?;
            for (i, e) in list.iter().enumerate() {
                let ep = format!("{ra_path}[{i}]");
                let em = mapping(e, &ep)?;
                for k in em.keys() {
                    let k = k.as_str().unwrap_or("?");
                    if k != "policy" && k != "percent" {
                        return Err(err(
                            &format!("{ep}.{k}"),
                            format!("unknown setting `{k}` (known: policy, percent)"),
                        ));
                    }
                }
                let policy = opt(em, "policy", &ep, string)?.unwrap_or_default();
                let percent = opt(em, "percent", &ep, int)?.unwrap_or(0);
                let budget = if percent > 0 {
                    (percent as f64 / 100.0 * total as f64) as i64
                } else {
                    equal_share
                };
                alloc.retain(|(p, _)| *p != policy);
                alloc.push((policy, budget));
            }
        }
        let subs = subs
            .into_iter()
            .map(|policy| CompositeSub {
                listed: alloc
                    .iter()
                    .find(|(p, _)| *p == policy.name)
                    .map(|(_, b)| *b),
                equal_share,
                policy,
            })
            .collect();
        Ok(PolicyKind::Composite(Box::new(Composite {
            slot: self.slot(),
            max_total_spans_per_second: total,
            subs,
        })))
    }
}

fn status_code(s: &Mapping, sp: &str) -> Result<PolicyKind, ConfigError> {
    let codes_path = format!("{sp}.status_codes");
    let codes = get(s, "status_codes")
        .and_then(|c| c.as_sequence())
        .ok_or_else(|| err(&codes_path, "expected a list of status codes"))?;
    if codes.is_empty() {
        return Err(err(&codes_path, "must not be empty"));
    }
    let codes = codes
        .iter()
        .enumerate()
        .map(|(i, c)| match c.as_str() {
            Some("OK") => Ok(StatusCode::Ok),
            Some("ERROR") => Ok(StatusCode::Error),
            Some("UNSET") => Ok(StatusCode::Unset),
            _ => Err(err(
                &format!("{codes_path}[{i}]"),
                format!("unknown status code {c:?}: expected OK, ERROR or UNSET"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicyKind::StatusCode(codes))
}

fn ottl_policy(s: &Mapping, sp: &str) -> Result<OttlPolicy, ConfigError> {
    let error_mode = match opt(s, "error_mode", sp, string)?.as_deref() {
        // An unset error_mode propagates (the processor's default without the
        // `defaultErrorModeIgnore` feature gate).
        None | Some("") | Some("propagate") => ErrorMode::Propagate,
        Some("ignore") => ErrorMode::Ignore,
        Some("silent") => ErrorMode::Silent,
        Some(other) => {
            return Err(err(
                &format!("{sp}.error_mode"),
                format!("unknown error mode `{other}` (known: ignore, silent, propagate)"),
            ));
        }
    };
    let parse = |key: &str, ctx: Context| -> Result<Vec<ottl::Cond>, ConfigError> {
        strings(s, key, sp)?
            .iter()
            .enumerate()
            .map(|(i, c)| {
                ottl::parse_condition(c, ctx)
                    .map_err(|e| err(&format!("{sp}.{key}[{i}]"), format!("OTTL `{c}`: {e}")))
            })
            .collect()
    };
    let span = parse("span", Context::Span)?;
    let event = parse("spanevent", Context::SpanEvent)?;
    if span.is_empty() && event.is_empty() {
        return Err(err(sp, "expected at least one OTTL condition to filter on"));
    }
    let reads_time = span.iter().chain(&event).any(ottl::reads_time);
    Ok(OttlPolicy {
        span,
        event,
        error_mode,
        reads_time,
    })
}
