//! What a device does: its cohort's shared settings and its own up-time windows.

use std::time::Duration;

use crate::backoff::BackoffPolicy;
use crate::payload::PayloadKind;
use crate::schedule::ScheduleKind;

/// A cohort's telemetry.
#[derive(Clone, Debug, PartialEq)]
pub struct TelemetrySpec {
    /// Mean interval between messages.
    pub every: Duration,
    /// Fixed or Poisson.
    pub schedule: ScheduleKind,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Payload encoding.
    pub kind: PayloadKind,
    /// MQTT QoS, 0 or 1.
    pub qos: u8,
    /// Subfolder under `/devices/{id}/events/`, if any.
    pub subfolder: Option<String>,
    /// Messages per device; once all are acknowledged the device disconnects for good.
    pub count: Option<u64>,
}

/// A cohort's state updates (`/devices/{id}/state`, QoS 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateSpec {
    /// Interval between updates.
    pub every: Duration,
    /// Payload size in bytes.
    pub bytes: usize,
}

/// When a device refreshes its JWT: it reconnects with a new one at `refresh_at × lifetime`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenPolicy {
    /// `exp − iat`.
    pub lifetime: Duration,
    /// Fraction of the lifetime after which the device reconnects.
    pub refresh_at: f64,
}

impl Default for TokenPolicy {
    /// 60 minutes, refreshed at 75 %: the seed guide's defaults.
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(3600),
            refresh_at: 0.75,
        }
    }
}

/// Everything the devices of one cohort share.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSpec {
    /// Telemetry, if the devices publish any.
    pub telemetry: Option<TelemetrySpec>,
    /// State updates, if any.
    pub state: Option<StateSpec>,
    /// Token lifetime and refresh.
    pub token: TokenPolicy,
    /// Backoff after a refusal or a lost connection.
    pub backoff: BackoffPolicy,
    /// Largest number of messages queued while offline; the oldest are dropped beyond it.
    pub queue_limit: usize,
    /// How long a stopping device waits for its last PUBACKs.
    pub drain_timeout: Duration,
}

impl Default for DeviceSpec {
    fn default() -> Self {
        Self {
            telemetry: None,
            state: None,
            token: TokenPolicy::default(),
            backoff: BackoffPolicy::default(),
            queue_limit: 1000,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// A span of the run during which a device should be connected (one per load phase).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// When it connects (its intended connect time).
    pub start: Duration,
    /// When it stops publishing and disconnects.
    pub stop: Duration,
    /// Expected drops and re-opens of its connection per minute while up (0: none).
    pub churn_per_min: f64,
}
