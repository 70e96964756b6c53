//! OIDC push tokens: header `{alg: RS256, kid, typ: JWT}`, the claims docs/protocol.md §6 lists.

use serde_json::{Value, json};

use super::SigningKey;
use crate::jwt::compact;
use crate::keys::KeyError;

/// The issuer Google writes.
pub const ISSUER: &str = "https://accounts.google.com";
/// The other issuer form verifiers must accept.
pub const ISSUER_WITHOUT_SCHEME: &str = "accounts.google.com";
/// `exp − iat` of Google ID tokens.
pub const TOKEN_LIFETIME: i64 = 3600;

/// The claims of a push token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushClaims {
    /// The push endpoint URL or the configured audience.
    pub aud: String,
    /// Authorised party: the service account's numeric id.
    pub azp: String,
    /// The push service account.
    pub email: String,
    /// Always `true` from Google.
    pub email_verified: bool,
    /// The service account's numeric id.
    pub sub: String,
    /// The issuer.
    pub iss: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// `iat + 3600`.
    pub exp: i64,
}

impl PushClaims {
    /// A fresh token's claims for `audience` and `service_account`, issued at `now`.
    pub fn new(audience: &str, service_account: &str, now: i64) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, service_account.as_bytes());
        let id: String = std::iter::once("1".to_owned())
            .chain(digest.as_ref()[..10].iter().map(|b| format!("{:02}", b % 100)))
            .collect();
        Self {
            aud: audience.to_owned(),
            azp: id.clone(),
            email: service_account.to_owned(),
            email_verified: true,
            sub: id,
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + TOKEN_LIFETIME,
        }
    }

    /// The same token minted `age_secs` earlier (a push may carry a token up to an hour old).
    pub fn aged(mut self, age_secs: i64) -> Self {
        self.iat -= age_secs;
        self.exp = self.iat + TOKEN_LIFETIME;
        self
    }

    /// The payload JSON.
    pub fn to_json(&self) -> String {
        json!({
            "aud": self.aud,
            "azp": self.azp,
            "email": self.email,
            "email_verified": self.email_verified,
            "exp": self.exp,
            "iat": self.iat,
            "iss": self.iss,
            "sub": self.sub,
        })
        .to_string()
    }
}

/// The header JSON with `kid`, or without when `kid` is `None`.
pub(super) fn header(alg: &str, kid: Option<&str>) -> String {
    match kid {
        Some(kid) => json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string(),
        None => json!({"alg": alg, "typ": "JWT"}).to_string(),
    }
}

pub(super) fn sign(key: &SigningKey, claims: &PushClaims) -> Result<String, KeyError> {
    compact(&header("RS256", Some(&key.kid)), &claims.to_json(), |input| {
        key.key.sign(input)
    })
}

/// Parses push claims from a claims object; `None` names nothing, the verifier maps it.
pub(super) fn from_json(claims: &serde_json::Map<String, Value>) -> Option<PushClaims> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(PushClaims {
        aud: text("aud")?,
        azp: text("azp").unwrap_or_default(),
        email: text("email")?,
        email_verified: claims.get("email_verified").and_then(Value::as_bool)?,
        sub: text("sub").unwrap_or_default(),
        iss: text("iss")?,
        iat: claims.get("iat").and_then(Value::as_i64)?,
        exp: claims.get("exp").and_then(Value::as_i64)?,
    })
}
