//! [`LatencyRecorder`]: counts deliveries and records publish → consume latency in µs from an
//! intended send time that the caller's closure reads out of each payload (the payload format
//! belongs to the fleet, not to this crate).

use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::{Delivery, DeliveryObserver};

/// Counts deliveries and records `received_at − stamp` in an HDR histogram (µs).
pub struct LatencyRecorder<F> {
    stamp: F,
    histogram: Histogram<u64>,
    delivered: u64,
    unstamped: u64,
}

impl<F> std::fmt::Debug for LatencyRecorder<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyRecorder")
            .field("delivered", &self.delivered)
            .field("unstamped", &self.unstamped)
            .finish_non_exhaustive()
    }
}

impl<F> LatencyRecorder<F>
where
    F: Fn(&Delivery) -> Option<SystemTime> + Send + 'static,
{
    /// A recorder reading each message's intended send time with `stamp`.
    pub fn new(stamp: F) -> Self {
        Self {
            stamp,
            histogram: histogram(),
            delivered: 0,
            unstamped: 0,
        }
    }

    /// Messages delivered (redeliveries included).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Deliveries whose payload had no readable stamp.
    pub fn unstamped(&self) -> u64 {
        self.unstamped
    }

    /// Latencies in µs; a stamp later than the receipt counts as 0, latencies over an hour as
    /// [`MAX_MICROS`].
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }
}

/// Latencies up to an hour are kept exactly to 3 significant figures; longer ones are
/// recorded as an hour.
#[allow(
    clippy::expect_used,
    reason = "constant bounds that `Histogram::new_with_bounds` accepts"
)]
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("1 µs .. 1 h at 3 significant figures is valid")
}

/// The largest latency recorded exactly: one hour in µs.
pub const MAX_MICROS: u64 = 3_600_000_000;

impl<F> DeliveryObserver for LatencyRecorder<F>
where
    F: Fn(&Delivery) -> Option<SystemTime> + Send + 'static,
{
    fn observe(&mut self, delivery: &Delivery) {
        self.delivered += 1;
        match (self.stamp)(delivery) {
            Some(stamp) => {
                let micros = delivery
                    .received_at
                    .duration_since(stamp)
                    .map_or(0, |d| d.as_micros());
                self.histogram
                    .saturating_record(u64::try_from(micros).unwrap_or(u64::MAX));
            }
            None => self.unstamped += 1,
        }
    }
}
