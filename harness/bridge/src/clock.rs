//! The bridge's clock: system time plus an offset that tests and conformance cases can move, so
//! rules about 24-hour lifetimes and 20-minute idle limits are checked without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::session::UnixMillis;

/// System time, advanced by whatever [`Clock::advance`] added.
#[derive(Debug)]
pub struct Clock {
    offset: AtomicI64,
    moved: watch::Sender<i64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset: AtomicI64::new(0),
            moved: watch::Sender::new(0),
        }
    }
}

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub fn now(&self) -> UnixMillis {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        system.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward; every connection re-checks its timers at once.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let offset = self.offset.fetch_add(by, Ordering::Relaxed).saturating_add(by);
        self.moved.send_replace(offset);
    }

    /// A receiver that changes whenever the clock is moved.
    pub fn moved(&self) -> watch::Receiver<i64> {
        self.moved.subscribe()
    }

    /// How long from now until `at`, never negative.
    pub fn until(&self, at: UnixMillis) -> Duration {
        Duration::from_millis(u64::try_from(at.saturating_sub(self.now())).unwrap_or(0))
    }
}
