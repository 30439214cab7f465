//! The OTLP protobuf size of a trace, as the processor's `bytes_limiting` policy measures it
//! (`ptrace.ProtoMarshaler.TracesSize` of the spans received).
//!
//! The trace format carries no span ids, scopes or links, so the trace is sized as one
//! resource (its attributes) holding one empty instrumentation scope, each span with its
//! 16-byte trace id and an 8-byte span id, no parent span id and no links. Proto3 rules:
//! fields at their default value are omitted, except the embedded messages pdata always
//! writes (resource, scope, status, and each attribute's value).

use super::{Attrs, Span, Trace};
use crate::tail_sampling::attr::AttrValue;
use crate::tail_sampling::policy::StatusCode;

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// A length-delimited field with a one-byte tag.
fn len_field(payload: usize) -> usize {
    1 + varint_len(payload as u64) + payload
}

fn string_field(s: &str) -> usize {
    if s.is_empty() { 0 } else { len_field(s.len()) }
}

fn any_value(v: &AttrValue) -> usize {
    match v {
        // A oneof member is written even at its default value.
        AttrValue::Str(s) => len_field(s.len()),
        AttrValue::Bool(_) => 2,
        AttrValue::Int(i) => 1 + varint_len(*i as u64),
        AttrValue::Double(_) => 9,
    }
}

fn attributes(attrs: &Attrs) -> usize {
    attrs
        .iter()
        .map(|(k, v)| len_field(string_field(k) + len_field(any_value(v))))
        .sum()
}

fn fixed64(v: u64) -> usize {
    if v == 0 { 0 } else { 9 }
}

fn span_size(s: &Span) -> usize {
    let status_code = match s.status {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    };
    let events: usize = s
        .events
        .iter()
        .map(|e| len_field(fixed64(e.time_ns) + string_field(&e.name) + attributes(&e.attrs)))
        .sum();
    let body = len_field(16) // trace_id
        + len_field(8) // span_id
        + string_field(&s.trace_state)
        + string_field(&s.name)
        + if s.kind == 0 { 0 } else { 1 + varint_len(s.kind as u64) }
        + fixed64(s.start_ns)
        + fixed64(s.end_ns)
        + attributes(&s.attrs)
        + events
        + len_field(if status_code == 0 { 0 } else { 2 }) // status
        + if s.flags == 0 { 0 } else { 2 + 4 }; // field 16, fixed32: two-byte tag
    len_field(body)
}

/// The trace's size in bytes.
pub(super) fn trace_size(t: &Trace) -> usize {
    let spans: usize = t.spans.iter().map(span_size).sum();
    let scope_spans = len_field(len_field(0) + spans);
    let resource = len_field(attributes(&t.resource));
    len_field(resource + scope_spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_a_small_trace() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
        let t = Trace::from_json_line(
            r#"{"trace_id_hex": "0102030405060708090a0b0c0d0e0f10", "spans": [{"start_ns": 1, "end_ns": 2, "name": "ab"}]}"#,
        )
        .unwrap();
        // span: 18 + 10 + 4 (name) + 9 + 9 + 2 (empty status) = 52, framed 54; scope 2;
        // scope_spans 56 framed 58; resource 2; resource_spans 60 framed 62.
        assert_eq!(trace_size(&t), 62);
    }
}
