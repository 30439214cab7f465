//! The trace JSONL format of `lab tail-sampling decide`, and its [`TraceView`].
//!
//! One JSON object per line:
//! ```json
//! {"trace_id_hex": "4bf92f3577b34da6a3ce929d0e0e4736",
//!  "resource_attributes": {"service.name": "checkout"},
//!  "spans": [{"start_ns": 0, "end_ns": 2500000000, "status": "ERROR",
//!             "name": "GET /api/orders", "kind": "SERVER", "trace_state": "vendor=gold",
//!             "flags": 1, "attributes": {"http.target": "/health", "http.status_code": 503},
//!             "events": [{"name": "exception", "time_ns": 2400000000,
//!                         "attributes": {"exception.type": "Timeout"}}]}]}
//! ```
//! `status` is `UNSET` (default), `OK` or `ERROR`; `kind` an OTLP span kind (`SERVER`,
//! `SPAN_KIND_SERVER` or its number; default unspecified); `trace_state` the span's W3C
//! tracestate (default empty); `flags` the OTLP span flags, bit 0 the W3C sampled flag
//! (default 0). Attribute values are strings, integers, floats or booleans. Spans are listed
//! in arrival order; times are Unix nanoseconds.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ottl::{EventData, OttlPolicy, OttlSpan};
use super::policy::{AttrValue, StatusCode, TraceView};
use super::tracestate;

#[path = "otlp_size.rs"]
mod otlp_size;

/// One span event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JsonEvent {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub time_ns: u64,
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// One span.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JsonSpan {
    pub start_ns: u64,
    pub end_ns: u64,
    #[serde(default = "unset")]
    pub status: StatusCode,
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: Option<serde_json::Value>,
    #[serde(default)]
    pub trace_state: String,
    #[serde(default)]
    pub flags: u32,
    #[serde(default)]
    pub events: Vec<JsonEvent>,
}

fn unset() -> StatusCode {
    StatusCode::Unset
}

/// One trace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JsonTrace {
    pub trace_id_hex: String,
    #[serde(default)]
    pub resource_attributes: BTreeMap<String, serde_json::Value>,
    pub spans: Vec<JsonSpan>,
}

/// Attributes as (key, value) pairs in their original order.
pub(super) type Attrs = Vec<(String, AttrValue)>;

/// A span event ready for policies.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub name: String,
    pub time_ns: u64,
    pub attrs: Attrs,
}

/// A span ready for policies.
#[derive(Debug, Clone)]
pub(super) struct Span {
    pub start_ns: u64,
    pub end_ns: u64,
    pub status: StatusCode,
    pub attrs: Attrs,
    pub name: String,
    /// OTLP SpanKind number.
    pub kind: i64,
    pub trace_state: String,
    pub flags: u32,
    pub events: Vec<Event>,
}

/// A parsed trace ready for policies.
#[derive(Debug, Clone)]
pub(super) struct Trace {
    pub id: [u8; 16],
    pub resource: Attrs,
    pub spans: Vec<Span>,
}

fn attr(v: &serde_json::Value) -> Option<AttrValue> {
    match v {
        serde_json::Value::String(s) => Some(AttrValue::Str(s.clone())),
        serde_json::Value::Bool(b) => Some(AttrValue::Bool(*b)),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(AttrValue::Int)
            .or_else(|| n.as_f64().map(AttrValue::Double)),
        _ => None,
    }
}

