//! An event's `context` (Segment's field names) as Amplitude's event fields.
//!
//! | context | Amplitude |
//! |---|---|
//! | library {name, version} | `library`: `"name/version"` (the name alone without a version) |
//! | locale | `language` |
//! | sessionId (integer, epoch ms of the session's start) | `session_id` |
//! | page (present: a browser page) | `platform`: `"Web"` |
//! | os {name, version} | `os_name`, `os_version` |
//! | userAgent, when there is no os | `os_name` / `os_version`: the browser and its major version, and `device_model`: the OS family, as Amplitude's browser SDK sends them ([`parse_user_agent`]) |
//! | device {manufacturer, model, brand} | `device_manufacturer`, `device_model` (before the user agent's OS family), `device_brand` |
//! | app {version} | `app_version` |
//! | ip | `ip` |
//! | location {country, region, city, latitude, longitude} | `country`, `region`, `city`, `location_lat`, `location_lng` |
//!
//! A value of the wrong type (a number for a string, a float for the session) or an empty string
//! is left out. Strings are copied as their JSON token (already escaped), numbers as theirs, so
//! nothing is re-encoded. Segment's other names ([`SEGMENT_NAMES`]: page, screen, timezone,
//! campaign, referrer...) have no Amplitude field and are not sent, silently; any other member
//! is named by the engine's warning `W_CONTEXT_NOT_SENT` ([`unsent_key`]).

use super::{next_word, ObjectWriter};
use crate::base::json::{self, field, field_or_empty};

/// Segment's context names (and the browser package's `sessionId`), each ended by a space: the
/// members mapped above and those with no Amplitude field, dropped without a warning.
const SEGMENT_NAMES: &[u8] = b"active app campaign channel device groupId instance instanceId ip library locale location network os page referrer screen sessionId timezone traits userAgent userAgentData ";

/// The first member of the context object `ctx` that is not one of Segment's names: it is not
/// sent, and the engine's warning names it.
pub(crate) fn unsent_key(ctx: &[u8]) -> Option<&[u8]> {
    members_not_in(ctx, SEGMENT_NAMES)
}

fn members_not_in<'a>(obj: &'a [u8], names: &[u8]) -> Option<&'a [u8]> {
    'member: for (key, _) in json::members(obj) {
        let mut list = names;
        while !list.is_empty() {
            if json::same(next_word(&mut list), key) {
                continue 'member;
            }
        }
        return Some(key);
    }
    None
}

/// The text of the string member `key` of `obj`, still escaped and without its quotes; none for
/// another type or an empty string.
fn string_in<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let v = field(obj, key)?;
    match v {
        [b'"', inner @ .., b'"'] if !inner.is_empty() => Some(inner),
        _ => None,
    }
}

/// The number member `key` of `obj` as its JSON token.
fn number_in<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    field(obj, key).filter(|v| matches!(v.first(), Some(b'-' | b'0'..=b'9')))
}

