//! The runner: takes a compiled [`Scenario`](fleetgate_scenario::Scenario), starts its
//! environment, runs its cases and load phases, evaluates its gates and returns one
//! [`ReportData`](fleetgate_report::ReportData). Everything that happens is also sent as a
//! [`RunEvent`] to whoever watches (the CLI's progress output).
//!
//! This build runs the plan as far as components exist: the bridge conformance cases run
//! against the embedded or an external bridge, push cases are reported skipped until their
//! executor lands, and load phases are reported as skipped until the virtual fleet lands; gates
//! are evaluated against whatever was measured (a gate with no data fails).
//!
//! # Layout
//!
//! - [`catalogue`]: the conformance cases this build can run.
//! - `conformance`: the bridge cases (docs/protocol.md §1–§4), their probe client and executor.
//! - [`environment`]: starts Pub/Sub, the embedded bridge and the scenario's devices.
//! - [`events`]: the run events.
//! - [`push_tokens`]: push tokens minted by the identity crate's Google mock.
//! - `push_load`: the scenario's `[push.load]` and its measurements.
//! - [`forwarders`]: the bridge's two ways into Pub/Sub (embedded, external over gRPC).
//! - [`qualify`]: device qualification, the `device.*` cases against real devices.
//! - [`observe`]: what is observed of each real device, for `serve`, `qualify` and `run`.
//! - [`sanitize`]: peer input made safe for logs and reports.
//! - [`run()`]: one run, start to report.

mod cases;
pub mod catalogue;
mod conformance;
pub mod environment;
pub mod events;
pub mod forwarders;
mod load;
pub mod observe;
mod push_load;
pub mod push_tokens;
pub mod qualify;
mod run;
pub mod sanitize;

pub use events::RunEvent;
/// The embedded bridge's events, for whoever watches a served environment.
pub use fleetgate_bridge::events as bridge_events;
/// Test-only switches of the embedded bridge's safety checks (the conformance self-check).
#[doc(hidden)]
pub use fleetgate_bridge::safety;
/// A progress reading of the virtual fleet.
pub use fleetgate_fleet::engine::Progress;
/// The slice of the fleet a run holds, for `fleetgate run --shard I/N`.
pub use fleetgate_fleet::shard::{Shard, ShardError};
/// Key pools and key kinds, for `fleetgate keys`.
pub use fleetgate_identity::{Alg, KeySpec, pool};
/// The reference push verifier's deliveries and verdicts, for whoever watches a served
/// environment.
pub use fleetgate_push::verifier as push;
pub use run::{Baseline, RunError, RunOptions, baseline_policy, not_started, run};
