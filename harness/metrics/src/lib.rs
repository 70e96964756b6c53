//! Measurement core of fleetgate.
//!
//! Today it holds the catalogue of metric names, the single place where they are defined: gates
//! in scenario files, the runner and every report refer to metrics through it. The HDR histogram
//! recorders (per worker, merged at the end, serialisable for shard merging), counters and the
//! per-second interval log arrive with the virtual fleet.
//!
//! # Layout
//!
//! - [`names`]: metric names, their units, which direction is better, and the statistics that
//!   gates can address (`publish.puback.p99`).

pub mod names;

pub use names::{Better, GateKey, Metric, MetricKind, Statistic, Unit};
