//! The command-line choices that shape a plan: `--quick`, `--seed`, `--replications` and the
//! `--set key=value` overrides, each parsed into what it sets.

use crate::error::LabError;

/// Command-line choices that shape a plan.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--quick`: apply the scenario's `[quick]` section.
    pub quick: bool,
    /// `--seed`: replaces every scenario's seed.
    pub seed: Option<u64>,
    /// `--replications`: replaces every scenario's replication count.
    pub replications: Option<u32>,
    /// `--set key=value`, in order.
    pub overrides: Vec<Override>,
    /// `--robustness-budget`: the robustness pass's budget as a multiple of the plain run's
    /// estimated work (default `verdicts::BUDGET_RATIO`).
    pub robustness_budget: Option<f64>,
}

/// What a `--set` sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideTarget {
    /// A model parameter, by dotted path (`service.mean`).
    Param(String),
    /// A real kernel's `[real]` key (`--set real.database_url=...`), by dotted path inside
    /// `[real]`.
    Real(String),
}

/// One `--set key=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// What it sets.
    pub target: OverrideTarget,
    /// The value, read as TOML.
    pub value: toml::Value,
    /// As typed, for provenance and messages.
    pub raw: String,
}

impl Override {
    /// Parses `key=value`; the value is read as TOML (`2`, `0.5`, `true`, `[1, 2]`,
    /// `{ dist = "det", value = 1 }`) and otherwise taken as a string. `real.KEY` sets a real
    /// kernel's key, `params.KEY` (or plain `KEY`) a model parameter.
    pub fn parse(s: &str) -> Result<Override, LabError> {
        let Some((k, v)) = s.split_once('=') else {
            return Err(LabError::bad(format!(
                "--set {s}: expected key=value, e.g. --set arrival_rate=0.8"
            )));
        };
        let key = k.trim();
        let key = key.strip_prefix("params.").unwrap_or(key);
        if key.is_empty() || key.split('.').any(|p| p.is_empty()) {
            return Err(LabError::bad(format!(
                "--set {s}: the key must be a dotted parameter path like service.mean"
            )));
        }
        let target = match key.strip_prefix("real.") {
            Some(real) => OverrideTarget::Real(real.to_string()),
            None => OverrideTarget::Param(key.to_string()),
        };
        let text = v.trim();
        let value = format!("v = {text}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(text.to_string()));
        Ok(Override {
            target,
            value,
            raw: s.to_string(),
        })
    }

    /// The model parameter path it sets, if it sets one.
    pub fn param(&self) -> Option<&str> {
        match &self.target {
            OverrideTarget::Param(p) => Some(p),
            OverrideTarget::Real(_) => None,
        }
    }

    /// The `[real]` key path it sets, if it sets one.
    pub fn real_key(&self) -> Option<&str> {
        match &self.target {
            OverrideTarget::Real(k) => Some(k),
            OverrideTarget::Param(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_what_they_set() {
        let o = Override::parse("real.database_url=postgres://x").unwrap();
        assert_eq!(o.real_key(), Some("database_url"));
        assert_eq!(o.value, toml::Value::String("postgres://x".into()));
        let o = Override::parse("params.service.mean=2").unwrap();
        assert_eq!(o.param(), Some("service.mean"));
        assert_eq!(o.value, toml::Value::Integer(2));
        assert!(Override::parse("novalue").is_err());
        assert!(Override::parse("a..b=1").is_err());
    }
}
