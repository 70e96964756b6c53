//! Identity material for every other fleetgate component: pure, no async runtime.
//!
//! PROTOCOL.md §2 (device JWTs, credential formats) and §6 (Google OIDC push tokens).
//!
//! # Layout
//!
//! - [`keys`]: RSA (1024–4096) and P-256 device keys, random or seeded, every PEM encoding,
//!   parsed once and cached for signing.
//! - [`pem`]: strict PEM encoding and decoding, one error per field mistake.

pub mod certs;
pub mod credentials;
mod der;
pub mod keys;
pub mod pem;
pub mod variants;

pub use keys::{Alg, DeviceKey, KeyError, KeySpec};
