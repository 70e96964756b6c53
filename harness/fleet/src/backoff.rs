//! Exponential backoff with jitter after a refusal or a lost connection, as the seed guide's
//! devices do: the n-th consecutive failure waits `min × multiplier^(n-1)`, capped at `max`,
//! of which a random half is jitter ("equal jitter"), so a fleet that fell together does not
//! come back together.

use std::time::Duration;

use crate::rng::Rng;

/// How a device backs off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffPolicy {
    /// The wait after the first failure (before jitter).
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
    /// The growth factor per consecutive failure (at least 1).
    pub multiplier: f64,
}

impl Default for BackoffPolicy {
    /// 1 s, doubling, at most 32 s: the seed guide's `minimum_backoff_time` and its cap.
    fn default() -> Self {
        Self {
            min: Duration::from_secs(1),
            max: Duration::from_secs(32),
            multiplier: 2.0,
        }
    }
}

impl BackoffPolicy {
    /// The wait before the next attempt after `failures` consecutive failures (≥ 1).
    pub fn delay(&self, failures: u32, rng: &mut Rng) -> Duration {
        let exponent = failures.saturating_sub(1).min(64) as i32;
        let ceiling = self.min.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let ceiling = ceiling.min(self.max.as_secs_f64()).max(0.0);
        Duration::from_secs_f64(ceiling / 2.0 + ceiling / 2.0 * rng.unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_the_multiplier_stay_within_jitter_and_stop_at_max() {
        let policy = BackoffPolicy {
            min: Duration::from_secs(1),
            max: Duration::from_secs(10),
            multiplier: 2.0,
        };
        let mut rng = Rng::new(3, 0);
        for (failures, ceiling) in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)] {
            for _ in 0..100 {
                let wait = policy.delay(failures, &mut rng).as_secs_f64();
                assert!(
                    (ceiling / 2.0..=ceiling).contains(&wait),
                    "failure {failures}: {wait} not in [{}, {ceiling}]",
                    ceiling / 2.0
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_devices_that_failed_together() {
        let policy = BackoffPolicy::default();
        let waits: std::collections::BTreeSet<u128> = (0..50)
            .map(|i| policy.delay(3, &mut Rng::new(9, i)).as_millis())
            .collect();
        assert!(waits.len() > 40, "{} distinct waits", waits.len());
    }
}
