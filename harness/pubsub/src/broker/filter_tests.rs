//! Unit tests of the filter language: what matches, and what is refused with which words.

use super::*;

fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn matches(filter: &str, pairs: &[(&str, &str)]) -> bool {
    Filter::parse(filter).unwrap().matches(&attrs(pairs))
}

#[test]
fn each_operator_matches_as_google_documents() {
    let telemetry = [("subFolder", "telemetry"), ("deviceId", "pi-001")];
    assert!(matches(r#"attributes.subFolder = "telemetry""#, &telemetry));
    assert!(!matches(r#"attributes.subFolder = "state""#, &telemetry));
    assert!(matches(r#"attributes.subFolder != "state""#, &telemetry));
    assert!(
        matches(r#"attributes.missing != "x""#, &telemetry),
        "!= holds when the key is absent"
    );
    assert!(matches("attributes:deviceId", &telemetry));
    assert!(!matches("attributes:missing", &telemetry));
    assert!(matches("NOT attributes:missing", &telemetry));
    assert!(matches("-attributes:missing", &telemetry), "- is NOT");
    assert!(!matches("-attributes:deviceId", &telemetry));
    assert!(matches(r#"hasPrefix(attributes.deviceId, "pi-")"#, &telemetry));
    assert!(!matches(r#"hasPrefix(attributes.missing, "")"#, &telemetry));
    assert!(matches(
        r#"attributes."sub Folder" = "x""#,
        &[("sub Folder", "x")]
    ));
    assert!(matches(
        r#"attributes:"iana.org/language_tag""#,
        &[("iana.org/language_tag", "en")]
    ));
    assert!(matches(r#"attributes.ce-type = "a\"b""#, &[("ce-type", "a\"b")]));
}

#[test]
fn boolean_operators_and_parentheses_combine() {
    let f = r#"attributes:deviceId AND (attributes.subFolder = "a" OR attributes.subFolder = "b") AND NOT attributes:test"#;
    assert!(matches(f, &[("deviceId", "1"), ("subFolder", "b")]));
    assert!(!matches(f, &[("deviceId", "1"), ("subFolder", "c")]));
    assert!(!matches(
        f,
        &[("deviceId", "1"), ("subFolder", "a"), ("test", "")]
    ));
    assert!(matches(
        "attributes:a OR attributes:b OR attributes:c",
        &[("c", "")]
    ));
    assert!(matches("NOT (attributes:a AND attributes:b)", &[("a", "")]));
}

#[test]
fn bad_filters_are_refused_with_the_problem_and_its_position() {
    for (filter, words) in [
        (
            "attributes:a AND attributes:b OR attributes:c",
            "AND and OR cannot be mixed without parentheses at position 30",
        ),
        (
            "attributes.a = ",
            "expected a double-quoted string at position 15",
        ),
        (r#"attributes.a = "open"#, "unterminated string"),
        ("attributes.a", "expected =, != after the attribute key"),
        (r#"data = "x""#, "expected attributes, hasPrefix, NOT"),
        ("(attributes:a", r#"expected ")""#),
        (
            "attributes:a attributes:b",
            "expected AND, OR or the end of the filter",
        ),
        (
            "attributes:a and attributes:b",
            "expected AND, OR or the end of the filter",
        ),
        ("", "found the end of the filter"),
        (r#"hasPrefix(attributes.a "p")"#, r#"expected ",""#),
    ] {
        let err = Filter::parse(filter).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{filter}");
        let text = err.to_string();
        assert!(text.starts_with("Invalid filter expression: "), "{text}");
        assert!(text.contains(words), "{filter}: {text}");
    }
}

#[test]
fn the_length_limit_is_256_bytes() {
    let at_limit = format!("attributes:{}", "k".repeat(MAX_FILTER_BYTES - 11));
    assert_eq!(at_limit.len(), 256);
    Filter::parse(&at_limit).unwrap();
    let over = format!("{at_limit}k");
    let text = Filter::parse(&over).unwrap_err().to_string();
    assert!(
        text.contains("257 bytes long, but the maximum length is 256 bytes"),
        "{text}"
    );
}
