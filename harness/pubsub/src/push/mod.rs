//! Push delivery: one driver task per push subscription leases messages, POSTs each to the
//! endpoint (wrapped or unwrapped, with an OIDC token when configured) and acks or nacks it by
//! the HTTP answer.
//!
//! - [`token`]: the [`PushTokenSource`] trait the runner implements with the Google mock.
//! - [`request`]: the HTTP request of one push (body, headers), built without I/O.
//! - [`backoff`]: the subscription-wide push backoff.
//! - `driver`: the task that sends.

pub mod backoff;
mod driver;
pub mod request;
pub mod token;

pub(crate) use driver::Driver;
pub use request::{PushRequest, is_ack_status};
pub use token::{PushTokenSource, TokenError};
