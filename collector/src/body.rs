//! Reading a request body without ever buffering past its cap: a declared `Content-Length` over
//! the cap is refused before a single body byte is read; a chunked (or lying) body is counted
//! frame by frame and refused the moment it passes the cap; a stalled one times out.
//!
//! After such a refusal, the rest of the body is read and thrown away in the background for a
//! bounded time and size (a "lingering close", as nginx does). Without it, closing a socket with
//! unread data sends a TCP reset, and a client still writing its body (a browser's `fetch`, curl)
//! would see "connection reset" instead of the 413 it must resize from.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Timeout,
    /// The client went away or sent a malformed chunked body.
    Broken,
    /// Refused before reading (origin not allowed); the body is still to be discarded.
    Forbidden,
}

/// The declared length, if the header is present and a number.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Most bytes thrown away after a refusal, and for how long, before the connection is closed.
const LINGER_MAX_BYTES: u64 = 64 * 1024 * 1024;
const LINGER_MAX: Duration = Duration::from_secs(5);

/// Reads `body` up to `cap` bytes. On error the caller still holds the body, for `discard_rest`.
pub async fn read_capped(
    headers: &HeaderMap,
    body: &mut Body,
    cap: u64,
    timeout_ms: u64,
) -> Result<Vec<u8>, BodyError> {
    let declared = content_length(headers);
    if declared.is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge);
    }
    let read = async {
        // Pre-size from the (already capped) declared length; grow as frames come otherwise.
        let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(cap) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            if let Ok(data) = frame.into_data() {
                if (buf.len() + data.len()) as u64 > cap {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    match tokio::time::timeout(Duration::from_millis(timeout_ms), read).await {
        Ok(r) => r,
        Err(_) => Err(BodyError::Timeout),
    }
}

/// Reads and drops what is left of a refused body, in the background, within the linger bounds;
/// the response goes out meanwhile. Not with `Expect: 100-continue`: that client sends nothing
/// until told to, and the refusal already told it not to.
pub fn discard_rest(headers: &HeaderMap, body: Body) {
    let expects = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects {
        return;
    }
    tokio::spawn(async move {
        let mut body = body;
        let mut seen = 0u64;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > LINGER_MAX_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_MAX, drain).await;
    });
}

/// `application/json`, any case, parameters (`; charset=utf-8`) allowed.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (v, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("text/plain", false),
            ("application/jsonx", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            assert_eq!(is_json(&h), ok, "{v}");
        }
    }

    #[tokio::test]
    async fn caps_declared_and_actual_lengths() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("11"));
        let r = read_capped(&h, &mut Body::from("hello world"), 10, 1000).await;
        assert_eq!(r, Err(BodyError::TooLarge));
        let r = read_capped(&HeaderMap::new(), &mut Body::from("hello world"), 10, 1000).await;
        assert_eq!(r, Err(BodyError::TooLarge));
        let r = read_capped(&HeaderMap::new(), &mut Body::from("hello"), 10, 1000).await;
        assert_eq!(r.unwrap(), b"hello");
    }
}
