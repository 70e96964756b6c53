//! The errors every Pub/Sub operation returns, with the gRPC code and HTTP status Google uses.

use tonic::Code;

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
    /// A method this emulator does not implement, such as seek or snapshots (`UNIMPLEMENTED`, HTTP 501).
    #[error("{0}")]
    Unimplemented(String),
    /// The emulator is shutting down (`UNAVAILABLE`, HTTP 503).
    #[error("the Pub/Sub emulator is shutting down")]
    ShuttingDown,
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
            Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Unimplemented(_) => Code::Unimplemented,
            Self::ShuttingDown => Code::Unavailable,
        }
    }

    /// The HTTP status and canonical status name of the REST error body.
    pub fn http_status(&self) -> (u16, &'static str) {
        match self {
            Self::NotFound(_) => (404, "NOT_FOUND"),
            Self::AlreadyExists(_) => (409, "ALREADY_EXISTS"),
            Self::InvalidArgument(_) => (400, "INVALID_ARGUMENT"),
            Self::FailedPrecondition(_) => (400, "FAILED_PRECONDITION"),
            Self::Unimplemented(_) => (501, "UNIMPLEMENTED"),
            Self::ShuttingDown => (503, "UNAVAILABLE"),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        tonic::Status::new(error.code(), error.to_string())
    }
}
