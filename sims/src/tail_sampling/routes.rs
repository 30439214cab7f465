//! Attribute policies answered once per synthetic route: which leaf matches which route's root
//! span, so the collector never evaluates attributes per trace.

use super::config::TailConfig;
use super::policy::{AttrValue, Semantics, StatusCode, TraceView};

/// A synthetic route's root-span attributes, as a trace the policies can be asked about.
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
}

/// For every attribute policy (leaf) and route: does the route's root span match?
pub(super) fn route_memo(cfg: &TailConfig, routes: &[String], key: &str) -> Vec<Vec<bool>> {
    use super::policy::{Policy, PolicyKind};
    let mut memo = vec![vec![false; routes.len()]; cfg.leaves];
    fn walk(p: &Policy, f: &mut dyn FnMut(&Policy)) {
        f(p);
        match &p.kind {
            PolicyKind::And(s) | PolicyKind::Drop(s) => s.iter().for_each(|q| walk(q, f)),
            PolicyKind::Not(q) => walk(q, f),
            _ => {}
        }
    }
    // Evaluate each leaf with invert off on each route: the raw "hit".
    let sem = Semantics {
        invert: super::policy::InvertMode::Plain,
        latency_lower_inclusive: true,
    };
    for p in &cfg.policies {
        walk(p, &mut |q| {
            let (leaf, raw) = match &q.kind {
                PolicyKind::StringAttribute {
                    leaf,
                    key,
                    values,
                    regexes,
                    ..
                } => (
                    *leaf,
                    PolicyKind::StringAttribute {
                        leaf: *leaf,
                        key: key.clone(),
                        values: values.clone(),
                        regexes: regexes.clone(),
                        invert: false,
                    },
                ),
                PolicyKind::NumericAttribute {
                    leaf,
                    key,
                    min,
                    max,
                    ..
                } => (
                    *leaf,
                    PolicyKind::NumericAttribute {
                        leaf: *leaf,
                        key: key.clone(),
                        min: *min,
                        max: *max,
                        invert: false,
                    },
                ),
                PolicyKind::BooleanAttribute {
                    leaf, key, value, ..
                } => (
                    *leaf,
                    PolicyKind::BooleanAttribute {
                        leaf: *leaf,
                        key: key.clone(),
                        value: *value,
                        invert: false,
                    },
                ),
                _ => return,
            };
            let probe = Policy {
                name: String::new(),
                kind: raw,
            };
            for (r, path) in routes.iter().enumerate() {
                let t = RouteTrace {
                    attrs: vec![
                        (key.to_string(), AttrValue::Str(path.clone())),
                        ("http.request.method".into(), AttrValue::Str("GET".into())),
                    ],
                };
                memo[leaf][r] = probe.evaluate(&t, &sem) == super::policy::Decision::Sampled;
            }
        });
    }
    memo
}
