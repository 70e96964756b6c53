//! The verifier's HTTP driver (axum on `127.0.0.1:0`): reads each push, verifies its token
//! against the keys from the JWKS URL, answers, and records the delivery.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use fleetgate_identity::google::verify::{PushExpectations, verify_push_token};
use fleetgate_identity::jwt::PresentedClaims;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::keys::KeyCache;
use super::request::{PushedMessage, Refusal, Verdict, bearer_token, parse_body};

/// The path the verifier receives pushes on.
pub const PUSH_PATH: &str = "/push";

/// What the verifier trusts and expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Where Google's keys are (the mock's [`crate::GoogleMock::jwks_url`]).
    pub jwks_url: String,
    /// The expected `aud`; `None` means the verifier's own [`VerifierHandle::url`], Pub/Sub's
    /// default audience.
    pub audience: Option<String>,
    /// The push service account, the expected `email`.
    pub service_account: String,
    /// Allowed clock skew for `iat` and `exp`.
    pub skew: Duration,
    /// Timeout of one JWKS fetch.
    pub fetch_timeout: Duration,
}

impl VerifierConfig {
    /// Trusts `jwks_url`, expects `service_account`, audience its own URL, no skew, 10 s fetches.
    pub fn new(jwks_url: impl Into<String>, service_account: impl Into<String>) -> Self {
        Self {
            jwks_url: jwks_url.into(),
            audience: None,
            service_account: service_account.into(),
            skew: Duration::ZERO,
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

/// One push as the verifier saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message, `None` when the body was unreadable.
    pub message: Option<PushedMessage>,
    /// When the request was read.
    pub received_at: SystemTime,
    /// The answer.
    pub verdict: Verdict,
}

impl Delivery {
    /// From the message's `publishTime` to its receipt: the end-to-end latency of this push.
    /// `None` without a readable publish time, or when it is after the receipt.
    pub fn latency(&self) -> Option<Duration> {
        let text = self.message.as_ref()?.publish_time.as_deref()?;
        let published: SystemTime = OffsetDateTime::parse(text, &Rfc3339).ok()?.into();
        self.received_at.duration_since(published).ok()
    }
}

/// Every delivery, in the order answered. Unbounded: the reader should drain it.
pub type Deliveries = mpsc::UnboundedReceiver<Delivery>;

/// Why the verifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// Binding `127.0.0.1:0` failed.
    #[error("binding the push verifier to 127.0.0.1:0: {error}")]
    Bind {
        /// The socket error.
        error: io::Error,
    },
    /// The HTTP client for the JWKS could not be built.
    #[error("building the JWKS client: {error}")]
    Client {
        /// The client error.
        error: reqwest::Error,
    },
}

struct Shared {
    keys: KeyCache,
    expect: PushExpectations,
    deliveries: mpsc::UnboundedSender<Delivery>,
}

/// A running verifier.
pub struct VerifierHandle {
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl VerifierHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The push endpoint URL, `http://127.0.0.1:<port>/push`.
    pub fn url(&self) -> String {
        format!("http://{}{PUSH_PATH}", self.local_addr)
    }

    /// Stops accepting, finishes requests in flight, and waits for the server to end.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}

/// Starts a verifier on `127.0.0.1:0`; its deliveries arrive on the returned receiver, each
/// sent before the push is answered.
pub async fn start(config: VerifierConfig) -> Result<(VerifierHandle, Deliveries), VerifierError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| VerifierError::Bind { error })?;
    let local_addr = listener
        .local_addr()
        .map_err(|error| VerifierError::Bind { error })?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(config.fetch_timeout)
        .build()
        .map_err(|error| VerifierError::Client { error })?;
    let (deliveries, receiver) = mpsc::unbounded_channel();
    let audience = config
        .audience
        .unwrap_or_else(|| format!("http://{local_addr}{PUSH_PATH}"));
    let shared = Arc::new(Shared {
        keys: KeyCache::new(client, config.jwks_url),
        expect: PushExpectations {
            audience,
            email: config.service_account,
            skew_secs: i64::try_from(config.skew.as_secs()).unwrap_or(i64::MAX),
        },
        deliveries,
    });
    let app = Router::new().route(PUSH_PATH, post(push)).with_state(shared);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let handle = VerifierHandle {
        local_addr,
        stop,
        task,
    };
    Ok((handle, receiver))
}

async fn push(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received_at = SystemTime::now();
    let message = parse_body(&headers, &body);
    let verdict = match verify(&shared, &headers, received_at).await {
        Ok(()) if message.is_none() => Verdict::Refused(Refusal::BadBody),
        Ok(()) => Verdict::Accepted,
        Err(refusal) => Verdict::Refused(refusal),
    };
    let _ = shared.deliveries.send(Delivery {
        message,
        received_at,
        verdict,
    });
    let status = StatusCode::from_u16(verdict.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match verdict {
        Verdict::Accepted => status.into_response(),
        Verdict::Refused(refusal) => (status, format!("{}\n", refusal.id())).into_response(),
    }
}

async fn verify(shared: &Shared, headers: &HeaderMap, at: SystemTime) -> Result<(), Refusal> {
    let token = bearer_token(headers)?;
    let now = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // An undecodable token needs no keys: the verifier refuses it as malformed without a fetch.
    let keys = match PresentedClaims::of(token) {
        Some(presented) => shared
            .keys
            .keys_for(presented.kid.as_deref())
            .await
            .map_err(|_| Refusal::KeysUnavailable)?,
        None => Vec::new(),
    };
    verify_push_token(token, &keys, &shared.expect, now)
        .map(|_| ())
        .map_err(Refusal::Token)
}
