//! Virtual Raspberry Pis and the open-loop load engine.
//!
//! A virtual Pi is a sans-I/O state machine ([`device::Device`]): it decides when to connect,
//! what to publish and queue, when to refresh its JWT and how long to back off, and is driven by
//! a task on rumqttc. Every message has an intended send time from an open-loop schedule, and
//! every payload carries the device id, a sequence number and that time, so loss, duplicates,
//! reordering and end-to-end latency are counted exactly downstream.
//!
//! # Layout
//!
//! - [`device`]: the state machine, its inputs, actions and observations.
//! - [`driver`]: runs a device over rumqttc (one shared rustls configuration).
//! - [`engine`]: cohorts and phases to windows, device tasks, per-second collection.
//! - [`shard`]: the I-th of N slices of every cohort, for runs spread over machines.
//! - [`schedule`]: open-loop send times (fixed interval or Poisson).
//! - [`backoff`]: exponential backoff with jitter.
//! - [`payload`]: the self-describing payloads (JSON or binary).
//! - [`tally`]: exact delivery accounting (acknowledged vs seen downstream).
//! - [`rng`]: the seeded generator every random choice comes from.

pub mod backoff;
pub mod device;
pub mod driver;
pub mod engine;
pub mod payload;
pub mod rng;
pub mod schedule;
pub mod shard;
pub mod tally;
