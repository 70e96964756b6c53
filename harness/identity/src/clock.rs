//! A device's clock: fixed skew, drift in ppm, or an unsynced clock that starts at 1970 or a
//! fixed date (docs/protocol.md §8.1). It maps the harness's true time to what the device believes,
//! which is what its `iat`/`exp` come from.

/// Where the device clock starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockStart {
    /// Synchronised: true time plus the skew.
    Synced,
    /// Never synchronised: starts at the Unix epoch (1970) when the model starts.
    Epoch1970,
    /// Never synchronised: starts at this Unix time (seconds) when the model starts.
    FixedDate(i64),
}

/// How a device's clock differs from true time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockModel {
    /// Constant offset, milliseconds (positive: the device is ahead).
    pub skew_ms: i64,
    /// Rate error in parts per million (positive: the device runs fast).
    pub drift_ppm: f64,
    /// Synchronised or not.
    pub start: ClockStart,
}

impl ClockModel {
    /// A perfect clock.
    pub const EXACT: Self = Self {
        skew_ms: 0,
        drift_ppm: 0.0,
        start: ClockStart::Synced,
    };
}

impl Default for ClockModel {
    fn default() -> Self {
        Self::EXACT
    }
}

/// A device clock started at a known true time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceClock {
    model: ClockModel,
    origin_ms: i64,
}

impl DeviceClock {
    /// A clock following `model`, started at true time `origin_ms` (Unix milliseconds).
    pub fn new(model: ClockModel, origin_ms: i64) -> Self {
        Self { model, origin_ms }
    }

    /// The model.
    pub fn model(&self) -> ClockModel {
        self.model
    }

    /// What the device reads, in Unix milliseconds, at true time `true_ms`.
    pub fn now_ms(&self, true_ms: i64) -> i64 {
        let elapsed = true_ms - self.origin_ms;
        let drift = (elapsed as f64 * self.model.drift_ppm / 1e6).round() as i64;
        let base = match self.model.start {
            ClockStart::Synced => true_ms,
            ClockStart::Epoch1970 => elapsed,
            ClockStart::FixedDate(secs) => secs.saturating_mul(1000) + elapsed,
        };
        base + drift + self.model.skew_ms
    }

    /// What the device reads, in whole Unix seconds, at true time `true_ms`.
    pub fn now_secs(&self, true_ms: i64) -> i64 {
        self.now_ms(true_ms).div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_750_000_000_000;

    #[test]
    fn skew_drift_and_unsynced_starts() {
        let exact = DeviceClock::new(ClockModel::EXACT, T0);
        assert_eq!(exact.now_ms(T0 + 5), T0 + 5);
        let skewed = DeviceClock::new(
            ClockModel {
                skew_ms: -90_000,
                ..ClockModel::EXACT
            },
            T0,
        );
        assert_eq!(skewed.now_secs(T0), T0 / 1000 - 90);
        let fast = DeviceClock::new(
            ClockModel {
                drift_ppm: 100.0,
                ..ClockModel::EXACT
            },
            T0,
        );
        assert_eq!(fast.now_ms(T0 + 3_600_000), T0 + 3_600_000 + 360);
        let slow = DeviceClock::new(
            ClockModel {
                drift_ppm: -50.0,
                ..ClockModel::EXACT
            },
            T0,
        );
        assert_eq!(slow.now_ms(T0 + 1_000_000), T0 + 1_000_000 - 50);
        let epoch = DeviceClock::new(
            ClockModel {
                start: ClockStart::Epoch1970,
                ..ClockModel::EXACT
            },
            T0,
        );
        assert_eq!(epoch.now_secs(T0 + 42_000), 42);
        let fixed = ClockModel {
            start: ClockStart::FixedDate(1_600_000_000),
            ..ClockModel::EXACT
        };
        assert_eq!(DeviceClock::new(fixed, T0).now_secs(T0 + 1_000), 1_600_000_001);
    }
}
