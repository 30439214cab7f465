//! Finding where a field lives in the scenario's text, so errors can show file:line:column.
//!
//! The typed parse loses positions; this walks a `toml_edit` document (which keeps spans) along
//! a path of keys and indices, and returns the span of the deepest part it could find.

use std::ops::Range;

use toml_edit::{Document, Item, Table, Value};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Splits a room's field path (`service.values[2]`, `classes[1]`) into segments.
pub fn parse_field_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            segs.push(Seg::Key(rest[..i].to_string()));
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                if let Ok(n) = stripped[..end].parse() {
                    segs.push(Seg::Index(n));
                }
                rest = &stripped[end + 1..];
            }
        } else {
            segs.push(Seg::Key(rest.to_string()));
        }
    }
    segs
}

/// Renders segments as `a.b[2].c`.
pub fn display_path(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                if k.contains('.') || k.is_empty() {
                    s.push_str(&format!("\"{k}\""));
                } else {
                    s.push_str(k);
                }
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Item(&'a Item),
    Value(&'a Value),
}

impl Node<'_> {
    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Table(t) => t.span(),
            Node::Item(Item::Table(t)) => t.span(),
            Node::Item(it) => it.span(),
            Node::Value(v) => v.span(),
        }
    }
}

/// The span of the value at `path` (or of the key itself when `want_key` and the last step is a
/// key), falling back to the deepest ancestor that exists. `None` if even the first step is
/// missing.
pub fn span_of(doc: &Document<String>, path: &[Seg], want_key: bool) -> Option<Range<usize>> {
    let mut node = Node::Table(doc.as_table());
    let mut best: Option<Range<usize>> = None;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let table = match node {
            Node::Table(t) | Node::Item(Item::Table(t)) => Some(t),
            _ => None,
        };
        let value = match node {
            Node::Item(Item::Value(v)) | Node::Value(v) => Some(v),
            _ => None,
        };
        let next = match (table, value, seg) {
            (Some(t), _, Seg::Key(k)) => {
                if last && want_key {
                    if let Some(span) = t.key(k).and_then(|key| key.span()) {
                        return Some(span);
                    }
                }
                t.get(k).map(Node::Item)
            }
            (_, Some(Value::InlineTable(t)), Seg::Key(k)) => {
                if last && want_key {
                    if let Some(span) = t.key(k).and_then(|key| key.span()) {
                        return Some(span);
                    }
                }
                t.get(k).map(Node::Value)
            }
            (_, Some(Value::Array(a)), Seg::Index(n)) => a.get(*n).map(Node::Value),
            (None, None, Seg::Index(n)) => match node {
                Node::Item(Item::ArrayOfTables(a)) => a.get(*n).map(Node::Table),
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(n) => {
                if let Some(span) = n.span() {
                    best = Some(span);
                }
                node = n;
            }
            None => return best,
        }
    }
    best
}

/// The dotted path of the deepest key or value whose span contains byte `offset`
/// (`scenario.replications`, `claims[1].expect`), for errors that only come with a span.
pub fn path_at(doc: &Document<String>, offset: usize) -> Option<String> {
    let mut segs = Vec::new();
    if table_path_at(doc.as_table(), offset, &mut segs) {
        Some(display_path(&segs))
    } else {
        None
    }
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn table_path_at(t: &Table, offset: usize, segs: &mut Vec<Seg>) -> bool {
    for (k, item) in t.iter() {
        segs.push(Seg::Key(k.to_string()));
        let deeper = match item {
            Item::Table(sub) => table_path_at(sub, offset, segs),
            Item::ArrayOfTables(a) => a.iter().enumerate().any(|(i, sub)| {
                segs.push(Seg::Index(i));
                let hit = table_path_at(sub, offset, segs) || contains(sub.span(), offset);
                if !hit {
                    segs.pop();
                }
                hit
            }),
            Item::Value(v) => value_path_at(v, offset, segs),
            Item::None => false,
        };
        if deeper
            || contains(t.key(k).and_then(|key| key.span()), offset)
            || contains(item.span(), offset)
        {
            return true;
        }
        segs.pop();
    }
    false
}

fn value_path_at(v: &Value, offset: usize, segs: &mut Vec<Seg>) -> bool {
    match v {
        Value::InlineTable(t) => {
            for (k, val) in t.iter() {
                segs.push(Seg::Key(k.to_string()));
                if value_path_at(val, offset, segs)
                    || contains(t.key(k).and_then(|key| key.span()), offset)
                    || contains(val.span(), offset)
                {
                    return true;
                }
                segs.pop();
            }
            false
        }
        Value::Array(a) => {
            for (i, val) in a.iter().enumerate() {
                segs.push(Seg::Index(i));
                if value_path_at(val, offset, segs) || contains(val.span(), offset) {
                    return true;
                }
                segs.pop();
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Document<String> {
        Document::parse(s.to_string()).unwrap()
    }

    #[test]
    fn finds_values_keys_and_nested_inline_tables() {
        let src = "[params]\nservice = { dist = \"exp\", mean = 0 }\n\n[[points]]\nname = \"a\"\n[[points]]\nparams = { classes = [1, -1] }\n";
        let d = doc(src);
        let at = |p: &str, k| {
            let r = span_of(&d, &parse_field_path(p), k).unwrap();
            &src[r]
        };
        assert_eq!(at("params.service.mean", false), "0");
        assert_eq!(at("params.service.mean", true), "mean");
        assert_eq!(at("points[1].params.classes[1]", false), "-1");
        assert_eq!(at("points[0].name", false), "\"a\"");
        // Missing leaf: falls back to the deepest ancestor.
        assert_eq!(
            at("params.service.cv", false),
            "{ dist = \"exp\", mean = 0 }"
        );
    }

    #[test]
    fn parses_and_displays_paths() {
        let p = parse_field_path("service.values[2]");
        assert_eq!(
            p,
            [
                Seg::Key("service".into()),
                Seg::Key("values".into()),
                Seg::Index(2)
            ]
        );
        assert_eq!(display_path(&p), "service.values[2]");
    }
}
