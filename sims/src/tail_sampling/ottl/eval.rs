//! Evaluating the OTTL subset with OTTL's comparison rules (`pkg/ottl/compare.go`): two nils
//! are equal; nil is unequal to anything else and never ordered; int64 and float64 compare
//! numerically; strings compare bytewise; booleans order false < true; any other pairing is
//! unequal and unordered (only `!=` holds).

use std::cmp::Ordering;

use super::{Cond, Field, Lit, Op, Val};
use crate::tail_sampling::attr::AttrValue;

/// What a span offers the conditions.
pub(crate) trait OttlSpan {
    fn name(&self) -> &str;
    /// OTLP SpanKind number.
    fn kind(&self) -> i64;
    /// OTLP StatusCode number (0 unset, 1 ok, 2 error).
    fn status_code(&self) -> i64;
    fn start_ns(&self) -> i64;
    fn end_ns(&self) -> i64;
    fn attr(&self, key: &str) -> Option<&AttrValue>;
    fn resource_attr(&self, key: &str) -> Option<&AttrValue>;
}

/// A span event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventData<'a> {
    pub name: &'a str,
    pub time_ns: i64,
    pub attrs: &'a [(String, AttrValue)],
}

/// A runtime value.
#[derive(Debug, Clone, Copy)]
enum V<'a> {
    Nil,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn from_attr(a: Option<&AttrValue>) -> V<'_> {
    match a {
        None => V::Nil,
        Some(AttrValue::Str(s)) => V::Str(s),
        Some(AttrValue::Int(i)) => V::Int(*i),
        Some(AttrValue::Double(f)) => V::Float(*f),
        Some(AttrValue::Bool(b)) => V::Bool(*b),
    }
}

fn value<'a>(v: &'a Val, s: &'a dyn OttlSpan, e: Option<&EventData<'a>>) -> V<'a> {
    match v {
        Val::Lit(Lit::Str(x)) => V::Str(x),
        Val::Lit(Lit::Int(i)) => V::Int(*i),
        Val::Lit(Lit::Float(f)) => V::Float(*f),
        Val::Lit(Lit::Bool(b)) => V::Bool(*b),
        Val::Lit(Lit::Nil) => V::Nil,
        Val::Math(a, plus, b) => {
            // Both sides are integer-typed (checked at parse); int64 wraps as in Go.
            match (value(a, s, e), value(b, s, e)) {
                (V::Int(x), V::Int(y)) if *plus => V::Int(x.wrapping_add(y)),
                (V::Int(x), V::Int(y)) => V::Int(x.wrapping_sub(y)),
                _ => V::Nil,
            }
        }
        Val::Path(f) => match f {
            Field::Name => V::Str(s.name()),
            Field::Kind => V::Int(s.kind()),
            Field::StatusCode => V::Int(s.status_code()),
            Field::StartNs => V::Int(s.start_ns()),
            Field::EndNs => V::Int(s.end_ns()),
            Field::Attr(k) => from_attr(s.attr(k)),
            Field::ResourceAttr(k) => from_attr(s.resource_attr(k)),
            // Event paths only parse in the span event context, which always has an event.
            Field::EventName => e.map_or(V::Nil, |e| V::Str(e.name)),
            Field::EventTimeNs => e.map_or(V::Nil, |e| V::Int(e.time_ns)),
            Field::EventAttr(k) => e.map_or(V::Nil, |e| {
                from_attr(e.attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v))
            }),
        },
    }
}

fn ordered(o: Option<Ordering>, op: Op) -> bool {
    let Some(o) = o else {
        // NaN: only != holds.
        return op == Op::Ne;
    };
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
    }
}

/// OTTL's `compare(a, b, op)`.
fn compare(a: V<'_>, b: V<'_>, op: Op) -> bool {
    match (a, b) {
        (V::Nil, V::Nil) => matches!(op, Op::Eq | Op::Le | Op::Ge),
        (V::Str(x), V::Str(y)) => ordered(Some(x.as_bytes().cmp(y.as_bytes())), op),
        (V::Int(x), V::Int(y)) => ordered(Some(x.cmp(&y)), op),
        (V::Int(x), V::Float(y)) => ordered((x as f64).partial_cmp(&y), op),
        (V::Float(x), V::Int(y)) => ordered(x.partial_cmp(&(y as f64)), op),
        (V::Float(x), V::Float(y)) => ordered(x.partial_cmp(&y), op),
        (V::Bool(x), V::Bool(y)) => ordered(Some(x.cmp(&y)), op),
        // Unlike types, or nil against a value: unequal and unordered.
        _ => op == Op::Ne,
    }
}

/// OTTL's StringLikeGetter: the value as a string (`nil` stays nil).
fn string_like(v: V<'_>) -> Option<std::borrow::Cow<'_, str>> {
    Some(match v {
        V::Nil => return None,
        V::Str(s) => s.into(),
        V::Int(i) => i.to_string().into(),
        // strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, no exponent.
        V::Float(f) => format!("{f}").into(),
        V::Bool(b) => b.to_string().into(),
    })
}

/// Whether `c` holds on span `s` (and event `e` in the span event context).
pub(super) fn holds(c: &Cond, s: &dyn OttlSpan, e: Option<&EventData<'_>>) -> bool {
    match c {
        Cond::Or(cs) => cs.iter().any(|c| holds(c, s, e)),
        Cond::And(cs) => cs.iter().all(|c| holds(c, s, e)),
        Cond::Not(c) => !holds(c, s, e),
        Cond::Const(b) => *b,
        Cond::Cmp(a, op, b) => compare(value(a, s, e), value(b, s, e), *op),
        Cond::IsMatch(t, re) => string_like(value(t, s, e)).is_some_and(|x| re.is_match(&x)),
    }
}
