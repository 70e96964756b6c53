//! The load over time: one sample per interval of the virtual fleet, as the HTML report plots
//! it (throughput, connected devices, latency percentiles per interval).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One interval of a load run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineSample {
    /// End of the interval, seconds from the start of the load.
    pub at_secs: f64,
    /// Length of the interval, seconds.
    pub length_secs: f64,
    /// The phase running at its end, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Devices in the fleet.
    pub devices: u64,
    /// Devices connected at its end.
    pub connected: u64,
    /// Telemetry messages sent so far.
    pub sent: u64,
    /// Telemetry messages acknowledged so far.
    pub acked: u64,
    /// Messages acknowledged per second over the interval.
    pub acked_per_sec: f64,
    /// Refusals, failed connection attempts, lost connections and client errors so far.
    pub errors: u64,
    /// Latency recorded during the interval, by metric (`publish.puback`, `connect`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency: BTreeMap<String, IntervalLatency>,
}

/// Percentiles of one metric's samples within one interval, in µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntervalLatency {
    /// Samples in the interval.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}
