//! Reading what a JWKS endpoint answers, without I/O: the RSA keys by `kid` (as PKCS#1 DER
//! verification keys) and how long `Cache-Control` lets a verifier keep them.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fleetgate_identity::credentials::PublicKey;
use serde_json::Value;

/// Why a JWKS document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The body is not JSON.
    #[error("the JWKS is not JSON: {error}")]
    Json {
        /// The parser's complaint.
        error: serde_json::Error,
    },
    /// No `keys` array at the top level.
    #[error(
        "the JWKS has no `keys` array (expected {{\"keys\":[{{\"kty\":\"RSA\",\"kid\":…,\"n\":…,\"e\":…}}]}})"
    )]
    NoKeys,
    /// An RSA key whose `kid`, `n` or `e` is missing or not base64url.
    #[error("JWKS key #{index} (kid {kid:?}) is unreadable: {what}")]
    BadKey {
        /// Its position in `keys`.
        index: usize,
        /// Its `kid`, when it has one.
        kid: Option<String>,
        /// What is wrong, and what would be accepted.
        what: &'static str,
    },
}

/// The RSA keys of a JWKS document, by `kid`. Keys of other types (`kty` not `RSA`) are skipped,
/// as a verifier of RS256 tokens ignores them.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<(String, PublicKey)>, JwksError> {
    let doc: Value = serde_json::from_slice(body).map_err(|error| JwksError::Json { error })?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(JwksError::NoKeys)?;
    let mut out = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        if key.get("kty").and_then(Value::as_str) != Some("RSA") {
            continue;
        }
        let kid = key.get("kid").and_then(Value::as_str).map(str::to_owned);
        let bad = |what| JwksError::BadKey {
            index,
            kid: kid.clone(),
            what,
        };
        let component = |name: &str| {
            key.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .filter(|v| !v.is_empty())
        };
        let n = component("n").ok_or_else(|| bad("`n` must be a non-empty base64url string"))?;
        let e = component("e").ok_or_else(|| bad("`e` must be a non-empty base64url string"))?;
        let id = kid.clone().ok_or_else(|| bad("`kid` must be a string"))?;
        out.push((id, rsa_public_key(&n, &e)));
    }
    Ok(out)
}

/// The PKCS#1 `RSAPublicKey` of modulus `n` and exponent `e` (unsigned big-endian).
fn rsa_public_key(n: &[u8], e: &[u8]) -> PublicKey {
    let n = strip_zeros(n);
    let bits = u32::try_from(n.len() * 8).unwrap_or(u32::MAX) - n.first().map_or(0, |b| b.leading_zeros());
    let mut body = der_unsigned(n);
    body.extend(der_unsigned(strip_zeros(e)));
    PublicKey::Rsa {
        pkcs1: der_tlv(0x30, &body),
        bits,
    }
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(v.len().saturating_sub(1));
    &v[start..]
}

/// A DER INTEGER of an unsigned big-endian value (a leading zero when the top bit is set).
fn der_unsigned(v: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(v);
    der_tlv(0x02, &content)
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// How long a response may be cached: `max-age` of `Cache-Control`, zero when it is absent,
/// unreadable, or `no-cache`/`no-store` is present.
pub fn max_age(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return Duration::ZERO;
    };
    let mut age = Duration::ZERO;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Duration::ZERO;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs
                .trim_matches('"')
                .parse()
                .map_or(Duration::ZERO, Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use fleetgate_identity::google::GoogleIdentity;

    #[test]
    fn jwks_keys_equal_the_published_keys() {
        let mut google = GoogleIdentity::generate(1_700_000_000).unwrap();
        google.rotate(1_700_000_000).unwrap();
        let parsed = parse_jwks(google.jwks().as_bytes()).unwrap();
        assert_eq!(parsed, google.public_keys());
    }

    #[test]
    fn unreadable_documents_are_typed_errors() {
        assert!(matches!(parse_jwks(b"<html>"), Err(JwksError::Json { .. })));
        assert!(matches!(parse_jwks(b"{\"k\":1}"), Err(JwksError::NoKeys)));
        let no_n = br#"{"keys":[{"kty":"RSA","kid":"a","e":"AQAB"}]}"#;
        let err = parse_jwks(no_n).unwrap_err();
        assert!(matches!(err, JwksError::BadKey { index: 0, .. }), "{err}");
        assert!(err.to_string().contains("`n`"), "{err}");
        let ec = br#"{"keys":[{"kty":"EC","kid":"a"}]}"#;
        assert!(parse_jwks(ec).unwrap().is_empty());
    }

    #[test]
    fn max_age_reads_cache_control() {
        assert_eq!(
            max_age(Some("public, max-age=300, must-revalidate")),
            Duration::from_secs(300)
        );
        assert_eq!(max_age(Some("max-age=60, no-cache")), Duration::ZERO);
        assert_eq!(max_age(Some("max-age=abc")), Duration::ZERO);
        assert_eq!(max_age(None), Duration::ZERO);
    }

    #[test]
    fn long_lengths_use_the_long_der_form() {
        assert_eq!(der_tlv(0x04, &[7; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der_tlv(0x04, &[7; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_unsigned(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
    }
}
