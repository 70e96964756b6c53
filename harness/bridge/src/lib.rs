//! The embedded IoT-Core-compatible MQTT bridge (docs/protocol.md §1–§5): what virtual devices and
//! real Pis connect to by default, and the reference against which external bridges are judged.
//!
//! It is a purpose-built server, not a general broker: an IoT Core bridge routes device
//! telemetry to Pub/Sub and config and commands to one device, never device to device, and its
//! refusals (CONNACK codes per profile, closes on topic and QoS violations) are the point. The
//! MQTT 3.1.1 codec is rumqttc's `mqttbytes::v4`, the same one the virtual devices use, so the
//! dependency graph holds one MQTT implementation; rumqttd was ruled out (it refuses client ids
//! containing `/`, sends no CONNACK on auth failure and has no per-device topic rules).
//!
//! # Layout
//!
//! - [`server`]: the listener, TLS, the one-connection-per-device map, config pushes,
//!   commands and disconnects; `connection` drives one session over its socket.
//! - [`admin`]: the admin API (HTTP/JSON on loopback).
//! - [`registry`]: devices, credentials, configs, state, gateway bindings, routing.
//! - [`session`]: the sans-I/O state machine of one connection.
//! - [`forward`]: routing and attributes of telemetry, and the [`Forwarder`] seam to Pub/Sub.
//! - [`http_bridge`]: the HTTP device bridge (publishEvent, setState, getConfig).
//! - [`tls`]: a CA and server certificate per run, or the user's files;
//!   [`tls_listener`] serves the HTTP side over it.
//! - [`faults`]: injected refusals, PUBACK delays, stalled forwarding, listener restarts.
//! - [`clock`]: system time that conformance cases can move forward.
//! - [`topics`]: the device topic grammar and access rules.
//! - [`profile`]: `google` and `clearblade` answers and limits.
//! - [`events`]: connection attempts and disconnects, with claims, verdicts and causes.
//! - `safety`: test-only switches that turn one enforced rule off, for the conformance
//!   self-check.

pub mod admin;
pub mod clock;
mod connection;
pub mod events;
pub mod faults;
pub mod forward;
pub mod http_bridge;
pub mod profile;
pub mod registry;
#[doc(hidden)]
pub mod safety;
pub mod server;
pub mod session;
pub mod tls;
pub mod tls_listener;
pub mod topics;

pub use forward::Forwarder;
pub use server::{Bridge, BridgeConfig, DeviceRegistry};
