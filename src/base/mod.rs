//! The ground floor: what both the wire contracts and the engine stand on, importing nothing of
//! the crate above it. JSON scanning, reading and writing ([`json`]), decimal numbers ([`num`]),
//! messages without `core::fmt` ([`text`]), ISO 8601 and `Retry-After` ([`time`]), and the one
//! unit of time, [`Millis`].
//!
//! Everything here is written by hand because the crate has no dependencies: each piece is the
//! smallest code that does the job in the wasm.

#![warn(missing_docs)]

pub mod json;
pub mod num;
pub mod text;
pub mod time;

/// Milliseconds since the Unix epoch, as supplied by the driver.
pub type Millis = u64;

/// The property tests' configuration: `default` cases unless `PROPTEST_CASES` says otherwise, and
/// no regression files (a failure prints its minimal input, which becomes a unit test).
#[cfg(all(test, not(target_arch = "wasm32")))] // proptest is native-only
pub(crate) fn proptest_config(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
