//! The embedded Pub/Sub emulator and the harness's Pub/Sub consumer (PROTOCOL.md §6–§7).
//!
//! # Layout
//!
//! - [`broker`]: the state (topics, subscriptions, leases) as a plain struct, sans-I/O.
//! - [`names`]: resource names and Google's rules for them.
//! - [`error`]: the one error type, with Google's gRPC codes and HTTP statuses.
//! - [`clock`]: the injectable wall clock.
pub mod broker;
pub mod clock;
pub mod error;
pub mod names;

pub use error::Error;
