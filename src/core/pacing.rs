//! Pacing: staying under the server's known budgets before it says 429.
//!
//! One budget per pipeline, by protocol (`docs/PROTOCOLS.md` G): /v1-batch's requests per minute
//! per (org, IP), or Amplitude's events per identity (each user and each device) per 30 s. What
//! was sent is a log of `(time, key, count)` in send order (key 0 for a request), and the budget
//! holds over every rolling window, as the servers count: a key may send when what it sent in the
//! last `window` (plus a little slack for the network) leaves room. A key over budget waits until
//! its oldest entry ages out; the others are not held back by it.

//!
//! Cargo feature `pacing` (on by default, and in both of the npm package's wasm modules; without
//! it every method here is a constant no-op the optimiser removes).

#[cfg(feature = "pacing")]
pub(crate) use imp::Pacing;
#[cfg(not(feature = "pacing"))]
pub(crate) use off::Pacing;

#[cfg(not(feature = "pacing"))]
mod off {
    #[cfg(feature = "amplitude")]
    use crate::core::rng::Rng;
    use crate::core::Millis;

    #[derive(Debug, Default)]
    pub(crate) struct Pacing;
    #[derive(Debug, Default)]
    pub(crate) struct Usage;

    impl Pacing {
        #[inline(always)]
        pub fn new(_: u64, _: Millis, _: bool, _: Millis) -> Self {
            Pacing
        }
        #[inline(always)]
        pub fn identity_budget(&self) -> u64 {
            0
        }
        #[inline(always)]
        pub fn request_sent(&mut self, _: Millis) {}
        #[inline(always)]
        pub fn learn_rate_limit(&mut self, _: Millis) {}
        #[inline(always)]
        pub fn usage(&mut self, _: Millis) -> Usage {
            Usage
        }
        #[inline(always)]
        pub fn over(&self, _: &Usage, _: u64, _: Millis) -> Millis {
            0
        }
        #[inline(always)]
        pub fn add(_: &mut Usage, _: u64) {}
        #[inline(always)]
        pub fn identities_sent(&mut self, _: Millis, _: &[u64]) {}
        #[inline(always)]
        #[cfg(feature = "amplitude")]
        pub fn throttle_extra(&mut self, _: u64, _: &mut Rng, _: Millis, _: Millis) -> Millis {
            0
        }
    }
}

#[cfg(feature = "pacing")]
mod imp {
    use crate::core::keys::KeyMap;
    #[cfg(feature = "amplitude")]
    use crate::core::rng::Rng;
    use crate::core::Millis;
    use crate::prelude::*;
    use crate::protocol::pace_slack;

    /// The resolution of a `Retry-After` (whole seconds, rounded up).
    const RETRY_AFTER_GRAIN_MS: Millis = 1_000;

    /// The budget and what counted against it.
    #[derive(Debug, Default)]
    pub(crate) struct Pacing {
        /// Events per identity (Amplitude) or requests (/v1-batch) per window; 0: no pacing.
        budget: u64,
        /// The server's window plus the slack ([`pace_slack`]).
        window: Millis,
        slack: Millis,
        /// The server's window as configured: a rate limit may teach a shorter one, never longer.
        configured: Millis,
        /// Whether the budget counts requests rather than events per identity.
        requests: bool,
        /// Uses are logged at their time rounded up to this (1 ms: exact; a day's log by minute,
        /// to stay small; rounding up only makes a use age out later).
        bucket: Millis,
        log: Vec<(Millis, u64, u64)>,
        /// Throttles in a row per identity (cleared when a request carrying it is accepted).
        strikes: KeyMap,
    }

    /// What each key has used of its budget in the current window, and when its oldest use ages out.
    #[derive(Debug, Default)]
    pub(crate) struct Usage {
        used: KeyMap,
        oldest: KeyMap,
    }

