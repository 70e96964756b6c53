//! Authenticated push (docs/protocol.md §6): the Google mock served over HTTP and the reference push
//! verifier. The key material, tokens, documents and token rules come from
//! [`fleetgate_identity::google`]; this crate serves and applies them over HTTP.
//!
//! A case starts a [`GoogleMock`] (wiremock on loopback) around a shared
//! [`GoogleIdentity`](fleetgate_identity::google::GoogleIdentity), points a verifier at its
//! [`GoogleMock::jwks_url`], pushes tokens minted by the same identity, and reads the mock's
//! per-endpoint request counts to tell whether the verifier cached or refetched. The mock's
//! responders read the shared identity on every request instead of being re-mounted on rotation:
//! one write under the lock changes all three documents at once, and the Pub/Sub emulator's token
//! source can share the same identity (details in [`mock`]).
//!
//! # Layout
//!
//! - [`cases`]: the push-endpoint case catalogue (stable `push.*` ids, the rule each checks, accept
//!   or refuse) and the executor that runs it against an endpoint URL, with per-case evidence.
//!   - `catalogue`: the cases and what each sends.
//!   - `executor`: minting, realistic wrapped/unwrapped Pub/Sub pushes, rotation of the mock.
//!   - `outcome`: the per-case result and its judgement (no I/O).
//! - [`load`]: push load with goose: fresh valid pushes at a fixed rate, latencies in an HDR
//!   histogram (µs), errors by kind.
//! - [`mock`]: the Google mock: `/oauth2/v3/certs` (JWKS), `/oauth2/v1/certs` (PEM certificates
//!   by `kid`), `/.well-known/openid-configuration`, each with `Cache-Control: max-age`; key
//!   rotation and retirement during a run; request counting per endpoint.
//! - [`verifier`]: the reference push endpoint (axum): strict §6 token checks against the keys
//!   fetched from a JWKS URL (cached by `max-age`, refetched on an unknown `kid`), wrapped and
//!   unwrapped bodies, every delivery recorded for end-to-end latency.
//!   - `jwks`: JWKS documents into verification keys, `Cache-Control` into a lifetime (no I/O).
//!   - `keys`: the key cache and its HTTP fetches.
//!   - `request`: bearer token, body forms, refusals and their statuses (no I/O).
//!   - `server`: the HTTP driver, its configuration, handle and delivery records.

pub mod cases;
pub mod load;
pub mod mock;
pub mod verifier;

pub use cases::{CaseOutcome, ExecutorConfig, Expectation, PushCase, PushTarget};
pub use mock::{Endpoint, GoogleMock, GoogleMockConfig};
pub use verifier::{Deliveries, Delivery, Refusal, Verdict, VerifierConfig, VerifierHandle};