/// Writes the members of [`super::amplitude`]'s keys from `library` to `location_lng` (each
/// call consumes its key, present or not).
pub(super) fn write(w: &mut ObjectWriter<'_>, ctx: &[u8]) {
    let lib = field_or_empty(ctx, "library");
    let name = string_in(lib, "name");
    let mut library = name.unwrap_or_default().to_vec();
    if let Some(version) = string_in(lib, "version") {
        library.push(b'/');
        library.extend_from_slice(version);
    }
    w.bytes(true, name.map(|_| &library[..]));
    w.bytes(true, string_in(ctx, "locale"));
    w.bytes(
        false,
        field(ctx, "sessionId").filter(|v| json::uint(v).is_some()),
    );
    w.bytes(true, field(ctx, "page").map(|_| &b"Web"[..]));
    let os = field(ctx, "os");
    // The user agent's text, unescaped (a JSON writer may have escaped its slashes).
    let agent = match os {
        None => field(ctx, "userAgent").and_then(json::string),
        Some(_) => None,
    }
    .unwrap_or_default();
    let ua = parse_user_agent(agent.as_bytes());
    let os = os.unwrap_or(b"{}");
    w.bytes(
        true,
        string_in(os, "name").or(ua.browser.map(str::as_bytes)),
    );
    w.bytes(true, string_in(os, "version").or(ua.major));
    let device = field_or_empty(ctx, "device");
    w.bytes(true, string_in(device, "brand"));
    w.bytes(true, string_in(device, "manufacturer"));
    w.bytes(
        true,
        string_in(device, "model").or(ua.family.map(str::as_bytes)),
    );
    w.bytes(true, string_in(field_or_empty(ctx, "app"), "version"));
    w.bytes(true, string_in(ctx, "ip"));
    let location = field_or_empty(ctx, "location");
    w.bytes(true, string_in(location, "country"));
    w.bytes(true, string_in(location, "region"));
    w.bytes(true, string_in(location, "city"));
    w.bytes(false, number_in(location, "latitude"));
    w.bytes(false, number_in(location, "longitude"));
}

/// What a user agent says, as Amplitude's browser SDK reports it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UserAgent<'a> {
    /// The browser's name (Amplitude's `os_name`).
    pub browser: Option<&'static str>,
    /// Its major version (`os_version`): the digits after its token.
    pub major: Option<&'a [u8]>,
    /// The operating system's family (`device_model`).
    pub family: Option<&'static str>,
}

/// Browser tokens by priority, each ended by a space: Edge, Opera and Samsung Internet say
/// `Chrome/` too, and every Chromium browser says `Safari/`.
const BROWSERS: &[u8] =
    b"Edg/ EdgA/ EdgiOS/ Edge/ OPR/ SamsungBrowser/ CriOS/ Chrome/ FxiOS/ Firefox/ Version/ ";

/// OS tokens by priority: iOS says `like Mac OS X`, Android and Chrome OS say `Linux`.
const FAMILIES: &[u8] = b"Windows iPhone iPad iPod Android CrOS Macintosh Linux ";

/// Reads a user agent with a small byte matcher (a regex engine would cost the wasm more than
/// this whole mapping): the first token of [`BROWSERS`] it contains names the browser (Safari's
/// `Version/` only with `Safari`), and the first of [`FAMILIES`] the OS.
pub(crate) fn parse_user_agent(ua: &[u8]) -> UserAgent<'_> {
    let mut out = UserAgent::default();
    if let Some((i, rest)) = first_in(ua, BROWSERS) {
        if i < 10 || after(ua, b"Safari").is_some() {
            out.browser = Some(match i {
                0..=3 => "Edge",
                4 => "Opera",
                5 => "Samsung Internet",
                6 | 7 => "Chrome",
                8 | 9 => "Firefox",
                _ => "Safari",
            });
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            out.major = rest.get(..digits).filter(|d| !d.is_empty());
        }
    }
    out.family = first_in(ua, FAMILIES).map(|(i, _)| match i {
        0 => "Windows",
        1..=3 => "iOS",
        4 => "Android",
        5 => "Chrome OS",
        6 => "Mac OS",
        _ => "Linux",
    });
    out
}

/// The index of the first word of `list` that `hay` contains, and what follows it in `hay`.
fn first_in<'a>(hay: &'a [u8], mut list: &[u8]) -> Option<(usize, &'a [u8])> {
    let mut i = 0;
    while !list.is_empty() {
        if let Some(rest) = after(hay, next_word(&mut list)) {
            return Some((i, rest));
        }
        i += 1;
    }
    None
}

/// What follows the first `needle` in `hay`.
fn after<'a>(mut hay: &'a [u8], needle: &[u8]) -> Option<&'a [u8]> {
    loop {
        if let Some(rest) = hay.strip_prefix(needle) {
            return Some(rest);
        }
        hay = hay.split_first()?.1;
    }
}

#[cfg(test)]
#[path = "amplitude_context_tests.rs"]
mod tests;
