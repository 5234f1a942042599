//! Time as an input. Every window, quota and log timestamp reads the collector's `Clock`, so the
//! integration tests can pin it (`Clock::manual`) and assert exact `Retry-After` values by logic
//! instead of racing the wall clock on a noisy machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system clock or from a hand-driven one.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stays at `start_ms` until `advance` or `set` moves it; clones share it.
    pub fn manual(start_ms: u64) -> Self {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(start_ms))),
        }
    }

    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        }
    }

    /// Moves a manual clock forward; a no-op on the system clock.
    pub fn advance(&self, ms: u64) {
        if let Some(t) = &self.manual {
            t.fetch_add(ms, Ordering::SeqCst);
        }
    }

    /// Sets a manual clock; a no-op on the system clock.
    pub fn set(&self, ms: u64) {
        if let Some(t) = &self.manual {
            t.store(ms, Ordering::SeqCst);
        }
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day 1-31) for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A month key (`year * 12 + month - 1`) for quota accounting, UTC.
pub fn month_key(now_ms: u64) -> i64 {
    let (y, m, _) = civil_from_days((now_ms / 86_400_000) as i64);
    y * 12 + m as i64 - 1
}

/// Milliseconds since the epoch of 00:00 UTC on the 1st of the month after `now_ms`.
pub fn next_month_start_ms(now_ms: u64) -> u64 {
    let (y, m, _) = civil_from_days((now_ms / 86_400_000) as i64);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) as u64) * 86_400_000
}

/// Whole seconds until `until_ms`, rounded up and never below 1, as `Retry-After` wants: a client
/// that waits exactly this long must find the window open.
pub fn retry_after_secs(now_ms: u64, until_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_month_edges() {
        for days in [-1000_i64, 0, 59, 365, 11_016, 20_454, 20_819, 40_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // 2026-01-31T23:59:30Z -> 2026-02-01T00:00:00Z is 30 s away.
        let t = days_from_civil(2026, 1, 31) as u64 * 86_400_000 + 86_370_000;
        assert_eq!(retry_after_secs(t, next_month_start_ms(t)), 30);
        // December rolls into January of the next year.
        let dec = days_from_civil(2025, 12, 15) as u64 * 86_400_000;
        assert_eq!(
            next_month_start_ms(dec),
            days_from_civil(2026, 1, 1) as u64 * 86_400_000
        );
        assert_ne!(month_key(dec), month_key(next_month_start_ms(dec)));
    }

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let c = Clock::manual(1000);
        let c2 = c.clone();
        c.advance(500);
        assert_eq!(c2.now_ms(), 1500);
        assert_eq!(retry_after_secs(0, 1), 1);
        assert_eq!(retry_after_secs(0, 1001), 2);
        assert_eq!(retry_after_secs(5000, 1000), 1);
    }
}
