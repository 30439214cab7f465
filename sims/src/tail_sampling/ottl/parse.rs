//! The parser of the OTTL subset (OTTL's grammar: `or` of `and` of optionally negated boolean
//! values; a boolean value is a parenthesised expression, a comparison, a boolean literal or a
//! boolean converter).

use regex::Regex;

use super::lex::{Spanned, Tok};
use super::{Cond, Context, Field, Lit, Op, OttlError, Val};

pub(super) struct Parser<'a> {
    toks: &'a [Spanned],
    pos: usize,
    end: usize,
    ctx: Context,
}

const PATHS_SPAN: &str = "name, kind, status.code, start_time_unix_nano, end_time_unix_nano, attributes[\"k\"], resource.attributes[\"k\"]";
const PATHS_EVENT: &str =
    "name, time_unix_nano, attributes[\"k\"], resource.attributes[\"k\"], span.<span path>";

impl<'a> Parser<'a> {
    pub(super) fn new(toks: &'a [Spanned], end: usize, ctx: Context) -> Parser<'a> {
        Parser {
            toks,
            pos: 0,
            end,
            ctx,
        }
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, o)| *o)
    }

    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, OttlError> {
        Err(OttlError {
            column: at + 1,
            message: message.into(),
        })
    }

    fn describe(t: Option<&Tok>) -> String {
        match t {
            None => "the end of the condition".into(),
            Some(Tok::Ident(s)) => format!("`{s}`"),
            Some(Tok::Str(s)) => format!("the string {s:?}"),
            Some(Tok::Int(i)) => format!("`{i}`"),
            Some(Tok::Float(f)) => format!("`{f}`"),
            Some(Tok::Op(o)) => format!("`{o}`"),
            Some(Tok::LParen) => "`(`".into(),
            Some(Tok::RParen) => "`)`".into(),
            Some(Tok::LBracket) => "`[`".into(),
            Some(Tok::RBracket) => "`]`".into(),
            Some(Tok::Comma) => "`,`".into(),
            Some(Tok::Dot) => "`.`".into(),
            Some(Tok::Plus) => "`+`".into(),
            Some(Tok::Minus) => "`-`".into(),
        }
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), OttlError> {
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(
                self.at(),
                format!("expected {what}, found {}", Self::describe(self.peek())),
            )
        }
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == k)
    }

    /// A whole condition: an expression and nothing after it.
    pub(super) fn condition(mut self) -> Result<Cond, OttlError> {
        if self.toks.is_empty() {
            return self.err(0, "empty condition");
        }
        let c = self.or()?;
        if self.pos < self.toks.len() {
            return self.err(
                self.at(),
                format!("unexpected {}", Self::describe(self.peek())),
            );
        }
        Ok(c)
    }

    fn or(&mut self) -> Result<Cond, OttlError> {
        let mut terms = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one")
        } else {
            Cond::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Cond, OttlError> {
        let mut terms = vec![self.boolean()?];
        while self.keyword("and") {
            self.pos += 1;
            terms.push(self.boolean()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one")
        } else {
            Cond::And(terms)
        })
    }

    fn boolean(&mut self) -> Result<Cond, OttlError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.boolean()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let c = self.or()?;
            self.expect(&Tok::RParen, "`)`")?;
            return Ok(c);
        }
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == "IsMatch") {
            return self.is_match();
        }
        let start = self.at();
        let left = self.value()?;
        let op = match self.peek() {
            Some(Tok::Op(o)) => match *o {
                "==" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            _ => {
                return match left {
                    Val::Lit(Lit::Bool(b)) => Ok(Cond::Const(b)),
                    _ => self.err(
                        start,
                        format!(
                            "expected a comparison (==, !=, <, <=, >, >=) after this value, found {}",
                            Self::describe(self.peek())
                        ),
                    ),
                };
            }
        };
        self.pos += 1;
        let right = self.value()?;
        if let Some(Tok::Op(o)) = self.peek() {
            return self.err(
                self.at(),
                format!("comparisons do not chain: unexpected `{o}`"),
            );
        }
        Ok(Cond::Cmp(left, op, right))
    }

    fn is_match(&mut self) -> Result<Cond, OttlError> {
        self.pos += 1;
        self.expect(&Tok::LParen, "`(` after IsMatch")?;
        let target = self.value()?;
        self.expect(&Tok::Comma, "`,` between IsMatch's target and pattern")?;
        let at = self.at();
        let pattern = match self.peek() {
            Some(Tok::Str(s)) => s.clone(),
            other => {
                return self.err(
                    at,
                    format!(
                        "IsMatch's pattern must be a string literal, found {}",
                        Self::describe(other)
                    ),
                );
            }
        };
        self.pos += 1;
        self.expect(&Tok::RParen, "`)` closing IsMatch")?;
        let re = Regex::new(&pattern).map_err(|e| OttlError {
            column: at + 1,
            message: format!("IsMatch pattern is not a valid regex: {e}"),
        })?;
        Ok(Cond::IsMatch(target, re))
    }

    /// A value: a primary, optionally `+`/`-` integer arithmetic.
    fn value(&mut self) -> Result<Val, OttlError> {
        let start = self.at();
        let mut v = self.primary()?;
        while matches!(self.peek(), Some(Tok::Plus) | Some(Tok::Minus)) {
            let plus = self.peek() == Some(&Tok::Plus);
            let op_at = self.at();
            self.pos += 1;
            let rhs_at = self.at();
            let rhs = self.primary()?;
            for (side, at) in [(&v, start), (&rhs, rhs_at)] {
                if !is_int(side) {
                    return self.err(
                        at,
                        format!(
                            "arithmetic (`{}` at column {}) is supported only between time fields and integer literals",
                            if plus { '+' } else { '-' },
                            op_at + 1
                        ),
                    );
                }
            }
            v = Val::Math(Box::new(v), plus, Box::new(rhs));
        }
        Ok(v)
    }

    fn primary(&mut self) -> Result<Val, OttlError> {
        let at = self.at();
        let tok = self.peek();
        let v = match tok {
            Some(Tok::Str(s)) => Val::Lit(Lit::Str(s.clone())),
            Some(Tok::Int(i)) => Val::Lit(Lit::Int(*i)),
            Some(Tok::Float(f)) => Val::Lit(Lit::Float(*f)),
            Some(Tok::Minus) => {
                // A negative number literal.
                return match self.toks.get(self.pos + 1).map(|(t, _)| t) {
                    Some(Tok::Int(i)) => {
                        self.pos += 2;
                        Ok(Val::Lit(Lit::Int(-*i)))
                    }
                    Some(Tok::Float(f)) => {
                        self.pos += 2;
                        Ok(Val::Lit(Lit::Float(-*f)))
                    }
                    _ => self.err(at, "unexpected `-`"),
                };
            }
            Some(Tok::Ident(s)) => {
                let s = s.as_str();
                match s {
                    "true" => Val::Lit(Lit::Bool(true)),
                    "false" => Val::Lit(Lit::Bool(false)),
                    "nil" => Val::Lit(Lit::Nil),
                    _ if self.toks.get(self.pos + 1).map(|(t, _)| t) == Some(&Tok::LParen) => {
                        return self.err(
                            at,
                            format!(
                                "function `{s}` is outside claimlab's OTTL subset (supported: IsMatch, as a condition)"
                            ),
                        );
                    }
                    _ if s.starts_with(|c: char| c.is_ascii_uppercase()) => {
                        Val::Lit(Lit::Int(enum_value(s).ok_or_else(|| OttlError {
                            column: at + 1,
                            message: format!(
                                "unknown enum `{s}` (supported: SPAN_KIND_*, STATUS_CODE_*)"
                            ),
                        })?))
                    }
                    _ => return self.path().map(Val::Path),
                }
            }
            other => {
                return self.err(
                    at,
                    format!("expected a value, found {}", Self::describe(other)),
                );
            }
        };
        self.pos += 1;
        Ok(v)
    }

    /// `a.b.c` with at most one `["key"]`, mapped onto the fields of the context.
    fn path(&mut self) -> Result<Field, OttlError> {
        let at = self.at();
        let mut segs: Vec<String> = Vec::new();
        loop {
            match self.peek() {
                Some(Tok::Ident(s)) => segs.push(s.clone()),
                other => {
                    return self.err(
                        self.at(),
                        format!("expected a path segment, found {}", Self::describe(other)),
                    );
                }
            }
            self.pos += 1;
            if self.peek() == Some(&Tok::Dot) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let mut key = None;
        if self.peek() == Some(&Tok::LBracket) {
            let key_at = self.at();
            self.pos += 1;
            match self.peek() {
                Some(Tok::Str(s)) => key = Some(s.clone()),
                other => {
                    return self.err(
                        self.at(),
                        format!(
                            "expected a string key inside [ ], found {}",
                            Self::describe(other)
                        ),
                    );
                }
            }
            self.pos += 1;
            self.expect(&Tok::RBracket, "`]`")?;
            if self.peek() == Some(&Tok::LBracket) {
                return self.err(
                    key_at,
                    "nested keys (map or slice indexing inside a value) are outside the subset",
                );
            }
        }
        let name = segs.join(".");
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let field = match self.ctx {
            Context::Span => span_field(segs.strip_prefix(&["span"]).unwrap_or(&segs), key),
            Context::SpanEvent => {
                let segs = segs.strip_prefix(&["spanevent"]).unwrap_or(&segs);
                match segs {
                    ["name"] if key.is_none() => Some(Field::EventName),
                    ["time_unix_nano"] if key.is_none() => Some(Field::EventTimeNs),
                    ["attributes"] => key.map(Field::EventAttr),
                    ["resource", "attributes"] => key.map(Field::ResourceAttr),
                    ["span", rest @ ..] => span_field(rest, key),
                    _ => None,
                }
            }
        };
        field.ok_or_else(|| {
            let message = if segs.last() == Some(&"duration") {
                "the OTTL span context has no `duration` path (the processor exposes none); compare `end_time_unix_nano - start_time_unix_nano` instead".to_string()
            } else if matches!(segs.last(), Some(&"attributes")) {
                format!("`{name}` needs a string key: {name}[\"key\"]")
            } else {
                let known = match self.ctx {
                    Context::Span => PATHS_SPAN,
                    Context::SpanEvent => PATHS_EVENT,
                };
                format!("path `{name}` is outside claimlab's OTTL subset (supported: {known})")
            };
            OttlError {
                column: at + 1,
                message,
            }
        })
    }
}

fn span_field(segs: &[&str], key: Option<String>) -> Option<Field> {
    match (segs, key) {
        (["name"], None) => Some(Field::Name),
        (["kind"], None) => Some(Field::Kind),
        (["status", "code"], None) => Some(Field::StatusCode),
        (["start_time_unix_nano"], None) => Some(Field::StartNs),
        (["end_time_unix_nano"], None) => Some(Field::EndNs),
        (["attributes"], Some(k)) => Some(Field::Attr(k)),
        (["resource", "attributes"], Some(k)) => Some(Field::ResourceAttr(k)),
        _ => None,
    }
}

fn is_int(v: &Val) -> bool {
    match v {
        Val::Lit(Lit::Int(_)) => true,
        Val::Path(f) => f.is_time(),
        Val::Math(..) => true,
        _ => false,
    }
}

/// OTTL's span enums: `SPAN_KIND_*` (OTLP SpanKind) and `STATUS_CODE_*` (OTLP StatusCode).
fn enum_value(s: &str) -> Option<i64> {
    Some(match s {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        _ => return None,
    })
}