fn kind(v: &Option<serde_json::Value>) -> Result<i64, String> {
    const NAMES: [&str; 6] = [
        "UNSPECIFIED",
        "INTERNAL",
        "SERVER",
        "CLIENT",
        "PRODUCER",
        "CONSUMER",
    ];
    let bad = || {
        format!(
            "kind {}: expected one of {} (or SPAN_KIND_<name>, or 0-5)",
            v.as_ref().map_or(String::new(), |v| v.to_string()),
            NAMES.join(", ")
        )
    };
    match v {
        None => Ok(0),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().filter(|k| (0..6).contains(k)).ok_or_else(bad)
        }
        Some(serde_json::Value::String(s)) => {
            let s = s.trim_start_matches("SPAN_KIND_").to_ascii_uppercase();
            NAMES
                .iter()
                .position(|n| *n == s)
                .map(|k| k as i64)
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn conv(m: &BTreeMap<String, serde_json::Value>) -> Attrs {
    m.iter()
        .filter_map(|(k, v)| attr(v).map(|a| (k.clone(), a)))
        .collect()
}

impl Trace {
    /// Parses one JSONL line.
    pub(super) fn from_json_line(line: &str) -> Result<Trace, String> {
        let t: JsonTrace = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let hex = t.trace_id_hex.trim();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "trace_id_hex `{hex}`: expected 32 hex digits (16 bytes)"
            ));
        }
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        let spans = t
            .spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Span {
                    start_ns: s.start_ns,
                    end_ns: s.end_ns,
                    status: s.status,
                    attrs: conv(&s.attributes),
                    name: s.name.clone(),
                    kind: kind(&s.kind).map_err(|e| format!("spans[{i}].{e}"))?,
                    trace_state: s.trace_state.clone(),
                    flags: s.flags,
                    events: s
                        .events
                        .iter()
                        .map(|e| Event {
                            name: e.name.clone(),
                            time_ns: e.time_ns,
                            attrs: conv(&e.attributes),
                        })
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Trace {
            id,
            resource: conv(&t.resource_attributes),
            spans,
        })
    }
}

/// A span with its trace's resource, as OTTL sees it.
struct SpanCtx<'a> {
    span: &'a Span,
    resource: &'a Attrs,
}

fn find<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a AttrValue> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl OttlSpan for SpanCtx<'_> {
    fn name(&self) -> &str {
        &self.span.name
    }
    fn kind(&self) -> i64 {
        self.span.kind
    }
    fn status_code(&self) -> i64 {
        match self.span.status {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }
    fn start_ns(&self) -> i64 {
        self.span.start_ns.min(i64::MAX as u64) as i64
    }
    fn end_ns(&self) -> i64 {
        self.span.end_ns.min(i64::MAX as u64) as i64
    }
    fn attr(&self, key: &str) -> Option<&AttrValue> {
        find(&self.span.attrs, key)
    }
    fn resource_attr(&self, key: &str) -> Option<&AttrValue> {
        find(self.resource, key)
    }
}

impl TraceView for Trace {
    fn trace_id(&self) -> [u8; 16] {
        self.id
    }

    fn attr_hit(&self, _leaf: usize, key: &str, hit: &dyn Fn(&AttrValue, bool) -> bool) -> bool {
        self.resource.iter().any(|(k, v)| k == key && hit(v, true))
            || self
                .spans
                .iter()
                .any(|s| s.attrs.iter().any(|(k, v)| k == key && hit(v, false)))
    }

    fn any_status(&self, codes: &[StatusCode]) -> bool {
        self.spans.iter().any(|s| codes.contains(&s.status))
    }

    fn for_each_span(&self, f: &mut dyn FnMut(u64, u64) -> bool) {
        for s in &self.spans {
            if !f(s.start_ns, s.end_ns) {
                break;
            }
        }
    }

    fn span_count(&self) -> i64 {
        self.spans.len() as i64
    }

    fn size_bytes(&self) -> i64 {
        otlp_size::trace_size(self) as i64
    }

    fn trace_state_hit(&self, _leaf: usize, key: &str, hit: &dyn Fn(&str) -> bool) -> bool {
        self.spans
            .iter()
            .any(|s| hit(tracestate::get(&s.trace_state, key)))
    }

    fn any_sampled_flag(&self) -> bool {
        self.spans.iter().any(|s| s.flags & 1 != 0)
    }

    fn ottl_hit(&self, _leaf: usize, c: &OttlPolicy) -> bool {
        self.spans.iter().any(|s| {
            let events: Vec<EventData<'_>> = s
                .events
                .iter()
                .map(|e| EventData {
                    name: &e.name,
                    time_ns: e.time_ns.min(i64::MAX as u64) as i64,
                    attrs: &e.attrs,
                })
                .collect();
            c.matches_span(
                &SpanCtx {
                    span: s,
                    resource: &self.resource,
                },
                &events,
            )
        })
    }
}
