//! Tokens of the OTTL subset, each with its byte offset.

use super::OttlError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
}

/// A token and its byte offset in the condition.
pub(super) type Spanned = (Tok, usize);

fn err(at: usize, message: impl Into<String>) -> OttlError {
    OttlError {
        column: at + 1,
        message: message.into(),
    }
}

/// Splits `src` into tokens; characters outside the subset are refused where they stand.
pub(super) fn lex(src: &str) -> Result<Vec<Spanned>, OttlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push((Tok::LParen, start)),
            b')' => out.push((Tok::RParen, start)),
            b'[' => out.push((Tok::LBracket, start)),
            b']' => out.push((Tok::RBracket, start)),
            b',' => out.push((Tok::Comma, start)),
            b'.' => out.push((Tok::Dot, start)),
            b'+' => out.push((Tok::Plus, start)),
            b'-' => out.push((Tok::Minus, start)),
            b'=' | b'!' | b'<' | b'>' => {
                let two = b.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'=', true) => "==",
                    (b'!', true) => "!=",
                    (b'<', true) => "<=",
                    (b'>', true) => ">=",
                    (b'<', false) => "<",
                    (b'>', false) => ">",
                    _ => {
                        return Err(err(start, format!("unsupported token `{}`", c as char)));
                    }
                };
                out.push((Tok::Op(op), start));
                i += op.len();
                continue;
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err(start, "unterminated string")),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            let esc = match b.get(i + 1) {
                                Some(b'"') => '"',
                                Some(b'\\') => '\\',
                                Some(b'n') => '\n',
                                Some(b't') => '\t',
                                Some(b'r') => '\r',
                                _ => {
                                    return Err(err(
                                        i,
                                        "unsupported escape (supported: \\\" \\\\ \\n \\t \\r)",
                                    ));
                                }
                            };
                            s.push(esc);
                            i += 2;
                        }
                        Some(_) => {
                            // A whole UTF-8 character.
                            let ch = src[i..].chars().next().expect("in bounds");
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push((Tok::Str(s), start));
            }
            b'0'..=b'9' => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let float = b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit);
                if float {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if b.get(i)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                {
                    return Err(err(
                        start,
                        "unsupported number (hex, exponents and bytes literals are outside the subset)",
                    ));
                }
                let text = &src[start..i];
                let tok = if float {
                    Tok::Float(text.parse().map_err(|_| err(start, "bad number"))?)
                } else {
                    Tok::Int(
                        text.parse()
                            .map_err(|_| err(start, "integer out of range for int64"))?,
                    )
                };
                out.push((tok, start));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_string()), start));
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().expect("in bounds");
                return Err(err(start, format!("unsupported character `{ch}`")));
            }
        }
        i += 1;
    }
    Ok(out)
}
