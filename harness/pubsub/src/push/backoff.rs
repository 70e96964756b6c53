//! The push backoff Google applies to a whole subscription: after a failed push, new pushes
//! wait 100 ms, doubling with each further failure up to 60 s; a success resets it.

use std::time::Duration;

/// The first pause after a failure.
pub const MIN: Duration = Duration::from_millis(100);
/// The longest pause.
pub const MAX: Duration = Duration::from_secs(60);

/// Push backoff state of one subscription.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushBackoff {
    current: Option<Duration>,
}

impl PushBackoff {
    /// Records a failed push; returns how long to pause new pushes.
    pub fn failure(&mut self) -> Duration {
        let next = self.current.map_or(MIN, |d| d.saturating_mul(2).min(MAX));
        self.current = Some(next);
        next
    }

    /// Records a successful push: no pause from now on.
    pub fn success(&mut self) {
        self.current = None;
    }

    /// The current pause, if pushes are backing off.
    pub fn current(&self) -> Option<Duration> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_100ms_to_60s_and_resets_on_success() {
        let mut b = PushBackoff::default();
        let pauses: Vec<u128> = (0..12).map(|_| b.failure().as_millis()).collect();
        assert_eq!(
            pauses,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000
            ]
        );
        b.success();
        assert_eq!(b.current(), None);
        assert_eq!(b.failure(), MIN);
    }
}
