//! Per-identity pauses: Amplitude's per-user / per-device throttles (a short pause that simply
//! ends) and its Batch API's daily quotas (a hold that, once its time has come, one event at a
//! time probes until one is accepted). Other identities keep flowing meanwhile.

use super::keys::KeyMap;
use super::Millis;

/// A per-identity pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pause {
    pub until: Millis,
    /// A daily-quota hold: after `until`, one event at a time probes it until one is accepted.
    /// A throttle (false) simply ends at `until`.
    pub hold: bool,
}

impl Pause {
    // Stored as one u64 (`until << 1 | hold`) so every map in the engine is the one `KeyMap` of
    // u64 to u64: a map type per value type would cost its own copy of the table code in the wasm.
    #[cfg(feature = "amplitude")]
    fn pack(self) -> u64 {
        self.until.min(u64::MAX >> 1) << 1 | u64::from(self.hold)
    }
    fn unpack(v: u64) -> Self {
        Pause {
            until: v >> 1,
            hold: v & 1 == 1,
        }
    }
}

/// Pauses by identity key (0 is no identity, never paused).
#[derive(Debug, Default)]
pub(crate) struct Pauses(KeyMap);

impl Pauses {
    /// The pause of identity `k`, ended or not.
    // Inlined: out of line, the pause came back through memory at each caller (wasm size).
    #[inline(always)]
    pub fn get(&self, k: u64) -> Option<Pause> {
        self.0.get(k).map(Pause::unpack)
    }

    /// Whether no identity is paused (then every queued event is eligible).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Identities paused.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Every pause.
    pub fn iter(&self) -> impl Iterator<Item = Pause> + '_ {
        self.0.values().map(Pause::unpack)
    }

    /// Whether identity `k` waits at `now`.
    #[cfg(feature = "amplitude")]
    pub fn is_paused(&self, k: u64, now: Millis) -> bool {
        k != 0 && self.get(k).is_some_and(|p| p.until > now)
    }

    /// Pauses identity `k` until `until` (a daily-quota hold when `hold`), merged with any pause
    /// it has: the later end, and a hold if either is. True when this is news (a new or longer
    /// pause, or a throttle become a hold).
    #[cfg(feature = "amplitude")]
    pub fn pause(&mut self, k: u64, until: Millis, hold: bool) -> bool {
        let merged = match self.get(k) {
            Some(p) if p.until >= until && p.hold >= hold => return false,
            Some(p) => Pause {
                until: p.until.max(until),
                hold: p.hold | hold,
            },
            None => Pause { until, hold },
        };
        self.0.insert(k, merged.pack());
        true
    }

    /// A probe of identity `k` was accepted: its hold ends, unless something paused it again
    /// meanwhile (another request's 429 may have answered first).
    pub fn probe_passed(&mut self, k: u64, now: Millis) {
        if self.get(k).is_some_and(|p| p.hold && p.until <= now) {
            self.0.remove(k);
        }
    }

    /// Ends what time has ended: throttles past their end; holds past theirs only when `idle`
    /// (nothing is left to probe them with).
    pub fn expire(&mut self, now: Millis, idle: bool) {
        self.0.retain(|v| {
            let p = Pause::unpack(v);
            p.until > now || (p.hold && !idle)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_merge_and_report_only_news() {
        let mut p = Pauses::default();
        assert!(p.pause(7, 100, false));
        assert!(!p.pause(7, 50, false), "a shorter pause is no news");
        assert!(p.pause(7, 100, true), "a throttle become a hold is news");
        assert_eq!(
            p.get(7),
            Some(Pause {
                until: 100,
                hold: true
            })
        );
        assert!(!p.pause(7, 80, false));
        assert!(p.pause(7, 200, false));
        assert_eq!(
            p.get(7),
            Some(Pause {
                until: 200,
                hold: true
            }),
            "the hold stays"
        );
        assert!(p.is_paused(7, 199) && !p.is_paused(7, 200));
        assert!(!p.is_paused(0, 0), "no identity is never paused");
    }

    #[test]
    fn throttles_end_and_holds_wait_for_a_probe() {
        let mut p = Pauses::default();
        p.pause(1, 100, false);
        p.pause(2, 100, true);
        p.expire(99, false);
        assert_eq!(p.len(), 2);
        p.expire(100, false);
        assert_eq!((p.get(1), p.len()), (None, 1), "the throttle ended");
        p.probe_passed(2, 99);
        assert_eq!(p.len(), 1, "a probe before the hold's end lifts nothing");
        p.probe_passed(2, 100);
        assert!(p.is_empty());
        p.pause(3, 100, true);
        p.expire(100, true);
        assert!(p.is_empty(), "a hold with nothing left to probe it ends");
    }

    #[test]
    fn pack_keeps_the_bits() {
        for pause in [
            Pause {
                until: 0,
                hold: true,
            },
            Pause {
                until: 123_456,
                hold: false,
            },
            Pause {
                until: u64::MAX >> 1,
                hold: true,
            },
        ] {
            assert_eq!(Pause::unpack(pause.pack()), pause);
        }
    }
}
