use super::*;
use crate::protocol::{amplitude, EventFields, EventKind};

/// The Amplitude event of a track event with this context.
fn enc(context: &str) -> String {
    let ev = EventFields {
        kind: EventKind::Track,
        name: Some("Buy"),
        message_id: "ins-1",
        anonymous_id: Some("device-1"),
        user_id: None,
        group_id: None,
        previous_id: None,
        timestamp: 1_700_000_000_123,
        properties: None,
        traits: None,
        context: Some(context),
        #[cfg(feature = "user-properties")]
        skip_user_properties_sync: false,
    };
    let mut out = Vec::new();
    amplitude::encode(&ev, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        json::scan_object(text.as_bytes()).is_ok(),
        "not JSON: {text}"
    );
    text
}

/// The raw JSON of member `key` of the event `context` encodes to.
fn member(context: &str, key: &str) -> Option<String> {
    let text = enc(context);
    json::field(text.as_bytes(), key).map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn m(context: &str, key: &str) -> String {
    member(context, key).unwrap_or_else(|| panic!("no {key} in {}", enc(context)))
}

#[test]
fn library_is_name_slash_version() {
    let c = r#"{"library":{"name":"batchwire","version":"0.4.1"}}"#;
    assert_eq!(m(c, "library"), r#""batchwire/0.4.1""#);
    assert_eq!(
        m(r#"{"library":{"name":"batchwire"}}"#, "library"),
        r#""batchwire""#
    );
    assert_eq!(member(r#"{"library":{"version":"1"}}"#, "library"), None);
}

#[test]
fn locale_session_page_app_and_ip() {
    let c = r#"{"locale":"de-DE","sessionId":1700000000000,"page":{"path":"/"},"app":{"version":"2.1.0","build":"7"},"ip":"192.0.2.1"}"#;
    assert_eq!(m(c, "language"), r#""de-DE""#);
    assert_eq!(m(c, "session_id"), "1700000000000");
    assert_eq!(m(c, "platform"), r#""Web""#);
    assert_eq!(m(c, "app_version"), r#""2.1.0""#);
    assert_eq!(m(c, "ip"), r#""192.0.2.1""#);
    assert_eq!(member("{}", "platform"), None, "no page: not a browser");
}

#[test]
fn os_device_and_location() {
    let c = r#"{"os":{"name":"iOS","version":"17.1"},"device":{"manufacturer":"Apple","model":"iPhone15,2","brand":"Apple","id":"x"},"location":{"country":"France","region":"IDF","city":"Paris","latitude":48.8566,"longitude":-2.35e0,"speed":0}}"#;
    let text = enc(c);
    assert!(
        text.ends_with(r#""os_name":"iOS","os_version":"17.1","device_model":"iPhone15,2","device_brand":"Apple","device_manufacturer":"Apple","country":"France","region":"IDF","city":"Paris","location_lat":48.8566,"location_lng":-2.35e0}"#),
        "{text}"
    );
}

#[test]
fn members_come_in_key_order_after_the_event_fields() {
    let c = r#"{"ip":"192.0.2.1","locale":"en","library":{"name":"l"},"sessionId":5,"page":{}}"#;
    assert_eq!(
        enc(c),
        r#"{"event_type":"Buy","insert_id":"ins-1","device_id":"device-1","time":1700000000123,"library":"l","session_id":5,"platform":"Web","language":"en","ip":"192.0.2.1"}"#
    );
}

#[test]
fn values_of_the_wrong_type_are_left_out() {
    let c = r#"{"locale":7,"sessionId":"1700000000000","library":{"name":["x"],"version":"1"},"ip":null,"os":{"name":{},"version":17},"device":{"model":true},"app":"2.0","location":{"country":1,"latitude":"48.8","longitude":null},"userAgent":5}"#;
    assert_eq!(
        enc(c),
        r#"{"event_type":"Buy","insert_id":"ins-1","device_id":"device-1","time":1700000000123}"#
    );
    // A float, a negative number or an empty string is not a session or a value either.
    for c in [
        r#"{"sessionId":1.5}"#,
        r#"{"sessionId":-1}"#,
        r#"{"locale":""}"#,
    ] {
        assert!(enc(c).ends_with(r#""time":1700000000123}"#), "{c}");
    }
}

#[test]
fn escaped_strings_are_copied_as_they_are() {
    let c = r#"{"locale":"a\"b\u00e9","library":{"name":"x\\y","version":"1\/2"}}"#;
    assert_eq!(m(c, "language"), r#""a\"b\u00e9""#);
    assert_eq!(m(c, "library"), r#""x\\y/1\/2""#);
}

#[test]
fn the_user_agent_fills_os_and_device_model_when_os_is_absent() {
    let ua = r#""Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36""#;
    let c = format!(r#"{{"userAgent":{ua}}}"#);
    assert!(
        enc(&c).ends_with(r#""os_name":"Chrome","os_version":"120","device_model":"Windows"}"#),
        "{}",
        enc(&c)
    );
    // device.model wins over the OS family.
    let c = format!(r#"{{"userAgent":{ua},"device":{{"model":"Surface"}}}}"#);
    assert_eq!(m(&c, "device_model"), r#""Surface""#);
    // os given: the user agent is not read.
    let c = format!(r#"{{"userAgent":{ua},"os":{{"name":"Windows"}}}}"#);
    assert_eq!(m(&c, "os_name"), r#""Windows""#);
    assert_eq!(member(&c, "os_version"), None);
    assert_eq!(member(&c, "device_model"), None);
    // An escaped slash (PHP's json_encode) reads the same.
    let c = r#"{"userAgent":"Mozilla\/5.0 (X11; Linux x86_64; rv:121.0) Gecko\/20100101 Firefox\/121.0"}"#;
    assert_eq!(m(c, "os_name"), r#""Firefox""#);
    assert_eq!(m(c, "os_version"), r#""121""#);
}

#[test]
fn real_user_agents() {
    /// A user agent and the browser, its major version and the OS family read from it.
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: [Case; 13] = [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            Some("Chrome"), Some("120"), Some("Windows")),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            Some("Safari"), Some("17"), Some("Mac OS")),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
            Some("Safari"), Some("17"), Some("iOS")),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            Some("Firefox"), Some("121"), Some("Linux")),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
            Some("Edge"), Some("120"), Some("Windows")),
        ("Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            Some("Samsung Internet"), Some("23"), Some("Android")),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
            Some("Opera"), Some("105"), Some("Windows")),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
            Some("Chrome"), Some("120"), Some("iOS")),
        ("Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
            Some("Firefox"), Some("121"), Some("iOS")),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            Some("Chrome"), Some("120"), Some("Chrome OS")),
        ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.0.0",
            Some("Edge"), Some("120"), Some("Android")),
        // Presto Opera: `Version/` without `Safari` is not Safari.
        ("Opera/9.80 (Windows NT 6.1) Presto/2.12.388 Version/12.16",
            None, None, Some("Windows")),
        ("curl/8.4.0", None, None, None),
    ];
    for (ua, browser, major, family) in cases {
        let got = parse_user_agent(ua.as_bytes());
        assert_eq!(
            (got.browser, got.major, got.family),
            (
                browser.map(str::as_bytes),
                major.map(str::as_bytes),
                family.map(str::as_bytes)
            ),
            "{ua}"
        );
    }
}

#[test]
fn custom_keys_are_named_and_segment_names_are_not() {
    let key = |c: &str| unsent_key(c.as_bytes()).map(|k| String::from_utf8(k.to_vec()).unwrap());
    assert_eq!(key(r#"{"page":{},"foo":1,"bar":2}"#), Some("foo".into()));
    assert_eq!(key(r#"{"libraryX":1}"#), Some("libraryX".into()));
    assert_eq!(key(r#"{"Locale":"en"}"#), Some("Locale".into()));
    let all = r#"{"active":true,"app":{},"campaign":{},"channel":"web","device":{},"groupId":"g","instance":1,"instanceId":"i","ip":"x","library":{},"locale":"en","location":{},"network":{},"os":{},"page":{},"referrer":{},"screen":{},"sessionId":1,"timezone":"UTC","traits":{},"userAgent":"x","userAgentData":{}}"#;
    assert_eq!(key(all), None);
    // Not sent, silently: no Amplitude field for them.
    let text = enc(all);
    for absent in [
        "timezone", "campaign", "screen", "traits", "referrer", "channel",
    ] {
        assert!(!text.contains(absent), "{text}");
    }
}
