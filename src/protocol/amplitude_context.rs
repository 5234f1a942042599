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
use crate::base::json;

/// Segment's context names (and the browser package's `sessionId`), each ended by a space: the
/// members mapped above and those with no Amplitude field, dropped without a warning.
const SEGMENT_NAMES: &[u8] = b"active app campaign channel device groupId instance instanceId ip library locale location network os page referrer screen sessionId timezone traits userAgent userAgentData ";

/// The first member of the context object `ctx` that is not one of Segment's names: it is not
/// sent, and the engine's warning names it.
pub(crate) fn unsent_key(ctx: &[u8]) -> Option<&[u8]> {
    members_not_in(ctx, SEGMENT_NAMES)
}

#[cfg_attr(target_arch = "wasm32", inline(never))]
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

/// The value at `path` (keys separated by dots) in `obj`.
fn at<'a>(mut obj: &'a [u8], path: &[u8]) -> Option<&'a [u8]> {
    let mut rest = path;
    loop {
        let dot = rest.iter().position(|&c| c == b'.').unwrap_or(rest.len());
        obj = json::field_at(obj, rest.get(..dot)?)?;
        match rest.get(dot + 1..) {
            Some(tail) => rest = tail,
            None => return Some(obj),
        }
    }
}

/// The text of the string at `path`, still escaped and without its quotes; none for another
/// type or an empty string.
#[cfg_attr(target_arch = "wasm32", inline(never))]
fn string_at<'a>(obj: &'a [u8], path: &[u8]) -> Option<&'a [u8]> {
    match at(obj, path)? {
        [b'"', inner @ .., b'"'] if !inner.is_empty() => Some(inner),
        _ => None,
    }
}

/// The members from `language` on, each read from its path (each ended by a space); the last
/// two are numbers, the others strings.
const PATHS: &[u8] = b"locale os.name os.version device.model device.brand device.manufacturer app.version ip location.country location.region location.city location.latitude location.longitude ";

/// Writes the members of [`super::amplitude`]'s keys from `library` to `location_lng` (each
/// consumes its key, present or not).
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(super) fn write(w: &mut ObjectWriter<'_>, ctx: &[u8]) {
    w.bytes(
        true,
        string_at(ctx, b"library.name"),
        string_at(ctx, b"library.version"),
    );
    w.bytes(
        false,
        json::field_at(ctx, b"sessionId").filter(|v| json::uint(v).is_some()),
        None,
    );
    w.bytes(
        true,
        json::field_at(ctx, b"page").map(|_| &b"Web"[..]),
        None,
    );
    // Read only without os; as its escaped text (the matcher's tokens need no unescaping).
    let agent = match json::field_at(ctx, b"os") {
        None => string_at(ctx, b"userAgent"),
        Some(_) => None,
    };
    let ua = parse_user_agent(agent.unwrap_or_default());
    // What os_name, os_version and device_model fall back to.
    let from_agent = [ua.browser, ua.major, ua.family];
    let mut paths = PATHS;
    let mut i = 0usize;
    while !paths.is_empty() {
        let path = next_word(&mut paths);
        let number = i > 10;
        let v = if number {
            at(ctx, path).filter(|v| matches!(v.first(), Some(b'-' | b'0'..=b'9')))
        } else {
            string_at(ctx, path).or(from_agent.get(i.wrapping_sub(1)).copied().flatten())
        };
        w.bytes(!number, v, None);
        i += 1;
    }
}

/// What a user agent says, as Amplitude's browser SDK reports it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UserAgent<'a> {
    /// The browser's name (Amplitude's `os_name`).
    pub browser: Option<&'static [u8]>,
    /// Its major version (`os_version`): the digits after its token.
    pub major: Option<&'a [u8]>,
    /// The operating system's family (`device_model`).
    pub family: Option<&'static [u8]>,
}

/// Browser tokens by priority, `token=Name|` each: Edge (`Edg/`, `EdgA/`, `EdgiOS/`), Opera and
/// Samsung Internet say `Chrome/` too, and every Chromium browser says `Safari/`. The last,
/// Safari's `Version/`, counts only with `Safari` in the agent. A token is followed by letters
/// and a slash (escaped or not) before its version.
const BROWSERS: &[u8] = b"Edg=Edge|OPR=Opera|SamsungBrowser=Samsung Internet|CriOS=Chrome|Chrome=Chrome|FxiOS=Firefox|Firefox=Firefox|Version=Safari|";

/// OS tokens by priority: iOS says `like Mac OS X`, Android and Chrome OS say `Linux`.
const FAMILIES: &[u8] = b"Windows=Windows|iPhone=iOS|iPad=iOS|iPod=iOS|Android=Android|CrOS=Chrome OS|Macintosh=Mac OS|Linux=Linux|";

/// Reads a user agent with a small byte matcher (a regex engine would cost the wasm more than
/// this whole mapping): the first token of [`BROWSERS`] it contains names the browser, and the
/// first of [`FAMILIES`] the OS.
#[cfg_attr(target_arch = "wasm32", inline(never))]
pub(crate) fn parse_user_agent(ua: &[u8]) -> UserAgent<'_> {
    let mut out = UserAgent::default();
    if let Some((name, rest, last)) = lookup(ua, BROWSERS) {
        if !last || after(ua, b"Safari").is_some() {
            out.browser = Some(name);
            // Past the token's letters and slash (`EdgA/`, `Chrome\/`), the digits.
            let skip = rest.iter().take_while(|&&c| c == b'/' || c > b'9').count();
            let rest = rest.get(skip..).unwrap_or_default();
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            out.major = rest.get(..digits).filter(|d| !d.is_empty());
        }
    }
    out.family = lookup(ua, FAMILIES).map(|(name, _, _)| name);
    out
}

/// The first entry of `table` (`token=Name|` each) whose token `hay` contains: its name, what
/// follows the token in `hay`, and whether it is the table's last entry.
#[cfg_attr(target_arch = "wasm32", inline(never))]
fn lookup<'a>(hay: &'a [u8], mut table: &'static [u8]) -> Option<(&'static [u8], &'a [u8], bool)> {
    loop {
        let eq = table.iter().position(|&c| c == b'=')?;
        let bar = table.iter().position(|&c| c == b'|')?;
        let token = table.get(..eq)?;
        let name = table.get(eq + 1..bar)?;
        table = table.get(bar + 1..)?;
        if let Some(rest) = after(hay, token) {
            return Some((name, rest, table.is_empty()));
        }
    }
}

/// What follows the first `needle` in `hay`.
fn after<'a>(mut hay: &'a [u8], needle: &[u8]) -> Option<&'a [u8]> {
    loop {
        if hay
            .get(..needle.len())
            .is_some_and(|h| json::same(h, needle))
        {
            return hay.get(needle.len()..);
        }
        hay = hay.split_first()?.1;
    }
}

#[cfg(test)]
#[path = "amplitude_context_tests.rs"]
mod tests;
