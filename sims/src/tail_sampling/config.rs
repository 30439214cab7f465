//! Reading a collector's `tail_sampling` configuration from its YAML, with upstream's
//! strictness: unknown policy types, unknown status codes, empty lists and bad regexes are
//! errors, each naming the YAML path.

use regex::Regex;
use serde_norway::{Mapping, Value};

use super::policy::{Policy, PolicyKind, StatusCode, probabilistic_threshold};

/// The processor settings the simulation uses.
#[derive(Debug, Clone)]
pub(crate) struct TailConfig {
    pub decision_wait_s: f64,
    pub num_traces: u64,
    pub sample_on_first_match: bool,
    pub sampled_cache_size: u64,
    pub non_sampled_cache_size: u64,
    pub policies: Vec<Policy>,
    /// Number of attribute policies (leaf ids run 0..leaves).
    pub leaves: usize,
}

/// A configuration problem at a YAML path (`processors.tail_sampling.policies[2].type`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub(super) struct ConfigError {
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        message: message.into(),
    }
}

const DEFAULT_SALT: &str = "default-hash-seed";

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(Value::String(key.to_string()))
}

fn mapping<'a>(v: &'a Value, path: &str) -> Result<&'a Mapping, ConfigError> {
    v.as_mapping()
        .ok_or_else(|| err(path, "expected a mapping"))
}

fn string(v: &Value, path: &str) -> Result<String, ConfigError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(err(path, "expected a string")),
    }
}

fn int(v: &Value, path: &str) -> Result<i64, ConfigError> {
    v.as_i64().ok_or_else(|| err(path, "expected an integer"))
}

fn float(v: &Value, path: &str) -> Result<f64, ConfigError> {
    v.as_f64().ok_or_else(|| err(path, "expected a number"))
}

fn boolean(v: &Value, path: &str) -> Result<bool, ConfigError> {
    v.as_bool()
        .ok_or_else(|| err(path, "expected true or false"))
}

