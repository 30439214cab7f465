//! The trace JSONL format of `lab tail-sampling decide`, and its [`TraceView`].
//!
//! One JSON object per line:
//! ```json
//! {"trace_id_hex": "4bf92f3577b34da6a3ce929d0e0e4736",
//!  "resource_attributes": {"service.name": "checkout"},
//!  "spans": [{"start_ns": 0, "end_ns": 2500000000, "status": "ERROR",
//!             "attributes": {"http.target": "/health", "http.status_code": 503}}]}
//! ```
//! `status` is `UNSET` (default), `OK` or `ERROR`; attribute values are strings, integers,
//! floats or booleans. Spans are listed in arrival order.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::policy::{AttrValue, StatusCode, TraceView};

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
    /// Accepted (exports carry it) but no policy reads a span's name.
    #[serde(default, rename = "name")]
    _name: String,
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

/// A parsed trace ready for policies: spans as (start ns, end ns, status, attributes).
#[derive(Debug, Clone)]
pub(super) struct Trace {
    pub id: [u8; 16],
    pub resource: Attrs,
    pub spans: Vec<(u64, u64, StatusCode, Attrs)>,
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
        let conv = |m: &BTreeMap<String, serde_json::Value>| -> Attrs {
            m.iter()
                .filter_map(|(k, v)| attr(v).map(|a| (k.clone(), a)))
                .collect()
        };
        Ok(Trace {
            id,
            resource: conv(&t.resource_attributes),
            spans: t
                .spans
                .iter()
                .map(|s| (s.start_ns, s.end_ns, s.status, conv(&s.attributes)))
                .collect(),
        })
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
                .any(|(_, _, _, attrs)| attrs.iter().any(|(k, v)| k == key && hit(v, false)))
    }

    fn any_status(&self, codes: &[StatusCode]) -> bool {
        self.spans.iter().any(|(_, _, s, _)| codes.contains(s))
    }

    fn for_each_span(&self, f: &mut dyn FnMut(u64, u64) -> bool) {
        for (s, e, _, _) in &self.spans {
            if !f(*s, *e) {
                break;
            }
        }
    }
}
