//! OIDC tokens for the embedded emulator's authenticated pushes, minted by the identity crate's
//! Google mock: `aud` is the configured audience (or the endpoint URL), `email` the
//! subscription's push service account, `exp = iat + 3600`, signed with the active key (its
//! `kid` in the header), so a verifier checks them against the mock's published keys.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use fleetgate_identity::google::{GoogleIdentity, PushClaims};
use fleetgate_pubsub::{PushTokenSource, TokenError};

/// Mints push tokens with a shared Google mock identity (which may rotate its keys meanwhile).
#[derive(Clone)]
pub struct GoogleTokens {
    identity: Arc<RwLock<GoogleIdentity>>,
}

impl GoogleTokens {
    /// Tokens signed by `identity`'s active key.
    pub fn new(identity: Arc<RwLock<GoogleIdentity>>) -> Self {
        Self { identity }
    }
}

impl PushTokenSource for GoogleTokens {
    fn token(&self, audience: &str, service_account: &str) -> Result<String, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        let claims = PushClaims::new(audience, service_account, now);
        let identity = self.identity.read().unwrap_or_else(PoisonError::into_inner);
        identity.push_token(&claims).map_err(|e| TokenError {
            audience: audience.to_owned(),
            service_account: service_account.to_owned(),
            reason: e.to_string(),
        })
    }
}
