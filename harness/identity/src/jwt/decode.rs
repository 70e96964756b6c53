//! Reading a presented compact JWS, strictly (unpadded base64url only) or leniently (either
//! alphabet, with or without padding), without trusting it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// Why a token cannot be read at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An empty token.
    #[error("empty token")]
    Empty,
    /// Not three dot-separated segments (for example truncated).
    #[error("not three dot-separated segments")]
    Segments,
    /// A segment that is not base64url (or not base64 at all when lenient).
    #[error("a segment is not unpadded base64url")]
    Base64,
    /// Header or claims that are not a JSON object.
    #[error("header or claims are not a JSON object")]
    Json,
}

/// A token split and decoded, not verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<'a> {
    /// `header.payload` exactly as presented: what the signature covers.
    pub signing_input: &'a str,
    /// The header object.
    pub header: Map<String, Value>,
    /// The claims object.
    pub claims: Map<String, Value>,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

fn segment(s: &str, strict: bool) -> Result<Vec<u8>, DecodeError> {
    if strict {
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DecodeError::Base64);
        }
        return URL_SAFE_NO_PAD.decode(s).map_err(|_| DecodeError::Base64);
    }
    let normal: String = s
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normal).map_err(|_| DecodeError::Base64)
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(DecodeError::Json),
    }
}

/// Splits and decodes `token`; `strict` allows only unpadded base64url.
pub fn decode(token: &str, strict: bool) -> Result<Decoded<'_>, DecodeError> {
    if token.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(DecodeError::Segments);
    };
    let (header, claims, signature) = (segment(h, strict)?, segment(p, strict)?, segment(s, strict)?);
    Ok(Decoded {
        signing_input: &token[..h.len() + 1 + p.len()],
        header: object(&header)?,
        claims: object(&claims)?,
        signature,
    })
}

/// What a token claims, as presented (for events and reports): never trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresentedClaims {
    /// Header `alg`.
    pub alg: Option<String>,
    /// Header `kid`.
    pub kid: Option<String>,
    /// `iat`, when an integer.
    pub iat: Option<i64>,
    /// `exp`, when an integer.
    pub exp: Option<i64>,
    /// `aud` as written: the string, or the JSON of anything else.
    pub aud: Option<String>,
}

impl PresentedClaims {
    /// Reads the claims of `token` leniently; `None` when it cannot be decoded.
    pub fn of(token: &str) -> Option<Self> {
        decode(token, false).ok().map(|d| Self::from_decoded(&d))
    }

    pub(crate) fn from_decoded(d: &Decoded<'_>) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Self {
            alg: text(d.header.get("alg")),
            kid: text(d.header.get("kid")),
            iat: d.claims.get("iat").and_then(Value::as_i64),
            exp: d.claims.get("exp").and_then(Value::as_i64),
            aud: d.claims.get("aud").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        }
    }
}
