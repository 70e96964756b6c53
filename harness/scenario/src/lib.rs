//! Scenario files for fleetgate: strict TOML in, a validated [`Scenario`] out. Pure: no async
//! runtime, no I/O beyond what the caller hands in.
//!
//! A file is parsed with spans ([`toml::de::DeTable`]), read against the declared format
//! ([`spec`]) so that unknown keys, missing keys, wrong types and malformed units are all found
//! in one pass, then compiled: duplicate names, unknown cases and metrics and inconsistent keys
//! are found too. Every problem is a [`Diagnostic`] with `file:line:column`, the key path and
//! what would be accepted; warnings are kept apart from errors.
//!
//! # Layout
//!
//! - [`spec`]: the format, declared once as data (tables, keys, kinds, defaults, docs).
//! - `read`: walks the TOML tree against the spec.
//! - [`compile()`]: whole-file checks and assembly of the typed [`Scenario`] ([`model`]).
//! - [`units`]: durations, signed durations, rates and sizes.
//! - [`template`]: device id templates and the IoT Core id rule.
//! - [`glob`]: case-id globs (the metrics crate's name globs).
//! - [`diagnostic`]: diagnostics and their rendering.
//! - [`schema`]: the JSON schema, generated from the spec.
//! - [`reference`]: the Markdown reference of the format, generated from the spec.

mod compile;
pub mod diagnostic;
pub use fleetgate_metrics::glob;
pub mod model;
mod read;
pub mod reference;
pub mod schema;
pub mod spec;
pub mod template;
pub mod units;

pub use compile::{Compiled, compile};
pub use diagnostic::{Diagnostic, Severity, SourceFile, render_all};
pub use model::Scenario;
