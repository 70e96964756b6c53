//! A reference verifier of push tokens: what a correct push endpoint checks (docs/protocol.md §6),
//! each failure a typed refusal with a stable id.

use serde_json::Value;

use super::token::{self, PushClaims};
use super::{ISSUER, ISSUER_WITHOUT_SCHEME};
use crate::credentials::PublicKey;
use crate::jwt::decode;

/// What the endpoint expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushExpectations {
    /// The audience it was configured with (compared case-sensitively).
    pub audience: String,
    /// The push service account.
    pub email: String,
    /// Allowed clock skew, seconds.
    pub skew_secs: i64,
}

/// Why a push token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PushRefusal {
    /// Not a readable compact JWS.
    #[error("not a readable JWT")]
    Malformed,
    /// `alg` none.
    #[error("`alg` none")]
    AlgNone,
    /// `alg` other than RS256.
    #[error("`alg` is not RS256")]
    AlgUnsupported,
    /// No `kid` header.
    #[error("no `kid` header")]
    MissingKid,
    /// A `kid` not among Google's published keys.
    #[error("`kid` not among the published keys")]
    UnknownKid,
    /// The signature does not verify with the key of that `kid`.
    #[error("signature does not verify")]
    BadSignature,
    /// A required claim is missing or of the wrong type.
    #[error("a required claim is missing or mistyped")]
    MissingClaim,
    /// `iss` is neither Google form.
    #[error("`iss` is not Google")]
    WrongIssuer,
    /// `iat` after now + skew.
    #[error("token used too early")]
    IatInFuture,
    /// `exp` before now − skew.
    #[error("token expired")]
    Expired,
    /// `aud` is not the expected audience.
    #[error("`aud` mismatch")]
    AudMismatch,
    /// `email` is not the push service account.
    #[error("`email` mismatch")]
    EmailMismatch,
    /// `email_verified` is not true.
    #[error("`email_verified` is not true")]
    EmailNotVerified,
}

impl PushRefusal {
    /// Stable kebab-case id.
    pub fn id(self) -> &'static str {
        match self {
            Self::Malformed => "malformed-token",
            Self::AlgNone => "alg-none",
            Self::AlgUnsupported => "alg-unsupported",
            Self::MissingKid => "missing-kid",
            Self::UnknownKid => "unknown-kid",
            Self::BadSignature => "bad-signature",
            Self::MissingClaim => "missing-claim",
            Self::WrongIssuer => "wrong-issuer",
            Self::IatInFuture => "iat-in-future",
            Self::Expired => "expired",
            Self::AudMismatch => "aud-mismatch",
            Self::EmailMismatch => "email-mismatch",
            Self::EmailNotVerified => "email-not-verified",
        }
    }
}

/// Verifies `token` against Google's published `keys` (by `kid`) at `now` (Unix seconds).
pub fn verify_push_token(
    token: &str,
    keys: &[(String, PublicKey)],
    expect: &PushExpectations,
    now: i64,
) -> Result<PushClaims, PushRefusal> {
    let d = decode(token, true).map_err(|_| PushRefusal::Malformed)?;
    match d.header.get("alg").and_then(Value::as_str) {
        Some(a) if a.eq_ignore_ascii_case("none") => return Err(PushRefusal::AlgNone),
        Some("RS256") => {}
        _ => return Err(PushRefusal::AlgUnsupported),
    }
    let kid = d
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(PushRefusal::MissingKid)?;
    let (_, key) = keys
        .iter()
        .find(|(k, _)| k == kid)
        .ok_or(PushRefusal::UnknownKid)?;
    if !key.verify(d.signing_input.as_bytes(), &d.signature) {
        return Err(PushRefusal::BadSignature);
    }
    let claims = token::from_json(&d.claims).ok_or(PushRefusal::MissingClaim)?;
    if claims.iss != ISSUER && claims.iss != ISSUER_WITHOUT_SCHEME {
        return Err(PushRefusal::WrongIssuer);
    }
    if claims.iat > now + expect.skew_secs {
        return Err(PushRefusal::IatInFuture);
    }
    if claims.exp < now - expect.skew_secs {
        return Err(PushRefusal::Expired);
    }
    if claims.aud != expect.audience {
        return Err(PushRefusal::AudMismatch);
    }
    if claims.email != expect.email {
        return Err(PushRefusal::EmailMismatch);
    }
    if !claims.email_verified {
        return Err(PushRefusal::EmailNotVerified);
    }
    Ok(claims)
}
