//! Rate windows and quotas. All take `now_ms` from the caller (the collector's clock), so tests can
//! drive them with a manual clock and assert exact `Retry-After` values.

use std::collections::{HashMap, VecDeque};

use crate::clock::{month_key, next_month_start_ms, retry_after_secs};
use crate::config::{secs_to_ms, Limits};

/// A fixed window that opens at the first request after the previous one closed. A key that hit
/// its limit is told exactly when its window closes.
#[derive(Clone, Copy, Debug)]
struct FixedWindow {
    start_ms: u64,
    count: u64,
}

impl FixedWindow {
    fn roll(&mut self, now: u64, len_ms: u64) {
        if now >= self.start_ms.saturating_add(len_ms) || now < self.start_ms {
            *self = FixedWindow {
                start_ms: now,
                count: 0,
            };
        }
    }
}

/// Why a `/v1-batch` request was refused by the per-minute limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateVerdict {
    Admit,
    /// Per (org, IP): `Retry-After` seconds.
    PerIp(u64),
    /// Per org, all IPs: `Retry-After` seconds.
    PerOrg(u64),
}

/// A rolling count: (time, amount) entries younger than the window.
#[derive(Clone, Debug, Default)]
struct Rolling {
    entries: VecDeque<(u64, u64)>,
    total: u64,
}

impl Rolling {
    fn prune(&mut self, now: u64, len_ms: u64) {
        while let Some(&(t, n)) = self.entries.front() {
            if t.saturating_add(len_ms) > now {
                break;
            }
            self.entries.pop_front();
            self.total -= n;
        }
    }

    fn add(&mut self, now: u64, n: u64) {
        match self.entries.back_mut() {
            // Same millisecond: merge, so a burst does not grow the deque.
            Some((t, m)) if *t == now => *m += n,
            _ => self.entries.push_back((now, n)),
        }
        self.total += n;
    }
}

/// An Amplitude identity, per endpoint and api key: the EPS and daily limits are per project.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdKey {
    pub endpoint: &'static str,
    pub api_key: String,
    pub is_device: bool,
    pub id: String,
}

/// Every window and counter the collector keeps; `/_reset` replaces it with a fresh one.
#[derive(Debug, Default)]
pub struct Windows {
    per_ip: HashMap<(String, String), FixedWindow>,
    per_org: HashMap<String, FixedWindow>,
    /// org -> (month key, events stored that month).
    monthly: HashMap<String, (i64, u64)>,
    eps: HashMap<IdKey, Rolling>,
    daily: HashMap<IdKey, Rolling>,
}

impl Windows {
    /// Counts one `/v1-batch` request against both windows, or refuses it without counting it
    /// anywhere (a refused request does not extend anyone's wait). The per-IP limit is checked
    /// first: it is the one a well-behaved client meets.
    pub fn admit(&mut self, org: &str, ip: &str, now: u64, limits: &Limits) -> RateVerdict {
        let len = secs_to_ms(limits.window_secs);
        let fresh = FixedWindow {
            start_ms: now,
            count: 0,
        };
        let ipw = self
            .per_ip
            .entry((org.to_string(), ip.to_string()))
            .or_insert(fresh);
        ipw.roll(now, len);
        if ipw.count >= limits.rate_per_ip {
            return RateVerdict::PerIp(retry_after_secs(now, ipw.start_ms + len));
        }
        let orgw = self.per_org.entry(org.to_string()).or_insert(fresh);
        orgw.roll(now, len);
        if orgw.count >= limits.rate_per_org {
            return RateVerdict::PerOrg(retry_after_secs(now, orgw.start_ms + len));
        }
        orgw.count += 1;
        if let Some(w) = self.per_ip.get_mut(&(org.to_string(), ip.to_string())) {
            w.count += 1;
        }
        RateVerdict::Admit
    }

