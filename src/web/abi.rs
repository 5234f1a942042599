//! The numbering of the wasm boundary, declared once: what each number means when src/js.rs and
//! the JavaScript (`src/web/js/abi.js`) pass one to the other. The JavaScript module is kept by
//! hand, because it is bundled and minified with the rest of the client; the test below renders
//! it from these tables and fails on any difference, so a number changed on one side only never
//! reaches a build.

use crate::core::{EventKind, Protocol, ServerZone};

/// The driver inputs that carry at most one number (the `on` export): one export instead of a
/// dozen, each a few bytes of wasm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Input {
    Drive = 0,
    Timer = 1,
    Hidden = 2,
    Leave = 3,
    Lead = 4,
    Loaded = 5,
    LeaderChanged = 6,
    FlushNow = 7,
    /// The store failed: answers 1 the first time (the caller warns once), else 0.
    StoreFailed = 8,
    /// `flush()` resolving waiter `arg`; answers 0 once the client is shut down, else 1.
    Flush = 9,
    /// `shutdown()` resolving waiter `arg`.
    Shutdown = 10,
    /// Request `arg` got no HTTP response.
    Failure = 11,
    /// Server mode's `closeAndFlush()` at its timeout: everything still queued or in flight fails
    /// with `E_SHUTDOWN` (`Pipeline::abandon`). Ignored by a module without the `server` feature.
    Abandon = 12,
    /// `Stat + i` answers `stats()[i]`, in [`Stat`] order.
    Stat = 16,
}

impl Input {
    /// Every input with its JavaScript name.
    pub const ALL: [(Input, &'static str); 14] = [
        (Input::Drive, "DRIVE"),
        (Input::Timer, "TIMER"),
        (Input::Hidden, "HIDDEN"),
        (Input::Leave, "LEAVE"),
        (Input::Lead, "LEAD"),
        (Input::Loaded, "LOADED"),
        (Input::LeaderChanged, "LEADER_CHANGED"),
        (Input::FlushNow, "FLUSH_NOW"),
        (Input::StoreFailed, "STORE_FAILED"),
        (Input::Flush, "FLUSH"),
        (Input::Shutdown, "SHUTDOWN"),
        (Input::Failure, "FAILURE"),
        (Input::Abandon, "ABANDON"),
        (Input::Stat, "STAT"),
    ];
}

/// The numbers `create` reads with the `number` import, by index: the numeric options in
/// [`OPTIONS`] order (-1: not given, keep the core's default), then these six.
pub mod number {
    /// Index into [`super::PROTOCOLS`].
    pub const PROTOCOL: u32 = 16;
    /// 1: IndexedDB, 0: memory.
    pub const DURABLE: u32 = 17;
    /// The RNG seed's high and low 32 bits.
    pub const SEED_HIGH: u32 = 18;
    pub const SEED_LOW: u32 = 19;
    /// 1: `skipUserPropertiesSync: true` (Amplitude), else 0.
    pub const SKIP_USER_PROPERTIES_SYNC: u32 = 20;
    /// 1: server mode (`mode: "server"`, the Node entry's default): `Config::derive_anonymous_id`.
    pub const DERIVE_ANONYMOUS_ID: u32 = 21;
}

/// Added to an `enqueue` kind: this event sets `$skip_user_properties_sync` (Amplitude), as
/// `track(..., { skipUserPropertiesSync: true })` asks.
pub const SKIP_SYNC: u32 = 8;

/// The numeric options of `createClient`, in the order `create` reads them. Each must be a number
/// of at least 1, but `flushIntervalMs` (0: no waiting) and the pacing budgets from [`ZERO_FROM`]
/// on (0: not paced) may be 0.
pub const OPTIONS: [&str; 16] = [
    "flushAt",
    "flushIntervalMs",
    "maxBatchBytes",
    "maxInFlight",
    "maxQueueEvents",
    "maxQueueBytes",
    "backoffBaseMs",
    "backoffMaxMs",
    "giveUpAfterMs",
    "quotaProbeMs",
    "maxRetryAfterMs",
    "requestTimeoutMs",
    "rateWindowMs",
    "requestsPerWindow",
    "identityEventsPerSecond",
    "identityEventsPerDay",
];

/// `stats()`'s fields, in the order of `Driver::stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Stat {
    Queued,
    InFlight,
    Delivered,
    Failed,
    Retried,
    RateLimitedUntil,
    QuotaHeldUntil,
    Stored,
}

impl Stat {
    /// Every field with its JavaScript name, in order.
    pub const ALL: [(Stat, &'static str); 8] = [
        (Stat::Queued, "queued"),
        (Stat::InFlight, "inFlight"),
        (Stat::Delivered, "delivered"),
        (Stat::Failed, "failed"),
        (Stat::Retried, "retried"),
        (Stat::RateLimitedUntil, "rateLimitedUntil"),
        (Stat::QuotaHeldUntil, "quotaHeldUntil"),
        (Stat::Stored, "stored"),
    ];
}

/// What the `emit` import's `kind` means: a note for the application's listeners, named as
/// `client.on(type)` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum NoteKind {
    Delivered,
    Failed,
    RateLimited,
    QuotaHeld,
    Warning,
}