    impl Pacing {
        /// `budget` per `window` ms (0: none); of requests when `requests`, else of events per
        /// identity, logged by `bucket` ms.
        pub fn new(budget: u64, window: Millis, requests: bool, bucket: Millis) -> Self {
            Pacing {
                budget,
                window: window.saturating_add(pace_slack(window)),
                slack: pace_slack(window),
                configured: window,
                requests,
                bucket: bucket.max(1),
                log: Vec::new(),
                strikes: KeyMap::default(),
            }
        }

        /// The events-per-identity budget, if that is what is paced (only Amplitude paces
        /// identities: a build without it has none).
        pub fn identity_budget(&self) -> u64 {
            if self.requests || !cfg!(feature = "amplitude") {
                0
            } else {
                self.budget
            }
        }

        fn prune(&mut self, now: Millis) {
            let window = self.window;
            let old = self
                .log
                .iter()
                .take_while(|e| e.0.saturating_add(window) <= now)
                .count();
            crate::core::drop_first(&mut self.log, old);
        }

        /// When the next request may leave, if the request budget is spent.
        pub fn request_wait(&mut self, now: Millis) -> Option<Millis> {
            if !self.requests || self.budget == 0 {
                return None;
            }
            self.prune(now);
            let first = self.log.first()?.0;
            (self.log.len() as u64 >= self.budget).then(|| first + self.window)
        }

        /// A request left at `now`.
        pub fn request_sent(&mut self, now: Millis) {
            if self.requests && self.budget > 0 {
                self.log.push((now, 0, 1));
            }
        }

        /// A rate limit refused the last request, its window reopening at `reopen` (the server's
        /// own `Retry-After`): the server's window opened at most one configured window earlier,
        /// and admitted our requests sent since, but the last. That count is the real budget (it
        /// only ever comes down; none admitted teaches nothing, as someone else on the address
        /// used the window). The window opened no later than the first of them, so it is at most
        /// `reopen - first` long: a server with shorter windows than configured is then paced to
        /// them rather than to one budget a minute. (Each rate limit measures it afresh, within
        /// the configured window: a window opened early by another client on the address gives
        /// too short a reading, and the next rate limit, counted from the reopening, corrects it.)
        /// Counting starts again at the reopening.
        ///
        /// `reopen` is late by up to a second (`Retry-After` counts whole seconds, rounded up) and
        /// by the answer's way back, and our log has each request when it left, before it
        /// arrived: the window opened up to that much earlier than `reopen` says, so the
        /// requests of that margin count too. Counting one of the previous window errs high (a
        /// budget one over, a window a little long), which the next 429 corrects; missing the
        /// window's first second errs low, and a budget never comes back up.
        pub fn learn_rate_limit(&mut self, reopen: Millis) {
            if !self.requests || self.budget == 0 {
                return;
            }
            let opened = reopen.saturating_sub(self.configured + self.slack + RETRY_AFTER_GRAIN_MS);
            let mut ours = self.log.iter().filter(|e| e.0 >= opened);
            let first = ours.next().map_or(reopen, |e| e.0);
            let admitted = ours.count() as u64; // the first counted, the refused one not
            if admitted > 0 {
                self.budget = self.budget.min(admitted);
                let window = (reopen - first).min(self.configured);
                self.slack = pace_slack(window);
                self.window = window + self.slack;
            }
            self.log.clear();
        }

        /// Per-identity use in the window ending `now`.
        pub fn usage(&mut self, now: Millis) -> Usage {
            let mut u = Usage::default();
            if self.identity_budget() == 0 {
                return u;
            }
            self.prune(now);
            for &(t, k, n) in &self.log {
                u.used.insert(k, u.used.get(k).unwrap_or(0) + n);
                if !u.oldest.contains_key(k) {
                    u.oldest.insert(k, t);
                }
            }
            u
        }

        /// When identity `k` (0: none) may send again if it is over budget at `now`; 0 if it is not.
        pub fn over(&self, u: &Usage, k: u64, now: Millis) -> Millis {
            if k == 0 || self.identity_budget() == 0 || u.used.get(k).unwrap_or(0) < self.budget {
                return 0;
            }
            // Used in this plan without a log entry yet: its window starts now.
            u.oldest.get(k).unwrap_or(now) + self.window
        }

