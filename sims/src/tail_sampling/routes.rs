//! Content policies answered once per synthetic route, so the collector never evaluates
//! attributes, tracestates or OTTL conditions per trace.
//!
//! The day's synthetic spans: the root is the server span `GET <route>` (kind SERVER) with
//! the route under the configured attribute key and `http.request.method: GET`; the other
//! spans are client spans `SELECT` (kind CLIENT) without attributes; a span in error has status
//! ERROR, the others UNSET; no span has events or resource attributes. Every span carries the
//! W3C sampled flag (head sampling keeps everything) and, for a share of traces, the
//! scenario's tracestate.

use super::config::TailConfig;
use super::limits::PolicyState;
use super::ottl::{EventData, OttlPolicy, OttlSpan};
use super::policy::{AttrValue, Decision, Policy, PolicyKind, Semantics, StatusCode, TraceView};
use super::tracestate;

/// Per leaf: which routes' root spans match (attribute policies), whether the scenario's
/// tracestate matches (trace_state), and the OTTL answers per span shape.
#[derive(Debug, Clone, Default)]
pub(super) struct Memo {
    pub attr: Vec<Vec<bool>>,
    pub state: Vec<bool>,
    pub ottl: Vec<OttlMemo>,
}

/// OTTL answers for a leaf: root span per route and [UNSET, ERROR]; child span [UNSET, ERROR].
#[derive(Debug, Clone, Default)]
pub(super) struct OttlMemo {
    pub root: Vec<[bool; 2]>,
    pub child: [bool; 2],
}

/// A synthetic span as OTTL sees it.
struct SynthSpan {
    name: String,
    kind: i64,
    error: bool,
    attrs: Vec<(String, AttrValue)>,
}

impl OttlSpan for SynthSpan {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> i64 {
        self.kind
    }
    fn status_code(&self) -> i64 {
        if self.error { 2 } else { 0 }
    }
    fn start_ns(&self) -> i64 {
        0
    }
    fn end_ns(&self) -> i64 {
        0
    }
    fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn resource_attr(&self, _key: &str) -> Option<&AttrValue> {
        None
    }
}

/// A synthetic route's root-span attributes, as a trace the attribute policies can be asked
/// about.
struct RouteTrace {
    attrs: Vec<(String, AttrValue)>,
}

impl TraceView for RouteTrace {
    fn trace_id(&self) -> [u8; 16] {
        [0; 16]
    }
    fn attr_hit(&self, _leaf: usize, key: &str, hit: &dyn Fn(&AttrValue, bool) -> bool) -> bool {
        self.attrs.iter().any(|(k, v)| k == key && hit(v, false))
    }
    fn any_status(&self, _codes: &[StatusCode]) -> bool {
        false
    }
    fn for_each_span(&self, _f: &mut dyn FnMut(u64, u64) -> bool) {}
    fn span_count(&self) -> i64 {
        1
    }
    fn size_bytes(&self) -> i64 {
        0
    }
    fn trace_state_hit(&self, _leaf: usize, _key: &str, _hit: &dyn Fn(&str) -> bool) -> bool {
        false
    }
    fn any_sampled_flag(&self) -> bool {
        true
    }
    fn ottl_hit(&self, _leaf: usize, _c: &OttlPolicy) -> bool {
        false
    }
}

/// Calls `f` on every policy and sub-policy.
pub(super) fn walk(p: &Policy, f: &mut dyn FnMut(&Policy)) {
    f(p);
    match &p.kind {
        PolicyKind::And(s) | PolicyKind::Drop(s) => s.iter().for_each(|q| walk(q, f)),
        PolicyKind::Not(q) => walk(q, f),
        PolicyKind::Composite(c) => c.subs.iter().for_each(|s| walk(&s.policy, f)),
        _ => {}
    }
}

