//! The JSON tools against hand-written documents.

use super::*;

#[test]
fn scans_valid_objects_and_measures_them() {
    let s = scan_object(br#" {"a": 1, "b": [true, {"c": "h\u00e9llo"}], "d": null} "#).unwrap();
    assert_eq!(s.keys, 3);
    assert_eq!(s.depth, 3);
    assert_eq!(s.max_string_chars, 5);
    assert_eq!(s.max_value_bytes, r#"[true, {"c": "h\u00e9llo"}]"#.len());
    assert_eq!(scan_object(b"{}").unwrap().keys, 0);
    assert_eq!(
        scan_object("{\"k\":\"日本\"}".as_bytes())
            .unwrap()
            .max_string_chars,
        2
    );
    assert!(scan_object(br#"{"a":[],"b":{},"c":-0.5e+3}"#).is_ok());
}

#[test]
fn rejects_what_is_not_one_object() {
    for bad in [
        &b"[]"[..],
        b"\"s\"",
        b"",
        b"{",
        b"{\"a\"}",
        b"{\"a\":}",
        b"{\"a\":1,}",
        b"{\"a\":1}{",
        b"{\"a\":01}",
        b"{\"a\":1.}",
        b"{\"a\":tru}",
        b"{\"a\":\"\x01\"}",
        b"{\"a\":\"\\x\"}",
        b"{\"a\":[1,]}",
        b"{\"a\":[1}",
        b"{\"a\":{]}",
        b"{'a':1}",
    ] {
        assert!(
            scan_object(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn refuses_hostile_nesting_without_recursing() {
    let mut s = String::from("{\"a\":");
    s.push_str(&"[".repeat(100_000));
    assert_eq!(
        scan_object(s.as_bytes()).unwrap_err().what,
        "nested too deeply"
    );
    let ok = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
    assert_eq!(scan_object(ok.as_bytes()).unwrap().depth, 127);
    assert_eq!(
        members(s.as_bytes()).count(),
        0,
        "an unterminated value ends the members"
    );
}

#[test]
fn escapes_round_trip() {
    let original = "a\"b\\c\nd\u{1}e\u{1F600}é/";
    let mut out = Vec::new();
    write_str(&mut out, original);
    assert_eq!(string(&out).as_deref(), Some(original));
    assert_eq!(
        string(br#""\ud83d\ude00 \ud800x""#).as_deref(),
        Some("\u{1F600} \u{FFFD}x")
    );
    assert_eq!(string(br#""a" "#), None);
}

#[test]
fn reads_response_shapes_in_place() {
    let v: &[u8] =
        br#"{"success":false,"failed":1,"errors":[{"index":3,"error":"x"}],"n":-1,"f":1.5}"#;
    assert_eq!(field(v, "failed").and_then(uint), Some(1));
    let first = items(field(v, "errors").unwrap()).next().unwrap();
    assert_eq!(field(first, "index").and_then(uint), Some(3));
    assert_eq!(field(first, "error").and_then(string).as_deref(), Some("x"));
    assert_eq!(field(v, "n").and_then(uint), None);
    assert_eq!(field(v, "f").and_then(uint), None);
    assert_eq!(field(v, "missing"), None);
    assert_eq!(uint(b"99999999999999999999999"), None);
    assert_eq!(items(b"[]").count(), 0);
    assert_eq!(items(b"{}").count(), 0);
    assert_eq!(
        items(b" [1, \"],\" ,[2]] ").collect::<Vec<_>>(),
        vec![&b"1"[..], b"\"],\"", b"[2]"]
    );
}

#[test]
fn splits_top_level_members() {
    let m: Vec<_> = members(br#"{"a":{"b":"}"},"c":[1,"]"],"d":"x"}"#).collect();
    let keys: Vec<&[u8]> = m.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, vec![&b"a"[..], b"c", b"d"]);
    assert_eq!(m[0].1, br#"{"b":"}"}"#);
    assert_eq!(m[1].1, br#"[1,"]"]"#);
    assert_eq!(members(b"{}").count(), 0);
    assert_eq!(members(b"[1]").count(), 0);
}
