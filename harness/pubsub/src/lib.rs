//! The embedded Pub/Sub emulator and the harness's Pub/Sub consumer (docs/protocol.md §6–§7).
//!
//! Start it with [`start`] (`127.0.0.1:0` → an [`EmulatorHandle`] with `local_addr()` and
//! `shutdown()`) or [`run`] on a listener you bound; clients find it through
//! `PUBSUB_EMULATOR_HOST`. In-process callers (the bridge's forwarder, the runner) use the
//! [`Emulator`]: [`Emulator::publish`] returns once the messages are stored, with their ids.
//! The runner observes deliveries with a [`Consumer`] from this emulator or an external one.
//!
//! gRPC is routed by hand on tonic's server API with the prost types of `gcloud-googleapis`:
//! no crate ships Pub/Sub server stubs, and generating them would need `.proto` files in the
//! build (see [`server::grpc`]). Authenticated push takes its OIDC tokens from a
//! [`PushTokenSource`]; the runner wires in the identity crate's Google mock.
//!
//! # Layout
//!
//! - [`broker`]: the state (topics, subscriptions, snapshots, leases, filters, limits, stored
//!   bytes) as a plain struct, sans-I/O.
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