/// Go duration strings as the collector accepts them: `10s`, `500ms`, `1m30s`.
pub(super) fn parse_duration_s(s: &str, path: &str) -> Result<f64, ConfigError> {
    let bad = || {
        err(
            path,
            format!("`{s}` is not a duration (e.g. 10s, 500ms, 1m30s)"),
        )
    };
    let mut total = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

/// Parses a whole collector config (the `processors.tail_sampling` block, or the first
/// `tail_sampling/<name>` processor) or just the processor's own block.
pub(super) fn parse(yaml: &str) -> Result<TailConfig, ConfigError> {
    let doc: Value =
        serde_norway::from_str(yaml).map_err(|e| err("", format!("not valid YAML: {e}")))?;
    let root = mapping(&doc, "")?;
    let (block, base) = if let Some(procs) = get(root, "processors") {
        let procs = mapping(procs, "processors")?;
        let found = procs.iter().find(|(k, _)| {
            k.as_str()
                .is_some_and(|k| k == "tail_sampling" || k.starts_with("tail_sampling/"))
        });
        match found {
            Some((k, v)) => (
                v,
                format!("processors.{}", k.as_str().unwrap_or("tail_sampling")),
            ),
            None => {
                return Err(err(
                    "processors",
                    "no tail_sampling processor in this config",
                ));
            }
        }
    } else if root.contains_key(Value::String("policies".into())) {
        (&doc, String::new())
    } else if let Some(ts) = get(root, "tail_sampling") {
        (ts, "tail_sampling".to_string())
    } else {
        return Err(err(
            "",
            "expected a collector config with processors.tail_sampling, or a tail_sampling block with policies",
        ));
    };
    let p = |k: &str| {
        if base.is_empty() {
            k.to_string()
        } else {
            format!("{base}.{k}")
        }
    };
    let m = mapping(block, &base)?;
    let known = [
        "decision_wait",
        "num_traces",
        "expected_new_traces_per_sec",
        "policies",
        "decision_cache",
        "sample_on_first_match",
        "decision_wait_after_root_received",
        "block_on_overflow",
        "maximum_trace_size_bytes",
        "sampling_strategy",
    ];
    for k in m.keys() {
        let name = k.as_str().unwrap_or("?");
        if !known.contains(&name) {
            return Err(err(&p(name), format!("unknown setting `{name}`")));
        }
    }
    // Settings that change behaviour but are not modelled are refused, not ignored.
    for k in [
        "decision_wait_after_root_received",
        "maximum_trace_size_bytes",
    ] {
        if get(m, k).is_some() {
            return Err(err(
                &p(k),
                format!("`{k}` is not modelled by claimlab yet; remove it to simulate without it"),
            ));
        }
    }
    if get(m, "block_on_overflow").and_then(|v| v.as_bool()) == Some(true) {
        return Err(err(
            &p("block_on_overflow"),
            "blocking ingestion is not modelled; only the default (false: evict the oldest trace) is",
        ));
    }
    if let Some(v) = get(m, "sampling_strategy") {
        let s = string(v, &p("sampling_strategy"))?;
        if s != "trace-complete" {
            return Err(err(
                &p("sampling_strategy"),
                format!("`{s}` is not modelled; only trace-complete (the default) is"),
            ));
        }
    }
    let decision_wait_s = match get(m, "decision_wait") {
        Some(v) => parse_duration_s(&string(v, &p("decision_wait"))?, &p("decision_wait"))?,
        None => 30.0,
    };
    if !(decision_wait_s > 0.0 && decision_wait_s <= 3600.0) {
        return Err(err(
            &p("decision_wait"),
            "expected a duration above 0 and at most 1h",
        ));
    }
    let num_traces = match get(m, "num_traces") {
        Some(v) => {
            let n = int(v, &p("num_traces"))?;
            if n <= 0 {
                return Err(err(&p("num_traces"), "must be greater than 0"));
            }
            n as u64
        }
        None => 50_000,
    };
    let sample_on_first_match = match get(m, "sample_on_first_match") {
        Some(v) => boolean(v, &p("sample_on_first_match"))?,
        None => false,
    };
    let (mut sampled_cache_size, mut non_sampled_cache_size) = (0, 0);
    if let Some(dc) = get(m, "decision_cache") {
        let dc = mapping(dc, &p("decision_cache"))?;
        for (k, v) in dc {
            let name = k.as_str().unwrap_or("?");
            let path = p(&format!("decision_cache.{name}"));
            let n = int(v, &path)?;
            if n < 0 {
                return Err(err(&path, "must be 0 or more"));
            }
            match name {
                "sampled_cache_size" => sampled_cache_size = n as u64,
                "non_sampled_cache_size" => non_sampled_cache_size = n as u64,
                _ => return Err(err(&path, format!("unknown setting `{name}`"))),
            }
        }
    }
    let policies_v = get(m, "policies").ok_or_else(|| {
        err(
            &p("policies"),
            "missing: a tail_sampling processor needs policies",
        )
    })?;
    let list = policies_v
        .as_sequence()
        .ok_or_else(|| err(&p("policies"), "expected a list of policies"))?;
    let mut leaves = 0;
    let policies = list
        .iter()
        .enumerate()
        .map(|(i, v)| policy(v, &p(&format!("policies[{i}]")), &mut leaves, true))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TailConfig {
        decision_wait_s,
        num_traces,
        sample_on_first_match,
        sampled_cache_size,
        non_sampled_cache_size,
        policies,
        leaves,
    })
}

fn sub_list(
    m: &Mapping,
    outer: &str,
    inner: &str,
    path: &str,
    leaves: &mut usize,
) -> Result<Vec<Policy>, ConfigError> {
    let cfg = get(m, outer).ok_or_else(|| err(path, format!("missing `{outer}` settings")))?;
    let cfg = mapping(cfg, &format!("{path}.{outer}"))?;
    let subs = get(cfg, inner)
        .ok_or_else(|| err(&format!("{path}.{outer}"), format!("missing `{inner}`")))?;
    let subs = subs.as_sequence().ok_or_else(|| {
        err(
            &format!("{path}.{outer}.{inner}"),
            "expected a list of policies",
        )
    })?;
    if subs.is_empty() {
        return Err(err(&format!("{path}.{outer}.{inner}"), "must not be empty"));
    }
    subs.iter()
        .enumerate()
        .map(|(i, v)| policy(v, &format!("{path}.{outer}.{inner}[{i}]"), leaves, false))
        .collect()
}

