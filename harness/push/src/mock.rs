//! The Google mock served over HTTP on loopback (wiremock): the JWKS, the PEM certificates by
//! `kid` and the OpenID configuration, each with `Cache-Control: max-age`, counted per endpoint.
//!
//! Every responder reads the shared [`GoogleIdentity`] when a request arrives, rather than
//! serving a body fixed when it was mounted: a rotation or retirement is then one write under
//! the lock, seen at once and together by all three documents (no window where the JWKS is new
//! and the certificates old, no re-mounting race), and the same `Arc` can feed the token source
//! of the Pub/Sub emulator, so the tokens it mints and the keys served never disagree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use fleetgate_identity::KeyError;
use fleetgate_identity::google::{GoogleError, GoogleIdentity, ISSUER, PushClaims, openid_configuration};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One document the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The JWKS, `/oauth2/v3/certs`.
    Jwks,
    /// The PEM certificates by `kid`, `/oauth2/v1/certs`.
    PemCerts,
    /// The OpenID configuration, `/.well-known/openid-configuration`.
    OpenIdConfiguration,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Self; 3] = [Self::Jwks, Self::PemCerts, Self::OpenIdConfiguration];

    /// The path Google serves it at.
    pub fn path(self) -> &'static str {
        match self {
            Self::Jwks => "/oauth2/v3/certs",
            Self::PemCerts => "/oauth2/v1/certs",
            Self::OpenIdConfiguration => "/.well-known/openid-configuration",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Jwks => 0,
            Self::PemCerts => 1,
            Self::OpenIdConfiguration => 2,
        }
    }
}

/// How the mock serves its documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoogleMockConfig {
    /// `Cache-Control: public, max-age=N` on every document (whole seconds).
    pub max_age: Duration,
}

impl Default for GoogleMockConfig {
    /// An hour, a value of the order Google serves.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(3600),
        }
    }
}

type Counters = Arc<[AtomicU64; 3]>;

/// Answers one endpoint from the identity as it is now, counting the request.
struct Document {
    endpoint: Endpoint,
    identity: Arc<RwLock<GoogleIdentity>>,
    jwks_uri: String,
    max_age: u64,
    counters: Counters,
}

impl Respond for Document {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.counters[self.endpoint.index()].fetch_add(1, Ordering::SeqCst);
        let body = match self.endpoint {
            Endpoint::Jwks => read(&self.identity).jwks(),
            Endpoint::PemCerts => read(&self.identity).pem_certs(),
            Endpoint::OpenIdConfiguration => openid_configuration(ISSUER, &self.jwks_uri),
        };
        ResponseTemplate::new(200)
            .insert_header("cache-control", format!("public, max-age={}", self.max_age))
            .set_body_raw(body, "application/json; charset=UTF-8")
    }
}

fn read(identity: &RwLock<GoogleIdentity>) -> RwLockReadGuard<'_, GoogleIdentity> {
    identity.read().unwrap_or_else(PoisonError::into_inner)
}

/// Google's key endpoints on a loopback port, serving a shared [`GoogleIdentity`].
pub struct GoogleMock {
    server: MockServer,
    identity: Arc<RwLock<GoogleIdentity>>,
    counters: Counters,
}

impl GoogleMock {
    /// Serves `identity` on `127.0.0.1` at a free port. Rotating or retiring keys through
    /// [`GoogleMock::rotate`], [`GoogleMock::retire`] or the shared lock changes what every
    /// document serves from the next request on.
    pub async fn start(identity: Arc<RwLock<GoogleIdentity>>, config: GoogleMockConfig) -> Self {
        let server = MockServer::builder().disable_request_recording().start().await;
        Self::serve(server, identity, config).await
    }

    /// Like [`GoogleMock::start`], on a listener the caller bound (a fixed address that an
    /// endpoint under test was configured to trust before the run).
    pub async fn start_on(
        listener: std::net::TcpListener,
        identity: Arc<RwLock<GoogleIdentity>>,
        config: GoogleMockConfig,
    ) -> Self {
        let server = MockServer::builder()
            .listener(listener)
            .disable_request_recording()
            .start()
            .await;
        Self::serve(server, identity, config).await
    }

    async fn serve(
        server: MockServer,
        identity: Arc<RwLock<GoogleIdentity>>,
        config: GoogleMockConfig,
    ) -> Self {
        let counters: Counters = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
        let jwks_uri = format!("{}{}", server.uri(), Endpoint::Jwks.path());
        for endpoint in Endpoint::ALL {
            let document = Document {
                endpoint,
                identity: Arc::clone(&identity),
                jwks_uri: jwks_uri.clone(),
                max_age: config.max_age.as_secs(),
                counters: Arc::clone(&counters),
            };
            Mock::given(method("GET"))
                .and(path(endpoint.path()))
                .respond_with(document)
                .mount(&server)
                .await;
        }
        Self {
            server,
            identity,
            counters,
        }
    }

    /// A mock serving a fresh identity (one RSA-2048 key, its certificate dated by `now`).
    pub async fn generate(now: i64, config: GoogleMockConfig) -> Result<Self, GoogleError> {
        let identity = Arc::new(RwLock::new(GoogleIdentity::generate(now)?));
        Ok(Self::start(identity, config).await)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The full URL of `endpoint`.
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.server.uri(), endpoint.path())
    }

    /// The JWKS URL, what a verifier is configured to trust.
    pub fn jwks_url(&self) -> String {
        self.url(Endpoint::Jwks)
    }

    /// The PEM certificates URL (google-auth's `certs_url`).
    pub fn pem_certs_url(&self) -> String {
        self.url(Endpoint::PemCerts)
    }

    /// The shared identity, e.g. for a token source minting with the same keys.
    pub fn identity(&self) -> &Arc<RwLock<GoogleIdentity>> {
        &self.identity
    }

    /// Publishes a new signing key (`now` dates its certificate); the previous ones stay
    /// published until retired. Returns the new `kid`.
    pub fn rotate(&self, now: i64) -> Result<String, GoogleError> {
        let mut identity = self.identity.write().unwrap_or_else(PoisonError::into_inner);
        identity.rotate(now).map(str::to_owned)
    }

    /// Unpublishes `kid` (never the active key); whether it was retired.
    pub fn retire(&self, kid: &str) -> bool {
        let mut identity = self.identity.write().unwrap_or_else(PoisonError::into_inner);
        identity.retire(kid)
    }

    /// The `kid` of the key that signs new tokens.
    pub fn active_kid(&self) -> String {
        read(&self.identity).active().kid().to_owned()
    }

    /// A push token with `claims`, signed by the active key.
    pub fn push_token(&self, claims: &PushClaims) -> Result<String, KeyError> {
        read(&self.identity).push_token(claims)
    }

    /// How many GET requests `endpoint` has answered so far. A request is counted before its
    /// response is sent, so once a client has the answer the count includes it.
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.counters[endpoint.index()].load(Ordering::SeqCst)
    }
}
