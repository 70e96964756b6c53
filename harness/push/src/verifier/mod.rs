//! The reference push verifier (docs/protocol.md §6): the embedded default push endpoint.

mod jwks;
mod keys;
mod request;
mod server;

pub use jwks::{JwksError, max_age, parse_jwks};
pub use keys::KeyFetchError;
pub use request::{PushedMessage, Refusal, Verdict, bearer_token, parse_body};
pub use server::{Deliveries, Delivery, PUSH_PATH, VerifierConfig, VerifierError, VerifierHandle, start};