    /// `Err(retry_after_secs)` when storing `new_events` more would pass the org's monthly quota.
    /// The quota is never overshot: a batch that does not fit whole is refused whole.
    pub fn monthly_check(
        &mut self,
        org: &str,
        now: u64,
        quota: Option<u64>,
        new_events: u64,
    ) -> Result<(), u64> {
        let Some(quota) = quota else { return Ok(()) };
        if new_events == 0 {
            return Ok(());
        }
        let used = self.monthly_used(org, now);
        if used.saturating_add(new_events) > quota {
            return Err(retry_after_secs(now, next_month_start_ms(now)));
        }
        Ok(())
    }

    pub fn monthly_add(&mut self, org: &str, now: u64, n: u64) {
        let month = month_key(now);
        let e = self.monthly.entry(org.to_string()).or_insert((month, 0));
        if e.0 != month {
            *e = (month, 0);
        }
        e.1 += n;
    }

    fn monthly_used(&self, org: &str, now: u64) -> u64 {
        match self.monthly.get(org) {
            Some(&(m, used)) if m == month_key(now) => used,
            _ => 0,
        }
    }

    /// Events this identity has in its EPS window, before this request.
    pub fn eps_count(&mut self, key: &IdKey, now: u64, len_ms: u64) -> u64 {
        rolling_count(&mut self.eps, key, now, len_ms)
    }

    pub fn daily_count(&mut self, key: &IdKey, now: u64, len_ms: u64) -> u64 {
        rolling_count(&mut self.daily, key, now, len_ms)
    }

    pub fn eps_add(&mut self, key: IdKey, now: u64, n: u64) {
        self.eps.entry(key).or_default().add(now, n);
    }

    pub fn daily_add(&mut self, key: IdKey, now: u64, n: u64) {
        self.daily.entry(key).or_default().add(now, n);
    }
}

fn rolling_count(map: &mut HashMap<IdKey, Rolling>, key: &IdKey, now: u64, len_ms: u64) -> u64 {
    match map.get_mut(key) {
        Some(r) => {
            r.prune(now, len_ms);
            r.total
        }
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_then_per_org_with_exact_retry_after() {
        let limits = Limits {
            rate_per_ip: 2,
            rate_per_org: 3,
            window_secs: 10.0,
            ..Limits::default()
        };
        let mut w = Windows::default();
        assert_eq!(w.admit("o", "a", 1_000, &limits), RateVerdict::Admit);
        assert_eq!(w.admit("o", "a", 2_000, &limits), RateVerdict::Admit);
        // Window for (o, a) opened at 1,000 and closes at 11,000: 8.5 s left, rounded up.
        assert_eq!(w.admit("o", "a", 2_500, &limits), RateVerdict::PerIp(9));
        assert_eq!(w.admit("o", "b", 3_000, &limits), RateVerdict::Admit);
        assert_eq!(w.admit("o", "c", 3_000, &limits), RateVerdict::PerOrg(8));
        // Other orgs are untouched; and the window reopens on time.
        assert_eq!(w.admit("p", "a", 3_000, &limits), RateVerdict::Admit);
        assert_eq!(w.admit("o", "a", 11_000, &limits), RateVerdict::Admit);
    }

    #[test]
    fn rolling_windows_forget_old_events() {
        let mut w = Windows::default();
        let k = IdKey {
            endpoint: "/2/httpapi",
            api_key: "k".into(),
            is_device: true,
            id: "dev-1".into(),
        };
        w.eps_add(k.clone(), 0, 10);
        w.eps_add(k.clone(), 500, 5);
        assert_eq!(w.eps_count(&k, 999, 1000), 15);
        assert_eq!(w.eps_count(&k, 1000, 1000), 5);
        assert_eq!(w.eps_count(&k, 1500, 1000), 0);
    }

    #[test]
    fn monthly_quota_is_never_overshot() {
        let mut w = Windows::default();
        assert_eq!(w.monthly_check("o", 0, Some(10), 10), Ok(()));
        w.monthly_add("o", 0, 8);
        assert!(w.monthly_check("o", 0, Some(10), 3).is_err());
        assert_eq!(w.monthly_check("o", 0, Some(10), 2), Ok(()));
        assert_eq!(w.monthly_check("o", 0, None, 1000), Ok(()));
        // 1970-02-01: a new month starts from zero.
        assert_eq!(w.monthly_check("o", 31 * 86_400_000, Some(10), 10), Ok(()));
    }
}
