//! Measurement core of fleetgate.
//!
//! Latency is recorded in microseconds in HDR histograms (3 significant figures, auto-resizing),
//! counted events in saturating `u64` counters, both by name, per worker in a [`Recorder`] and
//! merged at the end, never as lists of samples. A [`MetricSet`] is the serialisable form a
//! shard report carries (HdrHistogram V2 deflate, base64), merged losslessly across shards; an
//! [`IntervalLog`] writes one HdrHistogram interval log line per metric per interval.
//!
//! Metric names come from [`names::METRICS`], the one catalogue gates, the runner and reports
//! share. Besides those, per-reason refusal counters `refusals.<reason>` (see
//! [`names::refusal_counter`]) are recorded and reported under their own names; their reasons
//! are open-ended, so they are not gateable (gate on `connects.refused`).
//!
//! # Layout
//!
//! - [`names`]: metric names, their units, which direction is better, and the statistics that
//!   gates can address (`publish.puback.p99`).
//! - [`recorder`]: [`Recorder`], one worker's histograms and counters; lossless merge and
//!   interval rotation.
//! - [`shared`]: [`Shards`], recorders shared by many tasks under short locks, drained by a
//!   collector.
//! - [`set`]: [`MetricSet`], the serde/JSON-schema form of a recorder, and its lossless merge.
//! - [`summary`]: [`Summary`] of a histogram and [`flatten`] into report measurement keys.
//! - [`interval_log`]: [`IntervalLog`], the per-interval HdrHistogram log.
//! - [`error`]: [`MetricsError`], the one error type of the crate.

pub mod error;
pub mod glob;
pub mod interval_log;
pub mod names;
pub mod recorder;
pub mod set;
pub mod shared;
pub mod summary;

pub use error::MetricsError;
pub use interval_log::IntervalLog;
pub use names::{Better, GateKey, Metric, MetricKind, Statistic, Unit};
pub use recorder::{Recorder, SIGNIFICANT_FIGURES};
pub use set::MetricSet;
pub use shared::Shards;
pub use summary::{Summary, flatten};

pub use hdrhistogram::Histogram;