        /// Counts one event of identity `k` in the plan being made.
        pub fn add(u: &mut Usage, k: u64) {
            if k != 0 {
                u.used.insert(k, u.used.get(k).unwrap_or(0) + 1);
            }
        }

        /// Identity `k` was throttled again: how much longer than the documented `base` pause it
        /// waits. Repeated throttles back off exponentially with full jitter, the pause uniform
        /// in `base..=min(cap, base·2^(n-1))` for the n-th in a row (the first is `base`).
        #[cfg(feature = "amplitude")]
        pub fn throttle_extra(
            &mut self,
            k: u64,
            rng: &mut Rng,
            base: Millis,
            cap: Millis,
        ) -> Millis {
            let n = self.strikes.get(k).unwrap_or(0);
            self.strikes.insert(k, n + 1);
            let ceiling = base.saturating_mul(1 << n.min(20)).min(cap.max(base));
            rng.up_to(ceiling - base)
        }

        /// A request carrying identity `k` was accepted: its throttles are over.
        pub fn throttle_passed(&mut self, k: u64) {
            if !self.strikes.is_empty() {
                self.strikes.remove(k);
            }
        }

        /// `keys` (one per event, 0 for none) were sent at `now`; consecutive uses of one key make
        /// one entry.
        pub fn identities_sent(&mut self, now: Millis, keys: &[u64]) {
            if self.identity_budget() == 0 {
                return;
            }
            let t = now.div_ceil(self.bucket) * self.bucket;
            for &k in keys.iter().filter(|&&k| k != 0) {
                // This bucket's entries are at the end: one per key.
                let entry = self
                    .log
                    .iter_mut()
                    .rev()
                    .take_while(|e| e.0 == t)
                    .find(|e| e.1 == k);
                match entry {
                    Some(e) => e.2 += 1,
                    None => self.log.push((t, k, 1)),
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::protocol::PACE_SLACK_MS;

        /// The slack of the 1 s windows below.
        const S: Millis = 31;

        #[test]
        fn requests_keep_the_budget_over_every_rolling_window() {
            let mut p = Pacing::new(3, 1000, true, 1);
            for t in [0, 10, 20] {
                assert_eq!(p.request_wait(t), None);
                p.request_sent(t);
            }
            assert_eq!(p.request_wait(30), Some(1000 + S));
            assert_eq!(p.request_wait(1000 + S), None, "the first aged out");
            p.request_sent(1000 + S);
            assert_eq!(p.request_wait(1000 + S), Some(1010 + S));
            p.learn_rate_limit(1010);
            assert_eq!(
                p.budget, 2,
                "three since the window opened at 10 (a second before, for Retry-After's rounding), the last refused"
            );
            assert_eq!(p.request_wait(2015), None, "counting starts again");
            p.request_sent(3000);
            p.learn_rate_limit(4500);
            assert_eq!(
                p.budget, 2,
                "a window that admitted none of ours teaches nothing"
            );
        }

        #[test]
        fn a_rate_limit_teaches_a_shorter_window_and_the_next_corrects_it() {
            // Configured: 100 a minute. The server's window is 2 s and admits 20.
            let mut p = Pacing::new(100, 60_000, true, 1);
            for i in 0..21 {
                assert_eq!(p.request_wait(i * 10), None);
                p.request_sent(i * 10);
            }
            p.learn_rate_limit(2_000);
            assert_eq!((p.budget, p.window - p.slack), (20, 2_000));
            for i in 0..20 {
                assert_eq!(p.request_wait(2_000 + i * 10), None);
                p.request_sent(2_000 + i * 10);
            }
            assert_eq!(
                p.request_wait(2_200),
                Some(4_000 + p.slack),
                "20 per 2 s, not 20 a minute"
            );
            // Another client had opened that first window early: ours is really 10 s. The next
            // rate limit, counted from the reopening, reads the window whole.
            let mut p = Pacing::new(100, 60_000, true, 1);
            p.request_sent(9_000);
            p.request_sent(9_100);
            p.learn_rate_limit(10_000);
            assert_eq!(p.window - p.slack, 1_000);
            p.request_sent(10_000);
            p.request_sent(10_500);
            p.learn_rate_limit(20_000);
            assert_eq!((p.budget, p.window - p.slack), (1, 10_000));
        }

        #[test]
        fn a_rate_limit_counts_the_requests_of_the_first_second_of_the_window() {
            // 100 a minute told, 50 admitted: a burst of one request every 30 ms from 0, the
            // server's window opening as the first arrives (5 ms) and the 51st refused on arrival
            // (1,505 ms) with Retry-After: 59, the 58.5 s left rounded up, read at 1,510 ms.
            let mut p = Pacing::new(100, 60_000, true, 1);
            for i in 0..51 {
                p.request_sent(i * 30);
            }
            p.learn_rate_limit(1_510 + 59_000);
            assert_eq!(
                p.budget, 50,
                "every request of the window counts, however the Retry-After was rounded"
            );
        }

        #[test]
        fn a_burst_in_the_windows_first_second_teaches_the_budget() {
            // The server admits 50 a minute; a paced client sends 51 within 250 ms of the
            // window's opening at 0. The 51st hears Retry-After ceil(59.75 s) = 60 s: the window
            // reopens at 60,000, named as 60,250.
            let mut p = Pacing::new(100, 60_000, true, 1);
            for i in 0..51 {
                p.request_sent(i * 5);
            }
            p.learn_rate_limit(250 + 60_000);
            assert_eq!(p.budget, 50);
        }

        #[test]
        fn a_day_is_logged_by_minute_and_ages_out_no_earlier() {
            let mut p = Pacing::new(4, 86_400_000, false, 60_000);
            p.identities_sent(1_000, &[5, 6, 5]);
            p.identities_sent(59_000, &[5]);
            assert_eq!(p.log, vec![(60_000, 5, 3), (60_000, 6, 1)]);
            let u = p.usage(70_000);
            assert_eq!(p.over(&u, 5, 70_000), 0);
            p.identities_sent(70_000, &[5]);
            let u = p.usage(70_000);
            assert_eq!(p.over(&u, 5, 70_000), 60_000 + 86_400_000 + PACE_SLACK_MS);
        }

        #[test]
        fn repeated_throttles_back_off_with_full_jitter_up_to_the_cap() {
            let (mut p, mut rng) = (Pacing::new(30, 1000, false, 1), Rng::new(3));
            assert_eq!(
                p.throttle_extra(9, &mut rng, 30_000, 300_000),
                0,
                "first: 30 s"
            );
            let mut longest = 0;
            for n in 1..12u32 {
                let extra = p.throttle_extra(9, &mut rng, 30_000, 300_000);
                let ceiling = (30_000u64 << n).min(300_000);
                assert!(extra <= ceiling - 30_000, "throttle {n}: {extra}");
                longest = longest.max(extra);
            }
            assert!(longest > 60_000, "it grows");
            p.throttle_passed(9);
            assert_eq!(
                p.throttle_extra(9, &mut rng, 30_000, 300_000),
                0,
                "reset by a success"
            );
        }

        #[test]
        fn an_identity_over_budget_waits_alone() {
            let mut p = Pacing::new(2, 1000, false, 1);
            p.identities_sent(0, &[7, 7, 8]);
            let mut u = p.usage(5);
            assert_eq!(p.over(&u, 7, 5), 1000 + S);
            assert_eq!(p.over(&u, 8, 5), 0);
            Pacing::add(&mut u, 8);
            assert_eq!(p.over(&u, 8, 5), 1000 + S, "from its first use");
            assert_eq!(p.over(&u, 0, 5), 0, "no identity is never paced");
            let u = p.usage(1000 + S);
            assert_eq!(p.over(&u, 7, 1000 + S), 0);
        }
    }
}
