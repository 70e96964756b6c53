//! Where push tokens come from. Google signs an OIDC token for every push of a subscription
//! with `oidcToken` set; here a [`PushTokenSource`] does. The runner wires in the identity
//! crate's Google mock, whose keys the mocked JWKS serves, so push endpoints can verify the
//! token exactly as they verify Google's.

/// Mints the OIDC token (a JWT) attached as `Authorization: Bearer …` to a push.
///
/// The token must carry `aud` = `audience`, `email` = `service_account`, `email_verified`
/// true, `iss` = `https://accounts.google.com`, `iat`, and `exp` = `iat + 3600`
/// (docs/protocol.md §6). The emulator calls it once per push request; an implementation may cache
/// tokens for up to an hour, as Google does.
pub trait PushTokenSource: Send + Sync + 'static {
    /// A token for a push to a subscription whose push service account is `service_account`;
    /// `audience` is the configured audience, or the push endpoint URL when none is set.
    fn token(&self, audience: &str, service_account: &str) -> Result<String, TokenError>;
}

/// Why a push token could not be minted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot mint a push token for {service_account} (audience {audience}): {reason}")]
pub struct TokenError {
    /// The audience asked for.
    pub audience: String,
    /// The service account asked for.
    pub service_account: String,
    /// What went wrong.
    pub reason: String,
}
