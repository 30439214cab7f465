//! The subset of OTTL (the OpenTelemetry Transformation Language) that sampling configs use in
//! the `ottl_condition` policy, parsed at load time and evaluated exactly.
//!
//! Supported: the paths `name`, `kind`, `status.code`, `start_time_unix_nano`,
//! `end_time_unix_nano`, `attributes["k"]`, `resource.attributes["k"]` (span context; the
//! `span.` prefix is accepted), and in the span event context `name`, `time_unix_nano`,
//! `attributes["k"]` of the event plus `span.<span path>` (the `spanevent.` prefix is
//! accepted); string, integer, float, `true`/`false`/`nil` literals and the `SPAN_KIND_*` /
//! `STATUS_CODE_*` enums; `==`, `!=`, `<`, `<=`, `>`, `>=` with OTTL's typed comparison rules;
//! `+` and `-` between time fields and integer literals; `and`, `or`, `not`, parentheses;
//! `IsMatch(target, "regex")`. The span context has no `duration` path upstream either.
//! Anything else is refused when the config loads, naming the column of the token.
//!
//! None of these can fail at evaluation (a missing attribute reads as `nil`, comparisons of
//! unlike types are simply false, `IsMatch` on `nil` is false), so `error_mode` is parsed and
//! validated but never changes a decision here.

mod eval;
mod lex;
mod parse;

pub(crate) use eval::{EventData, OttlSpan};

use regex::Regex;

/// A field a path reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Name,
    Kind,
    StatusCode,
    StartNs,
    EndNs,
    Attr(String),
    ResourceAttr(String),
    EventName,
    EventTimeNs,
    EventAttr(String),
}

impl Field {
    /// Whether the field is a timestamp (an integer that is never nil).
    fn is_time(&self) -> bool {
        matches!(self, Field::StartNs | Field::EndNs | Field::EventTimeNs)
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

/// A value expression.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Lit(Lit),
    Path(Field),
    /// Integer `+` (true) or `-` (false) of two integer-typed values.
    Math(Box<Val>, bool, Box<Val>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A boolean expression.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    Const(bool),
    Cmp(Val, Op, Val),
    IsMatch(Val, Regex),
}

/// The OTTL context a condition runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Span,
    SpanEvent,
}

/// `error_mode` of an `ottl_condition` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorMode {
    Ignore,
    Silent,
    Propagate,
}

/// A compiled `ottl_condition` policy: a trace matches when any span satisfies any span
/// condition, or any span event any span-event condition.
#[derive(Debug, Clone)]
pub(crate) struct OttlPolicy {
    pub span: Vec<Cond>,
    pub event: Vec<Cond>,
    /// Validated and kept, though nothing in the subset can fail at evaluation.
    #[allow(dead_code)]
    pub error_mode: ErrorMode,
    /// Some condition reads a timestamp (the day-long simulation has no per-span times).
    pub reads_time: bool,
}

/// A condition that is outside the subset or malformed: column (1-based) and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OttlError {
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for OttlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// Parses one condition in `ctx`.
pub(crate) fn parse_condition(src: &str, ctx: Context) -> Result<Cond, OttlError> {
    let tokens = lex::lex(src)?;
    parse::Parser::new(&tokens, src.len(), ctx).condition()
}

/// Whether `c` reads a timestamp anywhere.
pub(crate) fn reads_time(c: &Cond) -> bool {
    fn val(v: &Val) -> bool {
        match v {
            Val::Lit(_) => false,
            Val::Path(f) => f.is_time(),
            Val::Math(a, _, b) => val(a) || val(b),
        }
    }
    match c {
        Cond::Or(cs) | Cond::And(cs) => cs.iter().any(reads_time),
        Cond::Not(c) => reads_time(c),
        Cond::Const(_) => false,
        Cond::Cmp(a, _, b) => val(a) || val(b),
        Cond::IsMatch(a, _) => val(a),
    }
}

impl OttlPolicy {
    /// Whether the conditions hold on `span` or one of its `events`.
    pub(crate) fn matches_span(&self, span: &dyn OttlSpan, events: &[EventData<'_>]) -> bool {
        self.span.iter().any(|c| eval::holds(c, span, None))
            || events
                .iter()
                .any(|e| self.event.iter().any(|c| eval::holds(c, span, Some(e))))
    }
}

#[cfg(test)]
mod tests;
