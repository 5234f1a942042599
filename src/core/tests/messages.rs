//! Every message text, pinned: they are user-facing, and `say` templates are easy to renumber
//! wrongly.

use super::*;

#[test]
fn every_rejection_has_its_message() {
    let texts = [
        (
            Rejected::TooLarge {
                bytes: 2000,
                limit: 1024,
            },
            "event needs a 2000-byte request on its own; the limit is 1024 bytes (field: properties)",
        ),
        (
            Rejected::Unsupported {
                kind: EventKind::Alias,
                protocol: Protocol::AmplitudeHttpV2,
            },
            "alias events cannot be sent to Amplitude HTTP V2",
        ),
        (
            Rejected::QueueFull {
                events: 3,
                bytes: 40,
            },
            "the queue is full (3 events, 40 bytes) and nothing can be evicted",
        ),
        (
            Rejected::Invalid {
                kind: EventKind::Page,
                field: Field::MessageId,
                rule: Rule::NotPlain,
            },
            "page event messageId must be 1 to 128 bytes without quotes, backslashes or control characters (field: messageId)",
        ),
        (
            Rejected::Invalid {
                kind: EventKind::Identify,
                field: Field::Timestamp,
                rule: Rule::OutOfRange,
            },
            "identify event timestamp is after the year 9999 (field: timestamp)",
        ),
    ];
    for (rejected, text) in texts {
        assert_eq!(rejected.message(), text);
    }
}

#[test]
fn every_warning_and_failure_has_its_message() {
    let field = Field::Traits;
    let warnings = [
        (
            Warning::TooManyKeys {
                field,
                keys: 301,
                limit: 300,
            },
            "traits has 301 keys; over 300 the server warns (field: traits)",
        ),
        (
            Warning::ValueTooLarge {
                field,
                bytes: 40000,
                limit: 32768,
            },
            "traits has a 40000-byte value; over 32768 the server warns (field: traits)",
        ),
        (
            Warning::TooDeep {
                field,
                depth: 9,
                limit: 8,
            },
            "traits is nested 9 levels deep; over 8 the server warns (field: traits)",
        ),
        (
            Warning::LongString {
                field: Field::Event,
                chars: 1025,
                limit: 1024,
            },
            "event has a 1025-character string; Amplitude truncates at 1024 (field: event)",
        ),
        (
            Warning::IdRemoved {
                field: Field::UserId,
            },
            "userId is not an id Amplitude keeps; it is not sent (field: userId)",
        ),
        (
            Warning::Server {
                message: "slow down".into(),
            },
            "server warning: slow down",
        ),
        (
            Warning::UnmatchedServerError {
                error: "bad {0}".into(),
            },
            "server reported an error for an unknown event: bad {0}",
        ),
    ];
    for (warning, text) in warnings {
        assert_eq!(warning.message(), text);
    }
    let failures = [
        (
            FailReason::Rejected {
                error: "too long".into(),
            },
            "the server rejected the event: too long",
        ),
        (
            FailReason::PermanentHttp {
                status: 403,
                error: "read key".into(),
            },
            "the server refused the request with HTTP 403: read key",
        ),
        (
            FailReason::TooLarge {
                bytes: 2000,
                limit: 1999,
            },
            "the event needs a 2000-byte request; the server accepts 1999",
        ),
        (
            FailReason::Evicted,
            "the queue was full and the event was the oldest",
        ),
        (
            FailReason::RetryHorizon,
            "not delivered within give_up_after_ms",
        ),
    ];
    for (reason, text) in failures {
        assert_eq!(reason.message(), text);
    }
    let scan = crate::base::json::scan_object(b"{\"a\":}").unwrap_err();
    assert_eq!(scan.message(), "unexpected character at byte 5");
    assert_eq!(
        ConfigError::Zero("max_in_flight").message(),
        "setting must be positive (field: max_in_flight)"
    );
}
