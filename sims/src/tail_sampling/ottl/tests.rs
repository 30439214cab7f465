//! The OTTL subset: what parses, what is refused (and where), and OTTL's comparison rules.

use super::*;
use crate::tail_sampling::attr::AttrValue;

struct S {
    attrs: Vec<(String, AttrValue)>,
}

impl OttlSpan for S {
    fn name(&self) -> &str {
        "GET /api/orders"
    }
    fn kind(&self) -> i64 {
        2
    }
    fn status_code(&self) -> i64 {
        2
    }
    fn start_ns(&self) -> i64 {
        1_000_000_000
    }
    fn end_ns(&self) -> i64 {
        3_500_000_000
    }
    fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    fn resource_attr(&self, key: &str) -> Option<&AttrValue> {
        (key == "service.name").then_some(&self.attrs[0].1)
    }
}

fn span() -> S {
    S {
        attrs: vec![
            ("service".into(), AttrValue::Str("checkout".into())),
            ("http.status_code".into(), AttrValue::Int(503)),
            ("ratio".into(), AttrValue::Double(0.5)),
            ("retry".into(), AttrValue::Bool(true)),
        ],
    }
}

fn holds(src: &str) -> bool {
    let c = parse_condition(src, Context::Span).unwrap_or_else(|e| panic!("{src}: {e}"));
    eval::holds(&c, &span(), None)
}

fn refused(src: &str) -> OttlError {
    parse_condition(src, Context::Span).expect_err(src)
}

#[test]
fn comparisons_follow_ottl_rules() {
    assert!(holds(r#"attributes["http.status_code"] >= 500"#));
    assert!(holds(r#"attributes["http.status_code"] == 503.0"#));
    assert!(holds(r#"attributes["ratio"] < 1"#));
    assert!(holds(r#"attributes["retry"] == true"#));
    assert!(holds(r#"attributes["service"] > "bank""#));
    // Unlike types: unequal and unordered.
    assert!(holds(r#"attributes["http.status_code"] != "503""#));
    assert!(!holds(r#"attributes["http.status_code"] == "503""#));
    assert!(!holds(r#"attributes["service"] < 5"#));
    // Missing attributes are nil: equal to nil only.
    assert!(holds(r#"attributes["missing"] == nil"#));
    assert!(holds(r#"attributes["missing"] != "x""#));
    assert!(!holds(r#"attributes["missing"] < 5"#));
    assert!(!holds(r#"attributes["missing"] >= 5"#));
    assert!(holds(
        r#"resource.attributes["service.name"] == "checkout""#
    ));
    assert!(holds(
        "kind == SPAN_KIND_SERVER and status.code == STATUS_CODE_ERROR"
    ));
    assert!(holds(r#"name == "GET /api/orders""#));
    assert!(holds(
        "end_time_unix_nano - start_time_unix_nano > 2000000000"
    ));
    assert!(holds(
        "span.end_time_unix_nano - 2500000000 == span.start_time_unix_nano"
    ));
}

#[test]
fn boolean_structure_and_is_match() {
    assert!(holds(r#"not attributes["retry"] == false"#));
    assert!(holds(r#"false or (true and not false)"#));
    // `and` binds tighter than `or`.
    assert!(holds(r#"true or false and false"#));
    assert!(!holds(r#"(true or false) and false"#));
    assert!(holds(r#"IsMatch(name, "^GET /api/.*")"#));
    assert!(holds(
        r#"IsMatch(attributes["http.status_code"], "^5\\d\\d$")"#
    ));
    assert!(!holds(r#"IsMatch(attributes["missing"], ".*")"#));
    assert!(holds(r#"IsMatch(attributes["ratio"], "^0.5$")"#));
}

#[test]
fn outside_the_subset_is_refused_with_its_column() {
    let cases: &[(&str, usize, &str)] = &[
        ("duration > 5", 1, "no `duration` path"),
        (
            r#"attributes["a"] == "b" && true"#,
            24,
            "unsupported character `&`",
        ),
        (r#"Substring(name, 0, 3) == "GET""#, 1, "Substring"),
        (r#"attributes["a"]["b"] == 1"#, 11, "nested keys"),
        (r#"attributes == nil"#, 1, "needs a string key"),
        (
            r#"trace_id.string == "x""#,
            1,
            "outside claimlab's OTTL subset",
        ),
        (
            r#"attributes["a"] * 2 > 1"#,
            17,
            "unsupported character `*`",
        ),
        (r#"attributes["a"] - 1 > 1"#, 1, "arithmetic"),
        (r#"name"#, 1, "expected a comparison"),
        (r#"name == "a" == "b""#, 13, "do not chain"),
        (r#"IsMatch(name, name)"#, 15, "string literal"),
        (r#"IsMatch(name, "(")"#, 15, "valid regex"),
        (r#"kind == SPAN_KIND_WHATEVER"#, 9, "unknown enum"),
        (r#"name == 0x1f"#, 9, "unsupported number"),
        (r#"(name == "a""#, 13, "expected `)`"),
        (r#""#, 1, "empty condition"),
        (r#"name == "a\q""#, 11, "unsupported escape"),
    ];
    for (src, column, text) in cases {
        let e = refused(src);
        assert_eq!(e.column, *column, "{src}: {e}");
        assert!(e.message.contains(text), "{src}: {e}");
    }
}

#[test]
fn span_event_context_paths() {
    let c = parse_condition(
        r#"name == "exception" and span.name == "GET /api/orders" and attributes["type"] == "Timeout""#,
        Context::SpanEvent,
    )
    .unwrap();
    let attrs = vec![("type".to_string(), AttrValue::Str("Timeout".into()))];
    let ev = EventData {
        name: "exception",
        time_ns: 5,
        attrs: &attrs,
    };
    assert!(eval::holds(&c, &span(), Some(&ev)));
    assert!(parse_condition("time_unix_nano > 0", Context::Span).is_err());
    assert!(parse_condition("spanevent.time_unix_nano > 0", Context::SpanEvent).is_ok());
}
