//! Reading a collector's `tail_sampling` configuration from its YAML, with upstream's
//! strictness: unknown policy types, unknown status codes, empty lists and bad regexes are
//! errors, each naming the YAML path.

use serde_norway::Value;

use super::config_policy::{Builder, Level};
use super::policy::Policy;
use super::yaml::ConfigError;
use super::yaml::{boolean, err, get, int, mapping, string};

/// The processor settings the simulation uses.
#[derive(Debug, Clone)]
pub(crate) struct TailConfig {
    pub decision_wait_s: f64,
    pub num_traces: u64,
    pub sample_on_first_match: bool,
    pub sampled_cache_size: u64,
    pub non_sampled_cache_size: u64,
    pub policies: Vec<Policy>,
    /// Number of policies that read trace content through a per-policy memo (attribute,
    /// trace_state and ottl_condition policies; leaf ids run 0..leaves).
    pub leaves: usize,
    /// Number of stateful policies (rate and byte limits, composites; slots run 0..slots).
    pub slots: usize,
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
            return Err(err(
                &p(name),
                format!("unknown setting `{name}` (known: {})", known.join(", ")),
            ));
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
                _ => {
                    return Err(err(
                        &path,
                        format!(
                            "unknown setting `{name}` (known: sampled_cache_size, non_sampled_cache_size)"
                        ),
                    ));
                }
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
    let mut b = Builder::default();
    let policies = list
        .iter()
        .enumerate()
        .map(|(i, v)| b.policy(v, &p(&format!("policies[{i}]")), Level::Top))
        .collect::<Result<Vec<Policy>, _>>()?;
    // The processor refuses two policies of the same name.
    for (i, q) in policies.iter().enumerate() {
        if policies[..i].iter().any(|o| o.name == q.name) {
            return Err(err(
                &p(&format!("policies[{i}].name")),
                format!("duplicate policy name `{}`", q.name),
            ));
        }
    }
    Ok(TailConfig {
        decision_wait_s,
        num_traces,
        sample_on_first_match,
        sampled_cache_size,
        non_sampled_cache_size,
        policies,
        leaves: b.leaves,
        slots: b.slots,
    })
}
