//! `lab tail-sampling decide`: how a collector with this config decides these traces. This is
//! how users debug their policies, and how the room is checked against upstream's cases.

use sims::tail_sampling::config;
use sims::tail_sampling::policy::{Decision, InvertMode};
use sims::tail_sampling::trace::Trace;
use sims::tail_sampling::{parse_version, semantics};

use crate::cli::TailSamplingCommand;
use crate::error::{LabError, exit_code};

fn name(d: Decision) -> &'static str {
    match d {
        Decision::Sampled => "Sampled",
        Decision::NotSampled => "NotSampled",
        Decision::InvertSampled => "InvertSampled",
        Decision::InvertNotSampled => "InvertNotSampled",
        Decision::Dropped => "Dropped",
    }
}

/// Runs `lab tail-sampling ...`.
pub fn run(cmd: &TailSamplingCommand) -> Result<u8, LabError> {
    let TailSamplingCommand::Decide {
        config: config_path,
        traces,
        invert_mode,
        collector_version,
    } = cmd;
    let version = parse_version(collector_version).ok_or_else(|| {
        LabError::bad(format!(
            "--collector-version {collector_version}: expected a version like 0.150.0"
        ))
    })?;
    let invert = match invert_mode.as_deref() {
        None => None,
        Some("legacy") => Some(InvertMode::Legacy),
        Some("plain") => Some(InvertMode::Plain),
        Some(other) => {
            return Err(LabError::bad(format!(
                "--invert-mode {other}: expected legacy or plain"
            )));
        }
    };
    let sem = semantics(version, invert);
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", config_path.display())))?;
    let cfg = config::parse(&text)
        .map_err(|e| LabError::bad(format!("{}: {e}", config_path.display())))?;
    let lines = std::fs::read_to_string(traces)
        .map_err(|e| LabError::bad(format!("{}: cannot read: {e}", traces.display())))?;
    // Parse everything first: a bad line must not leave half an answer on stdout.
    let mut parsed = Vec::new();
    for (i, line) in lines.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let t = Trace::from_json_line(line)
            .map_err(|e| LabError::bad(format!("{}:{}: {e}", traces.display(), i + 1)))?;
        parsed.push((line, t));
    }
    let mut out = String::new();
    for (_, t) in &parsed {
        let f =
            sims::tail_sampling::policy::decide(&cfg.policies, t, &sem, cfg.sample_on_first_match);
        let per: Vec<serde_json::Value> = cfg
            .policies
            .iter()
            .map(|p| serde_json::json!({"name": p.name, "decision": name(p.evaluate(t, &sem))}))
            .collect();
        let hex: String = t.id.iter().map(|b| format!("{b:02x}")).collect();
        let line = serde_json::json!({
            "trace_id_hex": hex,
            "decision": if f.sampled { "sampled" } else { "not_sampled" },
            "final": f.decision,
            "policy": f.policy,
            "invert_mode": match sem.invert { InvertMode::Legacy => "legacy", InvertMode::Plain => "plain" },
            "policies": per,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    super::write_stdout(&out);
    Ok(exit_code::OK)
}
