//! Time on the wire, in epoch milliseconds: ISO 8601 for event timestamps, and `Retry-After` in
//! both of its forms (delay-seconds, HTTP-date). The calendar arithmetic is Howard Hinnant's
//! days/civil algorithms, exact over the whole proleptic Gregorian range we accept (years
//! 1970..=9999), with no tables.

use super::num::{push_digit, push_digits};
use super::Millis;
use crate::prelude::*;

/// 9999-12-31T23:59:59.999Z: past this an ISO 8601 year no longer has four digits.
pub const MAX_TIMESTAMP: Millis = 253_402_300_799_999;

const DAY_MS: u64 = 86_400_000;

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shifted so the era starts on 0000-03-01; all values here are non-negative.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date, `None` before 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// `n` zero-padded to `width`, then `sep` (a field of an ISO 8601 timestamp). Seven calls rather
/// than a loop over a table of fields, which was built on the stack at each call (wasm size).
#[inline(never)]
fn push_field(out: &mut Vec<u8>, n: u64, width: usize, sep: u8) {
    push_digits(out, n, width);
    out.push(sep);
}

/// Appends `ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ`; callers keep `ms <= MAX_TIMESTAMP`.
pub fn push_iso8601(out: &mut Vec<u8>, ms: Millis) {
    let (y, mo, d) = civil_from_days(ms / DAY_MS);
    let in_day = ms % DAY_MS;
    push_field(out, y, 4, b'-');
    push_field(out, mo, 2, b'-');
    push_field(out, d, 2, b'T');
    push_field(out, in_day / 3_600_000, 2, b':');
    push_field(out, in_day / 60_000 % 60, 2, b':');
    push_field(out, in_day / 1000 % 60, 2, b'.');
    push_field(out, in_day % 1000, 3, b'Z');
}

/// The value of `min..=max` ASCII digits, or `u64::MAX`, which every range check of the caller
/// refuses (returning an Option cost a stack slot and its loads at each call in the wasm).
fn number(t: &[u8], min: usize, max: usize) -> u64 {
    if t.len() < min || t.len() > max {
        return u64::MAX;
    }
    let mut n = 0;
    for &c in t {
        if !c.is_ascii_digit() {
            return u64::MAX;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    n
}

/// Parses an HTTP-date in the IMF-fixdate form servers send (`Sun, 06 Nov 1994 08:49:37 GMT`);
/// the weekday is optional and not checked, as it carries no information.
pub fn parse_http_date(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    let b = match b.iter().position(|&c| c == b',') {
        Some(i) => b.get(i + 1..)?,
        None => b,
    };
    // Day, month, year, time, zone: five tokens between runs of spaces, no more (split by hand:
    // iterator adapters cost wasm size). A missing token stays empty and fails below.
    let mut tokens: [&[u8]; 5] = [b""; 5];
    let (mut n, mut start) = (0, 0);
    for i in 0..=b.len() {
        if b.get(i).map_or(true, |&c| c == b' ') {
            if i > start {
                *tokens.get_mut(n)? = b.get(start..i)?;
                n += 1;
            }
            start = i + 1;
        }
    }
    let [day, month, year, time, zone] = tokens;
    let day = number(day, 1, 2);
    let year = number(year, 4, 4);
    if !(zone == b"GMT" || zone == b"UTC") || time.len() != 8 {
        return None;
    }
    if !matches!((time.get(2), time.get(5)), (Some(b':'), Some(b':'))) {
        return None;
    }
    let part = |at: usize| number(time.get(at..at + 2).unwrap_or_default(), 2, 2);
    let (h, mi, sec) = (part(0), part(3), part(6));
    // One string, three letters a month: a table of slices would be 96 bytes of pointers.
    const MONTHS: &[u8; 36] = b"janfebmaraprmayjunjulaugsepoctnovdec";
    let mut mo = 0;
    while !MONTHS.get(mo * 3..mo * 3 + 3)?.eq_ignore_ascii_case(month) {
        mo += 1;
    }
    let mo = mo as u64 + 1;
    if !(1..=31).contains(&day) || year > 9999 || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, mo, day)?;
    Some(days * DAY_MS + (h * 3600 + mi * 60 + sec) * 1000)
}

/// The wait a `Retry-After` header asks for, from `now`: delta-seconds (digits only) or an
/// HTTP-date in the future. Anything else (`-5`, `1.5`, a date already past) is `None`, and the
/// caller falls back to its backoff: an unreadable header never means "resend at once".
pub fn parse_retry_after(raw: &str, now: Millis) -> Option<Millis> {
    let digits = super::json::trim_ws(raw.as_bytes());
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        // Saturate rather than fail on absurd values; the give-up horizon bounds the wait anyway.
        let secs = digits.iter().fold(0u64, |n, &c| {
            push_digit(n, u64::from(c - b'0')).unwrap_or(u64::MAX)
        });
        return Some(if secs > u64::MAX / 1000 {
            u64::MAX
        } else {
            secs * 1000
        });
    }
    // The npm package's wasm is built without `http-date`: its web layer hands the core a date as
    // the seconds left until it, read by the platform's own `Date.parse` (src/web/js/net.js `post`).
    if cfg!(feature = "http-date") {
        return parse_http_date(raw)
            .filter(|&at| at > now)
            .map(|at| at - now);
    }
    let _ = now;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ms: Millis) -> String {
        let mut v = Vec::new();
        push_iso8601(&mut v, ms);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn formats_iso8601() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_573_057_123), "2026-11-25T02:17:37.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(MAX_TIMESTAMP), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_round_trips_every_day_of_four_centuries() {
        for days in (0..146_097 * 2).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), Some(days));
        }
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_http_date("06 nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_in_both_forms() {
        assert_eq!(parse_retry_after(" 120 ", 5), Some(120_000));
        assert_eq!(
            parse_retry_after("99999999999999999999999", 0),
            Some(u64::MAX)
        );
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(parse_retry_after(date, 784_111_767_000), Some(10_000));
        for (past, now) in [(date, 784_111_787_000), (date, 784_111_777_000)] {
            assert_eq!(parse_retry_after(past, now), None, "a past date is ignored");
        }
        for bad in ["soon", "-5", "1.5", "", " ", "+3", "1e3"] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad}");
        }
    }
}
