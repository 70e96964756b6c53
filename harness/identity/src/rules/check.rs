//! The check itself, in the order a careful verifier applies the rules: form, header, key and
//! signature, then claims.

use serde_json::{Map, Value};

use super::{BridgeSettings, ExtraClaims, KidHeader, Refusal};
use crate::credentials::{PublicKey, RegisteredCredential};
use crate::jwt::{DecodeError, Decoded, PresentedClaims, decode};
use crate::keys::Alg;

/// An accepted token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Its `exp`: the bridge closes the connection after `exp` + skew.
    pub exp: i64,
    /// Index of the credential that verified it.
    pub credential: usize,
}

/// The verdict on a presented token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What the token claims, when it could be decoded at all (for events).
    pub claims: Option<PresentedClaims>,
    /// Accepted, or the refusal.
    pub result: Result<Accepted, Refusal>,
}

/// Checks `token` for a device of project `audience` holding `credentials`, at `now` (Unix s).
pub fn check(
    token: &str,
    audience: &str,
    credentials: &[RegisteredCredential],
    settings: &BridgeSettings,
    now: i64,
) -> Verdict {
    let claims = PresentedClaims::of(token);
    let result = decode(token, settings.strict_base64url)
        .map_err(|e| match e {
            DecodeError::Empty => Refusal::EmptyPassword,
            DecodeError::Segments => Refusal::Malformed,
            DecodeError::Base64 => Refusal::BadBase64,
            DecodeError::Json => Refusal::MalformedJson,
        })
        .and_then(|d| {
            let alg = header(&d.header, settings)?;
            let credential = signature(&d, alg, credentials, settings, now)?;
            let exp = claim_rules(&d.claims, audience, settings, now)?;
            Ok(Accepted { exp, credential })
        });
    Verdict { claims, result }
}

fn header(header: &Map<String, Value>, settings: &BridgeSettings) -> Result<Alg, Refusal> {
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some(a) if a.eq_ignore_ascii_case("none") => return Err(Refusal::AlgNone),
        Some("RS256") => Alg::Rs256,
        Some("ES256") => Alg::Es256,
        _ => return Err(Refusal::AlgUnsupported),
    };
    if settings.kid == KidHeader::Refuse && header.contains_key("kid") {
        return Err(Refusal::KidNotAllowed);
    }
    Ok(alg)
}

fn signature(
    d: &Decoded<'_>,
    alg: Alg,
    credentials: &[RegisteredCredential],
    settings: &BridgeSettings,
    now: i64,
) -> Result<usize, Refusal> {
    if credentials.is_empty() {
        return Err(Refusal::NoCredentials);
    }
    let of_alg = || credentials.iter().enumerate().filter(|(_, c)| c.key.alg() == alg);
    if of_alg().next().is_none() {
        return Err(Refusal::AlgMismatch);
    }
    let usable = || of_alg().filter(|(_, c)| c.usable_at(now));
    if usable().next().is_none() {
        return Err(Refusal::CredentialExpired);
    }
    let big_enough = |c: &RegisteredCredential| match c.key {
        PublicKey::Rsa { bits, .. } => bits >= settings.min_rsa_bits,
        PublicKey::P256(_) => true,
    };
    let mut candidates = usable().filter(|(_, c)| big_enough(c)).peekable();
    if candidates.peek().is_none() {
        return Err(Refusal::RsaTooSmall);
    }
    if alg == Alg::Es256 && d.signature.len() != 64 {
        return Err(Refusal::Es256SignatureForm);
    }
    candidates
        .find(|(_, c)| c.key.verify(d.signing_input.as_bytes(), &d.signature))
        .map(|(i, _)| i)
        .ok_or(Refusal::BadSignature)
}

fn integer(claims: &Map<String, Value>, name: &str, missing: Refusal) -> Result<i64, Refusal> {
    match claims.get(name) {
        None => Err(missing),
        Some(v) => v.as_i64().ok_or(Refusal::ClaimNotInteger),
    }
}

fn claim_rules(
    claims: &Map<String, Value>,
    audience: &str,
    settings: &BridgeSettings,
    now: i64,
) -> Result<i64, Refusal> {
    match claims.get("aud") {
        None => return Err(Refusal::MissingAud),
        Some(Value::String(aud)) if aud == audience => {}
        Some(Value::String(_)) => return Err(Refusal::AudMismatch),
        Some(_) => return Err(Refusal::AudNotString),
    }
    let iat = integer(claims, "iat", Refusal::MissingIat)?;
    let exp = integer(claims, "exp", Refusal::MissingExp)?;
    if iat > now + settings.skew_secs {
        return Err(Refusal::IatInFuture);
    }
    if exp < now - settings.skew_secs {
        return Err(Refusal::Expired);
    }
    if exp < iat {
        return Err(Refusal::ExpBeforeIat);
    }
    if exp - iat > settings.max_lifetime_secs() {
        return Err(Refusal::LifetimeTooLong);
    }
    let known = |k: &str| matches!(k, "iat" | "exp" | "aud" | "nbf");
    if settings.extra_claims == ExtraClaims::Refuse && claims.keys().any(|k| !known(k)) {
        return Err(Refusal::ExtraClaims);
    }
    Ok(exp)
}
