//! The collector's memory: stored events, de-dup fingerprints, windows, statistics, faults. One
//! mutex guards it all; it is held for microseconds and never across an `.await`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::clock::Clock;
use crate::config::{Config, KeyEntry, Limits};
use crate::faults::FaultState;
use crate::limits::Windows;

/// One ingested event, kept as compact JSON text (a `Value` costs several times the memory).
#[derive(Debug)]
pub struct Stored {
    pub path: &'static str,
    pub received_ms: u64,
    pub json: Box<str>,
}

/// One line of the request log in `/_stats`.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    /// Arrival time (collector clock, ms since the epoch), taken before the body is read.
    pub ms: u64,
    pub method: &'static str,
    pub path: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Events in the body (0 when it did not parse).
    pub events: usize,
    pub bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<&'static str>,
    pub dropped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_path: BTreeMap<String, u64>,
    pub preflights: u64,
    pub ingested: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub warnings: u64,
    pub bytes: u64,
    pub faults_injected: u64,
    pub dropped: u64,
    pub log: VecDeque<LogEntry>,
    pub log_evicted: u64,
}

pub struct Inner {
    pub limits: Limits,
    pub faults: FaultState,
    pub windows: Windows,
    /// 128-bit fingerprints of de-dup keys: a few bytes each, so a load test's millions of
    /// messageIds cost tens of MB, not hundreds; a false match needs a 2^-64-scale collision.
    pub dedup: HashSet<u128>,
    pub events: VecDeque<Stored>,
    pub events_evicted: u64,
    pub stats: Stats,
}

pub struct AppState {
    pub cfg: Config,
    pub clock: Clock,
    pub keys: HashMap<String, KeyEntry>,
    pub started_ms: u64,
    inner: Mutex<Inner>,
}

impl AppState {
    pub fn new(cfg: Config) -> Arc<Self> {
        let keys = cfg
            .keys
            .iter()
            .map(|k| (k.key.clone(), k.clone()))
            .collect();
        let clock = cfg.clock.clone();
        let started_ms = clock.now_ms();
        let inner = Mutex::new(Inner::fresh(&cfg));
        Arc::new(AppState {
            cfg,
            clock,
            keys,
            started_ms,
            inner,
        })
    }

    /// Locks the state. A panic while holding the lock cannot leave it half-written in a way that
    /// matters to a test server, so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Back to the state at startup: events, stats, windows, de-dup memory, and the limits and
    /// faults the flags set (so a chaos run started with `--fail-rate` keeps it).
    pub fn reset(&self) {
        *self.lock() = Inner::fresh(&self.cfg);
    }

    pub fn limits(&self) -> Limits {
        self.lock().limits.clone()
    }
}

impl Inner {
    fn fresh(cfg: &Config) -> Self {
        Inner {
            limits: cfg.limits.clone(),
            faults: FaultState::new(cfg.faults.clone()),
            windows: Windows::default(),
            dedup: HashSet::new(),
            events: VecDeque::new(),
            events_evicted: 0,
            stats: Stats::default(),
        }
    }

    pub fn store(&mut self, cap: usize, ev: Stored) {
        if cap == 0 {
            self.events_evicted += 1;
            return;
        }
        while self.events.len() >= cap {
            self.events.pop_front();
            self.events_evicted += 1;
        }
        self.events.push_back(ev);
    }

    /// Records a finished request in the counters and the log.
    pub fn record(&mut self, log_cap: usize, mut entry: LogEntry) {
        let s = &mut self.stats;
        s.requests += 1;
        let status = if entry.dropped {
            "dropped".to_string()
        } else {
            entry.status.to_string()
        };
        *s.by_status.entry(status).or_default() += 1;
        *s.by_path.entry(entry.path.clone()).or_default() += 1;
        s.bytes += entry.bytes as u64;
        if entry.fault.is_some() {
            s.faults_injected += 1;
        }
        if entry.dropped {
            s.dropped += 1;
        }
        entry.seq = s.requests;
        if log_cap == 0 {
            s.log_evicted += 1;
            return;
        }
        while s.log.len() >= log_cap {
            s.log.pop_front();
            s.log_evicted += 1;
        }
        s.log.push_back(entry);
    }
}

/// A 128-bit fingerprint of a de-dup key. Parts are length-prefixed so ("ab","c") != ("a","bc").
pub fn fingerprint(parts: &[&str]) -> u128 {
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        for p in parts {
            p.len().hash(&mut h);
            h.write(p.as_bytes());
        }
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(
            fingerprint(&["v1", "org", "m"]),
            fingerprint(&["v1", "org", "m"])
        );
    }

    #[test]
    fn store_and_log_are_bounded() {
        let cfg = Config::default();
        let mut inner = Inner::fresh(&cfg);
        for i in 0..5 {
            inner.store(
                3,
                Stored {
                    path: "/batch",
                    received_ms: i,
                    json: "{}".into(),
                },
            );
        }
        assert_eq!((inner.events.len(), inner.events_evicted), (3, 2));
        assert_eq!(inner.events[0].received_ms, 2);
    }
}
