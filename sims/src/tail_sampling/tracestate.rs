//! W3C `tracestate` as the processor reads it (`go.opentelemetry.io/otel/trace`
//! `ParseTraceState`): comma-separated `key=value` members, at most 32, keys unique; a string
//! that does not parse yields nothing (the `trace_state` policy then does not match).

fn key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'*' | b'/')
}

/// `[a-z][a-z0-9_\-*/]{0,255}` or `[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}`.
fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    match k.split_once('@') {
        None => {
            !b.is_empty()
                && b.len() <= 256
                && b[0].is_ascii_lowercase()
                && b[1..].iter().all(|&c| key_char(c))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t[1..].iter().all(|&c| key_char(c))
                && !s.is_empty()
                && s.len() <= 14
                && s[0].is_ascii_lowercase()
                && s[1..].iter().all(|&c| key_char(c))
        }
    }
}

/// 1 to 256 printable ASCII characters other than `,` and `=`, the last not a space.
fn valid_value(v: &str) -> bool {
    let b = v.as_bytes();
    let ok = |c: u8| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=';
    !b.is_empty() && b.len() <= 256 && b.iter().all(|&c| ok(c)) && b[b.len() - 1] != b' '
}

/// The members of `ts`, or `None` when it does not parse.
pub(super) fn parse(ts: &str) -> Option<Vec<(&str, &str)>> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for m in ts.split(',') {
        if m.is_empty() {
            continue;
        }
        let (k, v) = m.split_once('=')?;
        let k = k.trim_start_matches([' ', '\t']);
        let v = v.trim_end_matches([' ', '\t']);
        if !valid_key(k) || !valid_value(v) || members.iter().any(|(x, _)| *x == k) {
            return None;
        }
        members.push((k, v));
        if members.len() > 32 {
            return None;
        }
    }
    Some(members)
}

/// `TraceState.Get(key)`: the value, or "" when absent or when `ts` does not parse (the
/// policy's matcher never holds "" among its values).
pub(super) fn get<'a>(ts: &'a str, key: &str) -> &'a str {
    parse(ts)
        .and_then(|m| m.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keys_and_values() {
        assert_eq!(get("example=value,other=x", "example"), "value");
        assert_eq!(
            get("example=non_matching,non_matching=value", "example"),
            "non_matching"
        );
        assert_eq!(get(" a=1 ,b=2", "a"), "1");
        assert_eq!(get("vendor@tenant=v", "vendor@tenant"), "v");
        // Invalid tracestates yield nothing at all.
        assert_eq!(get("Example=value", "Example"), "");
        assert_eq!(get("a=1,a=2", "a"), "");
        assert_eq!(get("a=b=c", "a"), "");
        assert_eq!(get("novalue", "novalue"), "");
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(get(&many.join(","), "k0"), "");
        assert_eq!(get(&many[..32].join(","), "k0"), "v");
        assert_eq!(get("", "a"), "");
    }
}