impl NoteKind {
    /// Every kind with its JavaScript name, in order.
    pub const ALL: [(NoteKind, &'static str); 5] = [
        (NoteKind::Delivered, "delivered"),
        (NoteKind::Failed, "failed"),
        (NoteKind::RateLimited, "rateLimited"),
        (NoteKind::QuotaHeld, "quotaHeld"),
        (NoteKind::Warning, "warning"),
    ];
}

/// The `protocol` option, by index.
pub const PROTOCOLS: [(Protocol, &str); 3] = [
    (Protocol::V1Batch, "v1-batch"),
    (Protocol::AmplitudeHttpV2, "amplitude-http-v2"),
    (Protocol::AmplitudeBatch, "amplitude-batch"),
];

/// The first of the [`OPTIONS`] at the end that may be 0.
pub const ZERO_FROM: usize = 13;

/// The `serverZone` option, by index, with the Amplitude host it picks when `apiHost` is not
/// given ([`Protocol::default_host`]).
pub const ZONES: [(ServerZone, &str); 2] = [(ServerZone::Us, "US"), (ServerZone::Eu, "EU")];

/// The `kind` of the `enqueue` export indexes `EventKind::ALL`; the JavaScript names its
/// methods after these.
pub const KINDS: [EventKind; 6] = EventKind::ALL;

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
        let quoted: Vec<String> = items
            .into_iter()
            .map(|s| ["\"", s.as_ref(), "\""].concat())
            .collect();
        ["[", &quoted.join(", "), "]"].concat()
    }

    /// The lines of src/web/js/abi.js that carry numbers and names, as these tables make them.
    fn expected() -> Vec<String> {
        let mut out = Vec::new();
        for (input, name) in Input::ALL {
            out.push(format!("export const {name} = {};", input as u32));
        }
        out.push(format!("export const OPTIONS = {};", list(OPTIONS)));
        out.push(format!("export const ZERO_FROM = {ZERO_FROM};"));
        for (name, n) in [
            ("PROTOCOL", number::PROTOCOL),
            ("DURABLE", number::DURABLE),
            ("SEED_HIGH", number::SEED_HIGH),
            ("SEED_LOW", number::SEED_LOW),
            (
                "SKIP_USER_PROPERTIES_SYNC",
                number::SKIP_USER_PROPERTIES_SYNC,
            ),
            ("DERIVE_ANONYMOUS_ID", number::DERIVE_ANONYMOUS_ID),
        ] {
            out.push(format!("export const {name} = {n};"));
        }
        out.push(format!(
            "export const STATS = {};",
            list(Stat::ALL.map(|s| s.1))
        ));
        out.push(format!(
            "export const EVENTS = {};",
            list(NoteKind::ALL.map(|n| n.1))
        ));
        out.push(format!(
            "export const PROTOCOLS = {};",
            list(PROTOCOLS.map(|p| p.1))
        ));
        out.push(format!(
            "export const ZONES = {};",
            list(ZONES.map(|z| z.1))
        ));
        out.push(format!(
            "export const HOSTS = {};",
            list(ZONES.map(|z| {
                Protocol::AmplitudeHttpV2
                    .default_host(z.0)
                    .unwrap_or_default()
            }))
        ));
        out.push(format!("export const SKIP_SYNC = {SKIP_SYNC};"));
        for (i, kind) in KINDS.iter().enumerate() {
            out.push(format!(
                "export const {} = {i};",
                kind.as_str().to_uppercase()
            ));
        }
        out.push(format!(
            "export const TYPES = {};",
            list(KINDS.map(|k| k.as_str()))
        ));
        out
    }

    #[test]
    fn the_javascript_table_says_what_the_rust_one_says() {
        let js = include_str!("js/abi.js");
        let found: Vec<String> = js
            .lines()
            .filter(|l| l.starts_with("export "))
            .map(String::from)
            .collect();
        let want = expected();
        assert!(
            found == want,
            "src/web/js/abi.js does not match src/web/abi.rs; its export lines should be:\n{}",
            want.join("\n")
        );
    }

    /// pkg-template/worker.js (the workerd entry, outside the page's bundle) names two inputs by
    /// number rather than import abi.js: they must be these.
    #[test]
    fn the_workerd_entry_numbers_its_inputs_as_the_table_does() {
        let js = include_str!("../../pkg-template/worker.js");
        for (input, name) in [(Input::Timer, "TIMER"), (Input::Failure, "FAILURE")] {
            let line = format!("const {name} = {};", input as u32);
            assert!(
                js.lines().any(|l| l.trim() == line),
                "pkg-template/worker.js should have the line `{line}`"
            );
        }
    }

    #[test]
    fn the_tables_are_complete_and_in_order() {
        // Numbered from 0 without gaps, except the stats, which sit above the rest.
        for (i, (input, _)) in Input::ALL[..13].iter().enumerate() {
            assert_eq!(*input as u32, i as u32);
        }
        assert!(Input::Stat as u32 > Input::Abandon as u32);
        assert_eq!(number::PROTOCOL as usize, OPTIONS.len());
        assert_eq!(OPTIONS[1], "flushIntervalMs");
        assert_eq!(
            OPTIONS[ZERO_FROM..],
            [
                "requestsPerWindow",
                "identityEventsPerSecond",
                "identityEventsPerDay"
            ]
        );
        assert!(KINDS.len() as u32 <= SKIP_SYNC);
        for z in ZONES {
            assert_eq!(
                Protocol::AmplitudeBatch.default_host(z.0),
                Protocol::AmplitudeHttpV2.default_host(z.0)
            );
        }
        for (i, (stat, _)) in Stat::ALL.iter().enumerate() {
            assert_eq!(*stat as usize, i);
        }
        for (i, (note, _)) in NoteKind::ALL.iter().enumerate() {
            assert_eq!(*note as usize, i);
        }
        for (i, (p, _)) in PROTOCOLS.iter().enumerate() {
            assert_eq!(PROTOCOLS.iter().position(|q| q.0 == *p), Some(i));
        }
    }
}
