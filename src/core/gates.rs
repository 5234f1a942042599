//! The global gates: no request before a server's `Retry-After` (rate limit), none before our
//! own backoff after transient failures ends, and, under a quota hold, only a one-event probe
//! now and then until the reset. Every backoff step is at least `RETRY_FLOOR_MS`, whatever the
//! server says or the jitter draws: failing requests leave at most `max_in_flight` per floor.

use super::backoff::backoff_delay;
use super::rng::Rng;
use super::Millis;
use crate::protocol::RETRY_FLOOR_MS;

/// The global quota hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuotaHold {
    /// The reset the server announced; `None` when it did not say.
    pub until: Option<Millis>,
    pub next_probe: Millis,
}

/// Rate limit, backoff and quota hold.
#[derive(Debug, Default)]
pub(crate) struct Gates {
    rate_limited_until: Millis,
    backoff_until: Millis,
    backoff_attempt: u32,
    quota: Option<QuotaHold>,
}

impl Gates {
    /// No request before this (the later of the rate limit and the backoff).
    pub fn closed_until(&self) -> Millis {
        self.rate_limited_until.max(self.backoff_until)
    }

    /// No request before this, by the server's word (what an unload send must honour too).
    pub fn rate_limited_until(&self) -> Millis {
        self.rate_limited_until
    }

    /// The server asked for no request before `until`; returns the rate limit now in force.
    pub fn limit_rate(&mut self, until: Millis) -> Millis {
        self.rate_limited_until = self.rate_limited_until.max(until);
        self.rate_limited_until
    }

    /// The end of the next backoff step from `now` (the attempt count grows): full jitter below
    /// `min(max, base·2^(attempt-1))`, never under the floor.
    pub fn next_backoff(
        &mut self,
        now: Millis,
        rng: &mut Rng,
        base: Millis,
        max: Millis,
    ) -> Millis {
        self.backoff_attempt = self.backoff_attempt.saturating_add(1);
        let delay = backoff_delay(rng, self.backoff_attempt, base, max);
        now.saturating_add(delay.max(RETRY_FLOOR_MS))
    }

    /// Backs off until `until`; returns the backoff now in force.
    pub fn back_off(&mut self, until: Millis) -> Millis {
        self.backoff_until = self.backoff_until.max(until);
        self.backoff_until
    }

    /// Transient failures in a row.
    pub fn backoff_attempt(&self) -> u32 {
        self.backoff_attempt
    }

    /// The server is answering again: a backoff left by an earlier failure no longer holds.
    pub fn reset_backoff(&mut self) {
        self.backoff_attempt = 0;
        self.backoff_until = 0;
    }

    /// The quota hold, if any.
    #[inline(always)]
    pub fn quota(&self) -> Option<QuotaHold> {
        self.quota
    }

    /// The quota is spent: hold until `until` (the reset, when known), probing from `next_probe`.
    pub fn hold_quota(&mut self, until: Option<Millis>, next_probe: Millis) {
        self.quota = Some(QuotaHold { until, next_probe });
    }

    /// A probe of the quota hold left; the next may leave at `next_probe`.
    pub fn probe_sent(&mut self, next_probe: Millis) {
        if let Some(q) = self.quota.as_mut() {
            q.next_probe = next_probe;
        }
    }

    /// A probe was accepted, or the reset has come: the hold is over.
    pub fn lift_quota(&mut self) {
        self.quota = None;
    }

    /// Ends a hold whose announced reset has come.
    pub fn expire_quota(&mut self, now: Millis) {
        if let Some(QuotaHold { until: Some(u), .. }) = self.quota {
            if u <= now {
                self.quota = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_closes_until_the_later_of_rate_limit_and_backoff() {
        let mut g = Gates::default();
        assert_eq!(g.closed_until(), 0);
        assert_eq!(g.limit_rate(500), 500);
        assert_eq!(
            g.limit_rate(300),
            500,
            "an earlier limit does not shorten one in force"
        );
        assert_eq!(g.back_off(800), 800);
        assert_eq!(g.closed_until(), 800);
        g.reset_backoff();
        assert_eq!((g.closed_until(), g.rate_limited_until()), (500, 500));
    }

    #[test]
    fn backoff_attempts_count_up_and_reset() {
        let (mut g, mut rng) = (Gates::default(), Rng::new(1));
        for attempt in 1..=5 {
            let until = g.next_backoff(1000, &mut rng, 100, 10_000);
            assert_eq!(g.backoff_attempt(), attempt);
            assert!(
                until - 1000 >= RETRY_FLOOR_MS
                    && until - 1000 <= (100 << (attempt - 1)).max(RETRY_FLOOR_MS)
            );
        }
        g.reset_backoff();
        assert_eq!(g.backoff_attempt(), 0);
    }

    #[test]
    fn no_backoff_step_is_under_the_floor() {
        let (mut g, mut rng) = (Gates::default(), Rng::new(1));
        for _ in 0..50 {
            assert!(g.next_backoff(1000, &mut rng, 1, 1) >= 1000 + RETRY_FLOOR_MS);
        }
    }

    #[test]
    fn a_quota_hold_probes_then_ends() {
        let mut g = Gates::default();
        g.hold_quota(Some(5000), 100);
        g.probe_sent(200);
        assert_eq!(g.quota().map(|q| q.next_probe), Some(200));
        g.expire_quota(4999);
        assert!(g.quota().is_some());
        g.expire_quota(5000);
        assert!(g.quota().is_none(), "the announced reset ends the hold");
        g.hold_quota(None, 100);
        g.expire_quota(u64::MAX);
        assert!(g.quota().is_some(), "an unknown reset waits for a probe");
        g.lift_quota();
        assert!(g.quota().is_none());
        g.probe_sent(1);
        assert!(g.quota().is_none(), "a probe without a hold holds nothing");
    }
}
