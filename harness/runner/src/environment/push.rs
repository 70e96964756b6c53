//! The push side of a run (docs/protocol.md §6): the Google mock over HTTP serving the run's one
//! Google identity (the same one the embedded Pub/Sub emulator signs its push tokens with), and
//! the push endpoint under test: the reference verifier trusting the mock's JWKS (embedded), or
//! the user's URL, which must trust the mock's certificates.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use fleetgate_identity::google::GoogleIdentity;
use fleetgate_push::verifier::{self, Deliveries, VerifierConfig, VerifierHandle};
use fleetgate_push::{Endpoint, GoogleMock, GoogleMockConfig, PushTarget};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::PushTarget as ScenarioPushTarget;

use super::EnvironmentError;
use crate::catalogue::{self, Family};

/// The push side of a started environment.
pub struct PushEnv {
    /// The Google mock: JWKS, PEM certificates and OpenID configuration over HTTP.
    pub mock: GoogleMock,
    /// The push endpoint under test: URL, expected audience, push service account.
    pub target: PushTarget,
    /// The embedded reference verifier (`None` when the endpoint is the user's).
    pub verifier: Option<VerifierHandle>,
    /// Every push the embedded verifier answered, with its verdict; whoever reads them takes
    /// them (the pipeline's end-to-end latency, `serve`'s log).
    pub deliveries: Option<Deliveries>,
    /// The authenticated push subscription on the telemetry topic (`[push] subscribe`).
    pub subscription: Option<String>,
}

impl PushEnv {
    /// The mock's URLs an endpoint is configured to trust: `(jwks, pem_certs, openid_configuration)`.
    pub fn google_urls(&self) -> (String, String, String) {
        (
            self.mock.url(Endpoint::Jwks),
            self.mock.url(Endpoint::PemCerts),
            self.mock.url(Endpoint::OpenIdConfiguration),
        )
    }

    /// Stops the embedded verifier.
    pub async fn shutdown(self) {
        if let Some(verifier) = self.verifier {
            let _ = verifier.shutdown().await;
        }
    }
}

/// Whether the scenario needs the push side: push cases, push load, or the pipeline's push
/// subscription.
pub fn needed(scenario: &Scenario) -> bool {
    scenario.push.subscribe
        || scenario.push.load.is_some()
        || scenario
            .cases
            .iter()
            .any(|id| catalogue::find(id).is_some_and(|c| c.family == Family::Push))
}

/// The run's Google identity: one RSA key, its certificate dated now.
pub(super) fn identity() -> Result<Arc<RwLock<GoogleIdentity>>, EnvironmentError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    GoogleIdentity::generate(now)
        .map(|google| Arc::new(RwLock::new(google)))
        .map_err(|e| EnvironmentError::Start(format!("the Google mock's signing key: {e}")))
}

/// Starts the Google mock on `[push] google_listen` around `identity`, and the reference
/// verifier when the scenario's push endpoint is embedded.
pub(super) async fn start(
    scenario: &Scenario,
    identity: Arc<RwLock<GoogleIdentity>>,
) -> Result<PushEnv, EnvironmentError> {
    let address = scenario.push.google_listen;
    let listener = std::net::TcpListener::bind(address)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| {
            EnvironmentError::Start(format!(
                "cannot listen for the Google mock on {address} ([push] google_listen): {e}"
            ))
        })?;
    let mock = GoogleMock::start_on(listener, identity, GoogleMockConfig::default()).await;
    let service_account = scenario.push.service_account.clone();
    let (target, verifier, deliveries) = match &scenario.target.push_endpoint {
        ScenarioPushTarget::Embedded => {
            let config = VerifierConfig::new(mock.jwks_url(), service_account.clone());
            let (handle, deliveries) = verifier::start(config)
                .await
                .map_err(|e| EnvironmentError::Start(e.to_string()))?;
            let target = PushTarget::new(handle.url(), service_account);
            (target, Some(handle), Some(deliveries))
        }
        ScenarioPushTarget::External { url, audience } => {
            let target = PushTarget {
                url: url.clone(),
                audience: audience.clone(),
                service_account,
            };
            (target, None, None)
        }
    };
    Ok(PushEnv {
        mock,
        target,
        verifier,
        deliveries,
        subscription: None,
    })
}
