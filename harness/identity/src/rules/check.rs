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
        Some(a) if a.eq_ignore_ascii_case("none") && settings.enforces(Refusal::AlgNone) => {
            return Err(Refusal::AlgNone);
        }
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
    let in_force = settings.enforces(Refusal::CredentialExpired);
    let usable = || of_alg().filter(move |(_, c)| !in_force || c.usable_at(now));
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
    if alg == Alg::Es256 && d.signature.len() != 64 && settings.enforces(Refusal::Es256SignatureForm) {
        return Err(Refusal::Es256SignatureForm);
    }
    let verifies = |c: &RegisteredCredential| {
        !settings.enforces(Refusal::BadSignature) || c.key.verify(d.signing_input.as_bytes(), &d.signature)
    };
    candidates
        .find(|(_, c)| verifies(c))
        .map(|(i, _)| i)
        .ok_or(Refusal::BadSignature)
}

/// An integer claim; a missing one is refused, or taken as `otherwise` when that rule is off.
fn integer(
    claims: &Map<String, Value>,
    name: &str,
    missing: Refusal,
    otherwise: i64,
    settings: &BridgeSettings,
) -> Result<i64, Refusal> {
    match claims.get(name) {
        None if settings.enforces(missing) => Err(missing),
        None => Ok(otherwise),
        Some(v) => v.as_i64().ok_or(Refusal::ClaimNotInteger),
    }
}

fn claim_rules(
    claims: &Map<String, Value>,
    audience: &str,
    settings: &BridgeSettings,
    now: i64,
) -> Result<i64, Refusal> {
    let aud = match claims.get("aud") {
        None => Err(Refusal::MissingAud),
        Some(Value::String(aud)) if aud == audience => Ok(()),
        Some(Value::String(_)) => Err(Refusal::AudMismatch),
        Some(_) => Err(Refusal::AudNotString),
    };
    let refuse = |broken: bool, refusal: Refusal| {
        if broken && settings.enforces(refusal) {
            Err(refusal)
        } else {
            Ok(())
        }
    };
    if let Err(refusal) = aud {
        refuse(true, refusal)?;
    }
    let iat = integer(claims, "iat", Refusal::MissingIat, now, settings)?;
    let exp = integer(
        claims,
        "exp",
        Refusal::MissingExp,
        iat.saturating_add(3600),
        settings,
    )?;
    refuse(iat > now.saturating_add(settings.skew_secs), Refusal::IatInFuture)?;
    refuse(exp < now.saturating_sub(settings.skew_secs), Refusal::Expired)?;
    refuse(exp < iat, Refusal::ExpBeforeIat)?;
    // Saturating: a signed token may claim any i64, and `exp − iat` must not overflow.
    refuse(
        exp.saturating_sub(iat) > settings.max_lifetime_secs(),
        Refusal::LifetimeTooLong,
    )?;
    let known = |k: &str| matches!(k, "iat" | "exp" | "aud" | "nbf");
    if settings.extra_claims == ExtraClaims::Refuse && claims.keys().any(|k| !known(k)) {
        return Err(Refusal::ExtraClaims);
    }
    Ok(exp)
}
