//! `lab tail-sampling decide`: how a collector with this config decides these traces. This is
//! how users debug their policies, and how the room is checked against upstream's cases.

use std::io::Write;

use super::config;
use super::params::{parse_version, semantics};
use super::policy::{Decision, InvertMode, decide};
use super::trace::Trace;
use crate::tool::{ArgValue, Choice, Tool, ToolArg, ToolArgs, ToolCommand, ToolError};

/// The room's tools: `lab tail-sampling decide`.
pub(super) const TOOLS: &[Tool] = &[Tool {
    name: "tail-sampling",
    about: "OpenTelemetry tail_sampling tools: decide traces with a real collector config",
    commands: &[ToolCommand {
        name: "decide",
        about: "Decide each trace of a JSONL file as the collector would; one JSON line per trace",
        long_about: "",
        args: &[
            ToolArg::new(
                "config",
                ArgValue::Path,
                "Collector config YAML (a whole collector config or the tail_sampling block).",
            )
            .required(),
            ToolArg::new(
                "traces",
                ArgValue::Path,
                "Traces, one JSON object per line (see the README for the format).",
            )
            .required(),
            ToolArg::new(
                "invert-mode",
                ArgValue::Choice(INVERT_MODES),
                "Overrides the invert mode the collector version implies.",
            ),
            ToolArg::new(
                "collector-version",
                ArgValue::Text,
                "Collector version: picks the invert mode and the latency boundary rule.",
            )
            .default("0.150.0"),
        ],
        run: run_decide,
    }],
}];

const INVERT_MODES: &[Choice] = &[
    Choice::new("legacy", "collectors before v0.144.0"),
    Choice::new("plain", "v0.144.0 onward"),
];

fn name(d: Decision) -> &'static str {
    match d {
        Decision::Sampled => "Sampled",
        Decision::NotSampled => "NotSampled",
        Decision::InvertSampled => "InvertSampled",
        Decision::InvertNotSampled => "InvertNotSampled",
        Decision::Dropped => "Dropped",
    }
}

fn run_decide(args: &ToolArgs, out: &mut dyn Write) -> Result<(), ToolError> {
    let config_path = ToolArgs::require(args.path("config"), "config")?;
    let traces = ToolArgs::require(args.path("traces"), "traces")?;
    let collector_version = ToolArgs::require(args.text("collector-version"), "collector-version")?;
    let version = parse_version(collector_version).ok_or_else(|| {
        ToolError::BadInput(format!(
            "--collector-version {collector_version}: expected a version like 0.150.0"
        ))
    })?;
    let invert = match args.text("invert-mode") {
        None => None,
        Some("legacy") => Some(InvertMode::Legacy),
        Some("plain") => Some(InvertMode::Plain),
        Some(other) => {
            return Err(ToolError::BadInput(format!(
                "--invert-mode {other}: expected legacy or plain"
            )));
        }
    };
    let sem = semantics(version, invert);
    let bad = |e: String| ToolError::BadInput(e);
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| bad(format!("{}: cannot read: {e}", config_path.display())))?;
    let cfg = config::parse(&text).map_err(|e| bad(format!("{}: {e}", config_path.display())))?;
    let lines = std::fs::read_to_string(&traces)
        .map_err(|e| bad(format!("{}: cannot read: {e}", traces.display())))?;
    // Parse everything first: a bad line must not leave half an answer on stdout.
    let mut parsed = Vec::new();
    for (i, line) in lines.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let t = Trace::from_json_line(line)
            .map_err(|e| bad(format!("{}:{}: {e}", traces.display(), i + 1)))?;
        parsed.push(t);
    }
    let mut text = String::new();
    for t in &parsed {
        let f = decide(&cfg.policies, t, &sem, cfg.sample_on_first_match);
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
        text.push_str(&line.to_string());
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}
