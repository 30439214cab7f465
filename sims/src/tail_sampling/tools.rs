//! `lab tail-sampling decide`: how a collector with this config decides these traces. This is
//! how users debug their policies, and how the room is checked against upstream's cases.

use std::io::Write;

use super::config;
use super::evaluate::decide;
use super::limits::PolicyState;
use super::params::{parse_version, semantics};
use super::policy::{Decision, InvertMode};
use super::stream::{Added, TraceLines, Window, arrival_ns};
use super::trace::Trace;
use crate::tool::{ArgValue, Choice, Tool, ToolArg, ToolArgs, ToolCommand, ToolError};

/// The room's tools: `lab tail-sampling decide`.
pub(super) const TOOLS: &[Tool] = &[Tool {
    name: "tail-sampling",
    about: "OpenTelemetry tail_sampling tools: decide traces with a real collector config",
    commands: &[ToolCommand {
        name: "decide",
        about: "Decide each trace of a JSONL file as the collector would; one JSON line per trace",
        long_about: "Decides each trace of a JSONL file as one collector with this config would, one JSON line \
per trace with the final decision, the deciding policy and every policy's own decision.\n\n\
The traces of one call share one processor: stateful policies (rate_limiting, bytes_limiting, \
composite) keep their budgets across them. Traces are decided in file order, each at its \
earliest span end plus the config's decision_wait (span times are Unix nanoseconds): that \
clock is what the rate budgets count in, so the order of the lines and their timestamps \
decide which traces fit. Run traces separately to decide them against fresh budgets.",
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
                "Collector version: picks the invert mode, the latency boundary rule, the rate_limiting algorithm and composite allocation rule.",
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
    let open = || {
        std::fs::File::open(&traces)
            .map(std::io::BufReader::new)
            .map_err(|e| bad(format!("{}: cannot read: {e}", traces.display())))
    };
    let line_error = |(n, e): (usize, String)| bad(format!("{}:{n}: {e}", traces.display()));
    // A regular file is checked whole first, so a bad line never leaves half an answer on
    // stdout; a pipe can be read once only, and its answer stops at the bad line.
    let regular = std::fs::metadata(&traces).is_ok_and(|m| m.is_file());
    if regular {
        let mut lines = TraceLines::new(open()?);
        let mut any = false;
        while lines.next_line().map_err(line_error)?.is_some() {
            any = true;
        }
        if !any {
            return Err(bad(format!(
                "{}: no traces (the file is empty or holds only blank and # lines)",
                traces.display()
            )));
        }
    }
    let mut lines = TraceLines::new(open()?);
    let mut window = Window::new(&cfg);
    let (mut traces_in, mut late) = (0u64, 0u64);
    // One processor for the whole file: stateful policies share their budgets, clocked by the
    // tick that decides each trace.
    let mut state = PolicyState::new(cfg.slots);
    let mut decisions = Vec::new();
    let mut decide_one = |at: u64, t: Trace, out: &mut dyn Write, window: &mut Window| {
        state.now_ns = at.min(i64::MAX as u64) as i64;
        let f = decide(
            &cfg.policies,
            &t,
            &sem,
            cfg.sample_on_first_match,
            &mut state,
            Some(&mut decisions),
        );
        window.decided(u128::from_be_bytes(t.id), f.sampled);
        let per: Vec<serde_json::Value> = cfg
            .policies
            .iter()
            .zip(&decisions)
            .map(|(p, d)| {
                serde_json::json!({"name": p.name, "decision": d.map_or("NotEvaluated", name)})
            })
            .collect();
        let hex: String = t.id.iter().map(|b| format!("{b:02x}")).collect();
        let line = serde_json::json!({
            "trace_id_hex": hex,
            "decision": if f.sampled { "sampled" } else { "not_sampled" },
            "final": f.decision,
            "policy": f.policy,
            "invert_mode": match sem.invert { InvertMode::Legacy => "legacy", InvertMode::Plain => "plain" },
            "decided_at_ns": at,
            "policies": per,
        });
        writeln!(out, "{line}").map_err(ToolError::from)
    };
    while let Some(trace) = lines.next_line().map_err(line_error)? {
        traces_in += 1;
        for (at, t) in window.due(arrival_ns(&trace)) {
            decide_one(at, t, out, &mut window)?;
        }
        if let Added::Late = window.add(trace) {
            late += 1;
        }
    }
    if traces_in == 0 {
        return Err(bad(format!("{}: no traces", traces.display())));
    }
    for (at, t) in window.drain() {
        decide_one(at, t, out, &mut window)?;
    }
    if late > 0 {
        eprintln!(
            "note: {late} line(s) arrived after their trace's decision and followed it, as the \
             processor's late spans do (no new line is written for them)"
        );
    }
    if window.evicted_undecided > 0 {
        eprintln!(
            "note: {} trace(s) were evicted undecided (more than num_traces = {} waited at \
             once) and are lost, as in the processor: no line is written for them",
            window.evicted_undecided, cfg.num_traces
        );
    }
    Ok(())
}
