//! The errors every Pub/Sub operation returns, with the gRPC code and HTTP status Google uses,
//! and the `ErrorInfo` detail Google attaches to exactly-once acknowledgement failures.

use std::collections::BTreeMap;

use prost::Message as _;
use tonic::Code;

/// The `ErrorInfo.reason` of an exactly-once acknowledgement failure.
pub const EXACTLY_ONCE_REASON: &str = "EXACTLY_ONCE_ACKID_FAILURE";
/// The `ErrorInfo.domain` of Pub/Sub errors.
pub const DOMAIN: &str = "pubsub.googleapis.com";
/// The per-ack-id value Google sends for an invalid or expired ack id.
pub const INVALID_ACK_ID: &str = "PERMANENT_FAILURE_INVALID_ACK_ID";

/// Why a Pub/Sub request was refused; each variant maps to the status Google's service returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The topic, subscription or ack id does not exist (`NOT_FOUND`, HTTP 404).
    #[error("Resource not found (resource={0}).")]
    NotFound(String),
    /// A topic or subscription of that name already exists (`ALREADY_EXISTS`, HTTP 409).
    #[error("Resource already exists in the project (resource={0}).")]
    AlreadyExists(String),
    /// A malformed name, an out-of-range setting or a malformed body (`INVALID_ARGUMENT`, HTTP 400).
    #[error("{0}")]
    InvalidArgument(String),
    /// The request is valid but the resource is in the wrong state (`FAILED_PRECONDITION`, HTTP 400).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The emulator's bound on stored bytes is reached (`RESOURCE_EXHAUSTED`, HTTP 429).
    #[error("{0}")]
    ResourceExhausted(String),
    /// A method or setting this emulator does not implement (`UNIMPLEMENTED`, HTTP 501).
    #[error("{0}")]
    Unimplemented(String),
    /// Acknowledgements on an exactly-once subscription that did not take effect
    /// (`INVALID_ARGUMENT` with an `ErrorInfo` naming each failed ack id, as Google sends).
    #[error(
        "Some acknowledgement ids in the request were invalid. This could be because the acknowledgement ids have expired or the acknowledgement ids were malformed. ({})",
        describe(.0)
    )]
    AckIds(BTreeMap<String, AckFailure>),
    /// Like [`Error::AckIds`], for a request whose other ids were valid: none was applied
    /// (`ABORTED`, HTTP 409). Google's clients retry the ids an `ErrorInfo` does not name when
    /// the code is transient, so the valid ones come again alone and succeed, and each id gets
    /// its own result.
    #[error(
        "Some acknowledgement ids in the request were invalid ({failures}); the other {withheld} were not applied: send them again.",
        failures = describe(.0),
        withheld = .1
    )]
    AckIdsWithheld(BTreeMap<String, AckFailure>, usize),
    /// The emulator is shutting down (`UNAVAILABLE`, HTTP 503).
    #[error("the Pub/Sub emulator is shutting down")]
    ShuttingDown,
}

/// Why one ack id of an exactly-once subscription failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckFailure {
    /// Its lease ended (the ack deadline passed, or the message was nacked or redelivered).
    Expired,
    /// It names no message held for a delivery (already acknowledged, or never handed out).
    Invalid,
}

fn describe(failures: &BTreeMap<String, AckFailure>) -> String {
    let expired = failures.values().filter(|f| **f == AckFailure::Expired).count();
    format!("expired: {expired}, invalid: {}", failures.len() - expired)
}

/// `google.rpc.ErrorInfo`, which `gcloud-googleapis` does not ship.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
    #[prost(string, tag = "2")]
    domain: String,
    #[prost(map = "string, string", tag = "3")]
    metadata: std::collections::HashMap<String, String>,
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }

    /// The gRPC status code Google returns for this error.
    pub fn code(&self) -> Code {
        match self {
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::InvalidArgument(_) | Self::AckIds(_) => Code::InvalidArgument,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::AckIdsWithheld(..) => Code::Aborted,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::Unimplemented(_) => Code::Unimplemented,
            Self::ShuttingDown => Code::Unavailable,
        }
    }

    /// The HTTP status and canonical status name of the REST error body.
    pub fn http_status(&self) -> (u16, &'static str) {
        match self {
            Self::NotFound(_) => (404, "NOT_FOUND"),
            Self::AlreadyExists(_) => (409, "ALREADY_EXISTS"),
            Self::InvalidArgument(_) | Self::AckIds(_) => (400, "INVALID_ARGUMENT"),
            Self::FailedPrecondition(_) => (400, "FAILED_PRECONDITION"),
            Self::AckIdsWithheld(..) => (409, "ABORTED"),
            Self::ResourceExhausted(_) => (429, "RESOURCE_EXHAUSTED"),
            Self::Unimplemented(_) => (501, "UNIMPLEMENTED"),
            Self::ShuttingDown => (503, "UNAVAILABLE"),
        }
    }

    /// The `ErrorInfo` metadata of an exactly-once acknowledgement failure: ack id → failure.
    pub fn ack_id_metadata(&self) -> Option<BTreeMap<&str, &'static str>> {
        let (Self::AckIds(failures) | Self::AckIdsWithheld(failures, _)) = self else {
            return None;
        };
        Some(failures.keys().map(|id| (id.as_str(), INVALID_ACK_ID)).collect())
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        error.into_status()
    }
}

impl Error {
    /// The gRPC status Google sends: code, message, and for exactly-once acknowledgement
    /// failures the `ErrorInfo` detail naming each failed ack id.
    pub fn into_status(self) -> tonic::Status {
        let error = self;
        let message = error.to_string();
        let Some(metadata) = error.ack_id_metadata() else {
            return tonic::Status::new(error.code(), message);
        };
        let info = ErrorInfo {
            reason: EXACTLY_ONCE_REASON.to_owned(),
            domain: DOMAIN.to_owned(),
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let status = gcloud_googleapis::rpc::Status {
            code: error.code() as i32,
            message: message.clone(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".to_owned(),
                value: info.encode_to_vec(),
            }],
        };
        tonic::Status::with_details(error.code(), message, status.encode_to_vec().into())
    }
}