/// The name of a policy whose OTTL conditions read timestamps, if any.
pub(super) fn ottl_reading_time(cfg: &TailConfig) -> Option<String> {
    let mut found = None;
    for p in &cfg.policies {
        walk(p, &mut |q| {
            if let PolicyKind::Ottl { cond, .. } = &q.kind {
                if cond.reads_time && found.is_none() {
                    found = Some(if q.name.is_empty() {
                        p.name.clone()
                    } else {
                        q.name.clone()
                    });
                }
            }
        });
    }
    found
}

/// Answers every content policy (leaf) for every route.
pub(super) fn route_memo(
    cfg: &TailConfig,
    routes: &[String],
    key: &str,
    trace_state: &str,
) -> Memo {
    let mut memo = Memo {
        attr: vec![Vec::new(); cfg.leaves],
        state: vec![false; cfg.leaves],
        ottl: vec![OttlMemo::default(); cfg.leaves],
    };
    // Evaluate each attribute leaf with invert off on each route: the raw "hit".
    let sem = Semantics {
        invert: super::policy::InvertMode::Plain,
        ..Semantics::CURRENT
    };
    let root_attrs = |path: &str| {
        vec![
            (key.to_string(), AttrValue::Str(path.to_string())),
            ("http.request.method".into(), AttrValue::Str("GET".into())),
        ]
    };
    for p in &cfg.policies {
        walk(p, &mut |q| {
            let raw = match &q.kind {
                PolicyKind::StringAttribute {
                    leaf,
                    key,
                    values,
                    regexes,
                    ..
                } => PolicyKind::StringAttribute {
                    leaf: *leaf,
                    key: key.clone(),
                    values: values.clone(),
                    regexes: regexes.clone(),
                    invert: false,
                },
                PolicyKind::NumericAttribute {
                    leaf,
                    key,
                    min,
                    max,
                    ..
                } => PolicyKind::NumericAttribute {
                    leaf: *leaf,
                    key: key.clone(),
                    min: *min,
                    max: *max,
                    invert: false,
                },
                PolicyKind::BooleanAttribute {
                    leaf, key, value, ..
                } => PolicyKind::BooleanAttribute {
                    leaf: *leaf,
                    key: key.clone(),
                    value: *value,
                    invert: false,
                },
                PolicyKind::TraceState { leaf, key, values } => {
                    let v = tracestate::get(trace_state, key);
                    memo.state[*leaf] = values.iter().any(|x| x == v);
                    return;
                }
                PolicyKind::Ottl { leaf, cond } => {
                    let child = |error| SynthSpan {
                        name: "SELECT".into(),
                        kind: 3,
                        error,
                        attrs: Vec::new(),
                    };
                    let none: [EventData<'_>; 0] = [];
                    let m = &mut memo.ottl[*leaf];
                    m.child = [false, true].map(|e| cond.matches_span(&child(e), &none));
                    m.root = routes
                        .iter()
                        .map(|r| {
                            [false, true].map(|error| {
                                let s = SynthSpan {
                                    name: format!("GET {r}"),
                                    kind: 2,
                                    error,
                                    attrs: root_attrs(r),
                                };
                                cond.matches_span(&s, &none)
                            })
                        })
                        .collect();
                    return;
                }
                _ => return,
            };
            let leaf = match raw {
                PolicyKind::StringAttribute { leaf, .. }
                | PolicyKind::NumericAttribute { leaf, .. }
                | PolicyKind::BooleanAttribute { leaf, .. } => leaf,
                _ => unreachable!("attribute kinds only"),
            };
            let probe = Policy {
                name: String::new(),
                kind: raw,
            };
            let mut st = PolicyState::new(0);
            memo.attr[leaf] = routes
                .iter()
                .map(|path| {
                    let t = RouteTrace {
                        attrs: root_attrs(path),
                    };
                    probe.evaluate(&t, &sem, &mut st) == Decision::Sampled
                })
                .collect();
        });
    }
    memo
}
