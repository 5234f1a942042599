//! Backoff after transient failures: exponential, with full jitter.

use super::rng::Rng;
use super::Millis;

/// Exponential backoff with full jitter (uniform in `0..=min(max, base·2^(attempt-1))`): spreads
/// many clients that failed together, and is what AWS's analysis found to finish soonest.
pub(crate) fn backoff_delay(rng: &mut Rng, attempt: u32, base: Millis, max: Millis) -> Millis {
    let shift = attempt.saturating_sub(1).min(40);
    // base · 2^shift, saturating (a shift and a compare; see `push_digit`).
    let ceiling = if base > u64::MAX >> shift {
        u64::MAX
    } else {
        base << shift
    };
    let ceiling = ceiling.min(max);
    rng.up_to(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let mut rng = Rng::new(1);
        for attempt in 1..70 {
            let ceiling = 1000u64
                .saturating_mul(1 << (attempt - 1).min(40))
                .min(300_000);
            for _ in 0..50 {
                assert!(backoff_delay(&mut rng, attempt, 1000, 300_000) <= ceiling);
            }
        }
    }
}
