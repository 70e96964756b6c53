//! Identity material for every other fleetgate component: pure, no async runtime.
//!
//! docs/protocol.md §2 (device JWTs, credential formats) and §6 (Google OIDC push tokens). The bridge
//! calls [`rules::check`] per CONNECT; the virtual fleet mints with [`jwt::TokenMinter`] from
//! [`pool`] keys; the conformance catalogue enumerates [`jwt::mutations::TokenMutation`] and
//! [`variants::KEY_FORMAT_VARIANTS`]; the push suite uses [`google`].
//!
//! # Layout
//!
//! - [`keys`]: RSA (1024–4096) and P-256 device keys, random or seeded, every PEM encoding,
//!   parsed once and cached for signing.
//! - [`pem`]: strict PEM encoding and decoding, one error per field mistake.
//! - [`certs`]: X.509 certificates (rcgen), self-signed or signed by a registry CA.
//! - [`credentials`]: the four credential formats and registration with typed refusals.
//! - [`variants`]: the key-format catalogue (valid formats and malformed variants).
//! - [`clock`]: a device clock with skew, drift and unsynced starts.
//! - [`jwt`]: device JWT minting, decoding and the token mutation catalogue.
//! - [`google`]: the Google mock identity: signing keys, rotation, push tokens, documents,
//!   push-token mutations and a reference verifier.
//! - [`pool`]: key pools generated once from a seed on every core, loaded fast.
//! - [`rules`]: the bridge's JWT rules under profile settings, `Accept` or a typed refusal.

pub mod certs;
pub mod clock;
pub mod credentials;
mod der;
pub mod google;
pub mod jwt;
pub mod keys;
pub mod pem;
pub mod pool;
pub mod rules;
pub mod variants;

pub use keys::{Alg, DeviceKey, KeyError, KeySpec};
