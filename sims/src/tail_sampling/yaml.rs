//! Reading YAML values the way the collector's decoder does, with errors that name the path.

use serde_norway::{Mapping, Value};

/// A configuration problem at a YAML path (`processors.tail_sampling.policies[2].type`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub(super) struct ConfigError {
    pub path: String,
    pub message: String,
}

pub(super) fn err(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.to_string(),
        message: message.into(),
    }
}

pub(super) fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(Value::String(key.to_string()))
}

pub(super) fn mapping<'a>(v: &'a Value, path: &str) -> Result<&'a Mapping, ConfigError> {
    v.as_mapping()
        .ok_or_else(|| err(path, "expected a mapping"))
}

pub(super) fn string(v: &Value, path: &str) -> Result<String, ConfigError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(err(path, "expected a string")),
    }
}

pub(super) fn int(v: &Value, path: &str) -> Result<i64, ConfigError> {
    // The collector's YAML reader also takes YAML 1.1 digit groups: `100_000`.
    let grouped = || {
        let s = v.as_str()?;
        let digits = s.strip_prefix('-').unwrap_or(s);
        let ok = digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
        ok.then(|| s.replace('_', "").parse().ok()).flatten()
    };
    v.as_i64()
        .or_else(grouped)
        .ok_or_else(|| err(path, "expected an integer"))
}

pub(super) fn float(v: &Value, path: &str) -> Result<f64, ConfigError> {
    v.as_f64().ok_or_else(|| err(path, "expected a number"))
}

pub(super) fn boolean(v: &Value, path: &str) -> Result<bool, ConfigError> {
    v.as_bool()
        .ok_or_else(|| err(path, "expected true or false"))
}