fn policy(v: &Value, path: &str, leaves: &mut usize, top: bool) -> Result<Policy, ConfigError> {
    let m = mapping(v, path)?;
    let name = match get(m, "name") {
        Some(n) => string(n, &format!("{path}.name"))?,
        None if top => return Err(err(path, "a policy needs a name")),
        None => String::new(),
    };
    let ty = get(m, "type").ok_or_else(|| err(path, "a policy needs a type"))?;
    let ty = string(ty, &format!("{path}.type"))?;
    if !top && (ty == "and" || ty == "drop") {
        return Err(err(
            &format!("{path}.type"),
            format!("`{ty}` cannot be a sub-policy (upstream: unknown sampling policy type {ty})"),
        ));
    }
    // Like the collector's config decoder, refuse keys it does not know.
    for k in m.keys() {
        let k = k.as_str().unwrap_or("?");
        if k != "name" && k != "type" && k != ty {
            return Err(err(
                &format!("{path}.{k}"),
                format!("unknown key `{k}` for a policy of type {ty}"),
            ));
        }
    }
    let allowed: &[&str] = match ty.as_str() {
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
        "and" => &["and_sub_policy"],
        "drop" => &["drop_sub_policy"],
        "not" => &["not_sub_policy"],
        _ => &[],
    };
    if let Some(section) = get(m, &ty).and_then(|v| v.as_mapping()) {
        for k in section.keys() {
            let k = k.as_str().unwrap_or("?");
            if !allowed.contains(&k) {
                return Err(err(
                    &format!("{path}.{ty}.{k}"),
                    format!("unknown setting `{k}` (known: {})", allowed.join(", ")),
                ));
            }
        }
    }
    let section = |key: &str| -> Result<&Mapping, ConfigError> {
        let s = get(m, key)
            .ok_or_else(|| err(path, format!("missing `{key}` settings for type {ty}")))?;
        mapping(s, &format!("{path}.{key}"))
    };
    let mut leaf = || {
        *leaves += 1;
        *leaves - 1
    };
    let kind = match ty.as_str() {
        "always_sample" => PolicyKind::AlwaysSample,
        "status_code" => {
            let s = section("status_code")?;
            let codes_path = format!("{path}.status_code.status_codes");
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
            PolicyKind::StatusCode(codes)
        }
        "latency" => {
            let s = section("latency")?;
            let t = get(s, "threshold_ms")
                .map(|v| int(v, &format!("{path}.latency.threshold_ms")))
                .transpose()?
                .unwrap_or(0);
            let u = get(s, "upper_threshold_ms")
                .map(|v| int(v, &format!("{path}.latency.upper_threshold_ms")))
                .transpose()?
                .unwrap_or(0);
            if t == 0 && u == 0 {
                return Err(err(
                    &format!("{path}.latency"),
                    "set threshold_ms and/or upper_threshold_ms",
                ));
            }
            if u != 0 && u < t {
                return Err(err(
                    &format!("{path}.latency.upper_threshold_ms"),
                    "must not be below threshold_ms",
                ));
            }
            PolicyKind::Latency {
                threshold_ms: t,
                upper_threshold_ms: u,
            }
        }
        "string_attribute" => {
            let s = section("string_attribute")?;
            let sp = format!("{path}.string_attribute");
            let key = get(s, "key")
                .ok_or_else(|| err(&sp, "missing key"))
                .and_then(|k| string(k, &format!("{sp}.key")))?;
            let values: Vec<String> = get(s, "values")
                .and_then(|v| v.as_sequence())
                .ok_or_else(|| err(&format!("{sp}.values"), "expected a list of values"))?
                .iter()
                .enumerate()
                .map(|(i, v)| string(v, &format!("{sp}.values[{i}]")))
                .collect::<Result<_, _>>()?;
            if values.is_empty() {
                return Err(err(&format!("{sp}.values"), "must not be empty"));
            }
            let regex = get(s, "enabled_regex_matching")
                .map(|v| boolean(v, &format!("{sp}.enabled_regex_matching")))
                .transpose()?
                .unwrap_or(false);
            let invert = get(s, "invert_match")
                .map(|v| boolean(v, &format!("{sp}.invert_match")))
                .transpose()?
                .unwrap_or(false);
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
            PolicyKind::StringAttribute {
                leaf: leaf(),
                key,
                values,
                regexes,
                invert,
            }
        }
        "numeric_attribute" => {
            let s = section("numeric_attribute")?;
            let sp = format!("{path}.numeric_attribute");
            let key = get(s, "key")
                .ok_or_else(|| err(&sp, "missing key"))
                .and_then(|k| string(k, &format!("{sp}.key")))?;
            let min = get(s, "min_value")
                .map(|v| int(v, &format!("{sp}.min_value")))
                .transpose()?
                .unwrap_or(i64::MIN);
            let max = get(s, "max_value")
                .map(|v| int(v, &format!("{sp}.max_value")))
                .transpose()?
                .unwrap_or(i64::MAX);
            if min > max {
                return Err(err(&sp, "min_value is above max_value"));
            }
            let invert = get(s, "invert_match")
                .map(|v| boolean(v, &format!("{sp}.invert_match")))
                .transpose()?
                .unwrap_or(false);
            PolicyKind::NumericAttribute {
                leaf: leaf(),
                key,
                min,
                max,
                invert,
            }
        }
        "boolean_attribute" => {
            let s = section("boolean_attribute")?;
            let sp = format!("{path}.boolean_attribute");
            let key = get(s, "key")
                .ok_or_else(|| err(&sp, "missing key"))
                .and_then(|k| string(k, &format!("{sp}.key")))?;
            let value = get(s, "value")
                .ok_or_else(|| err(&sp, "missing value"))
                .and_then(|v| boolean(v, &format!("{sp}.value")))?;
            let invert = get(s, "invert_match")
                .map(|v| boolean(v, &format!("{sp}.invert_match")))
                .transpose()?
                .unwrap_or(false);
            PolicyKind::BooleanAttribute {
                leaf: leaf(),
                key,
                value,
                invert,
            }
        }
        "probabilistic" => {
            let s = section("probabilistic")?;
            let sp = format!("{path}.probabilistic");
            let pct = get(s, "sampling_percentage")
                .map(|v| float(v, &format!("{sp}.sampling_percentage")))
                .transpose()?
                .unwrap_or(0.0);
            let salt = get(s, "hash_salt")
                .map(|v| string(v, &format!("{sp}.hash_salt")))
                .transpose()?
                .unwrap_or_default();
            let salt = if salt.is_empty() {
                DEFAULT_SALT.to_string()
            } else {
                salt
            };
            PolicyKind::Probabilistic {
                salt,
                threshold: probabilistic_threshold(pct),
            }
        }
        "and" => PolicyKind::And(sub_list(m, "and", "and_sub_policy", path, leaves)?),
        "drop" => PolicyKind::Drop(sub_list(m, "drop", "drop_sub_policy", path, leaves)?),
        "not" => {
            let s = section("not")?;
            let sub = get(s, "not_sub_policy")
                .ok_or_else(|| err(&format!("{path}.not"), "missing `not_sub_policy`"))?;
            PolicyKind::Not(Box::new(policy(
                sub,
                &format!("{path}.not.not_sub_policy"),
                leaves,
                false,
            )?))
        }
        other => {
            return Err(err(
                &format!("{path}.type"),
                format!(
                    "unknown policy type `{other}` (supported: always_sample, status_code, latency, string_attribute, numeric_attribute, boolean_attribute, probabilistic, and, not, drop)"
                ),
            ));
        }
    };
    Ok(Policy { name, kind })
}
