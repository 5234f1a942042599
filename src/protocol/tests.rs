//! The protocols' own tests: the server zone's hosts, and arbitrary bytes into every decoder.

mod zone {
    use crate::protocol::*;

    #[test]
    fn the_zone_picks_amplitudes_host() {
        let eu = ServerZone::Eu;
        assert_eq!(
            Protocol::AmplitudeHttpV2.default_host(eu),
            Some("https://api.eu.amplitude.com")
        );
        assert_eq!(
            Protocol::AmplitudeBatch.default_host(ServerZone::default()),
            Some("https://api2.amplitude.com")
        );
        assert_eq!(Protocol::V1Batch.default_host(eu), None);
    }
}

/// Arbitrary bytes into every decoder and scanner (the stable-toolchain complement of `fuzz/`):
/// nothing may panic, and what the scanner accepts the parser must accept too.
#[cfg(not(target_arch = "wasm32"))] // proptest is native-only
mod robustness {
    use crate::protocol::*;
    use proptest::prelude::*;

    /// Bytes biased towards JSON punctuation, so the deeper branches are reached.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => prop::sample::select(b"{}[]\":,\\ 0123456789-+.eEtrufalsn\x01\xc3\xa9u".to_vec()),
            1 => any::<u8>(),
        ];
        prop::collection::vec(byte, 0..200)
    }

    /// A plain byte-at-a-time reading of the JSON string grammar, to check the fast scanner.
    fn reference_string(b: &[u8]) -> Option<(usize, usize)> {
        let mut i = 1;
        let mut chars = 0;
        loop {
            match *b.get(i)? {
                b'"' => return Some((i + 1, chars)),
                b'\\' => {
                    match *b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' if b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => i += 6,
                        _ => return None,
                    }
                    chars += 1;
                }
                c if c < 0x20 => return None,
                c => {
                    chars += usize::from(c & 0xC0 != 0x80);
                    i += 1;
                }
            }
        }
    }

    proptest! {
        #![proptest_config(crate::base::proptest_config(1_000))]

        #[test]
        fn decoders_take_any_bytes(body in jsonish(), status in 0u16..1000, ra in proptest::option::of(0u64..10_000_000)) {
            for p in Protocol::ALL {
                let _ = p.decode(status, ra, &body, usize::from(status % 5));
            }
            for (k, v) in json::members(&body) {
                let _ = (json::unescape(k), json::string(v), json::uint(v), json::items(v).count());
            }
            let _ = json::items(&body).count();
            let text = String::from_utf8_lossy(&body);
            let _ = crate::base::time::parse_retry_after(&text, 1_700_000_000_000);
            let _ = crate::base::time::parse_http_date(&text);
        }

        #[test]
        fn scanner_and_reader_agree(body in jsonish()) {
            // Whatever the scanner accepts, the in-place reader walks to the end.
            if let Ok(stats) = json::scan_object(&body) {
                prop_assert_eq!(json::members(&body).count(), stats.keys);
            }
        }

        #[test]
        fn fast_string_scan_matches_the_grammar(text in "[a-z\"\\\\\u{1}\u{e9}\u{1F600} u0-9]{0,40}") {
            let quoted = ["\"", &text].concat();
            let fast = json::scan_string(quoted.as_bytes(), 0).ok();
            prop_assert_eq!(fast, reference_string(quoted.as_bytes()));
        }

        #[test]
        fn escaped_strings_parse_back(s in any::<String>()) {
            let mut out = Vec::new();
            json::write_str(&mut out, &s);
            prop_assert_eq!(json::string(&out), Some(s));
        }
    }
}
