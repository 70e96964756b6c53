//! The bridge conformance cases (docs/protocol.md §1–§4): the catalogue, the probe client that
//! drives them, and the executor that runs the selected ones against the embedded bridge or an
//! external one and judges each against the outcome its profile expects.
//!
//! - [`catalogue`]: every case: id, rule, expected outcome per profile, safety switch.
//! - `checks`: what each group of cases does.
//! - `probe`: raw MQTT 3.1.1 over TLS.
//! - `target`: the bridge under test, its clock, registry and events.
//! - `evidence`: observations and verdicts.
//! - `executor`: selection, overrides, concurrency, results.

pub(crate) mod catalogue;
mod checks;
mod evidence;
mod executor;
mod probe;
mod target;

pub(crate) use executor::run;
