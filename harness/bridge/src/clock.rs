//! The bridge's clock: the wall time when it was made, plus the monotonic time elapsed since
//! (tokio's clock, so a paused test runtime drives it), plus an offset that tests and conformance
//! cases can move, so rules about 24-hour lifetimes and 20-minute idle limits are checked without
//! waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::session::UnixMillis;

/// Wall time that advances monotonically, plus whatever [`Clock::advance`] added.
#[derive(Debug)]
pub struct Clock {
    wall_at_start: i64,
    started: tokio::time::Instant,
    offset: AtomicI64,
    moved: watch::Sender<i64>,
}

impl Default for Clock {
    fn default() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Self {
            wall_at_start: wall,
            started: tokio::time::Instant::now(),
            offset: AtomicI64::new(0),
            moved: watch::Sender::new(0),
        }
    }
}

impl Clock {
    /// Now, in milliseconds since the Unix epoch.
    pub fn now(&self) -> UnixMillis {
        let elapsed = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX / 4);
        self.wall_at_start
            .saturating_add(elapsed)
            .saturating_add(self.offset.load(Ordering::Relaxed))
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
