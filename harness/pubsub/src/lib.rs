//! The embedded Pub/Sub emulator and the harness's Pub/Sub consumer (PROTOCOL.md §6–§7).
//!
//! # Layout
//!
//! - [`broker`]: the state (topics, subscriptions, leases) as a plain struct, sans-I/O.
//! - [`emulator`]: [`Emulator`], the broker shared by the front ends, with waiting pulls.
//! - [`server`]: one listener for gRPC and REST; [`start`] and [`run`].
//! - [`consumer`]: how the runner observes deliveries (embedded or external emulator).
//! - [`push`]: push delivery with OIDC tokens from a [`PushTokenSource`].
//! - [`names`]: resource names and Google's rules for them.
//! - [`error`]: the one error type, with Google's gRPC codes and HTTP statuses.
//! - [`clock`]: the injectable wall clock.
//! - [`time`]: JSON forms of timestamps and durations.
pub mod broker;
pub mod clock;
pub mod consumer;
pub mod emulator;
pub mod error;
pub mod names;
pub mod push;
pub mod server;
pub mod time;

pub use consumer::{Consumer, ConsumerError, Delivery, DeliveryObserver, LatencyRecorder, Source};
pub use emulator::{Emulator, EmulatorConfig};
pub use error::Error;
pub use push::{PushTokenSource, TokenError};
pub use server::{EmulatorHandle, run, start};
