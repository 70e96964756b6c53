//! Minting device JWTs: `{alg, typ}` header, `iat`/`exp`/`aud` plus optional extras, signed with
//! a key parsed once. [`TokenMinter`] pre-renders everything that does not change per token.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::clock::DeviceClock;
use crate::keys::{Alg, DeviceKey, KeyError};

/// The claims of a device JWT.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceClaims {
    /// Issued at, Unix seconds (device clock).
    pub iat: i64,
    /// Expiry, Unix seconds (device clock).
    pub exp: i64,
    /// The project id.
    pub aud: String,
    /// Any further claims, written after the three above.
    pub extra: Map<String, Value>,
}

impl DeviceClaims {
    /// `iat`, `exp = iat + lifetime`, `aud`, no extras.
    pub fn new(aud: &str, iat: i64, lifetime_secs: i64) -> Self {
        Self {
            iat,
            exp: iat + lifetime_secs,
            aud: aud.to_owned(),
            extra: Map::new(),
        }
    }

    /// The payload JSON.
    pub fn to_json(&self) -> String {
        payload_json(
            self.iat,
            self.exp,
            &json_string(&self.aud),
            &extra_json(&self.extra),
        )
    }
}

/// The header JSON a device sends for `alg`.
pub(crate) fn header_json(alg: Alg) -> &'static str {
    match alg {
        Alg::Rs256 => r#"{"alg":"RS256","typ":"JWT"}"#,
        Alg::Es256 => r#"{"alg":"ES256","typ":"JWT"}"#,
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn extra_json(extra: &Map<String, Value>) -> String {
    extra
        .iter()
        .map(|(k, v)| format!(",{}:{v}", json_string(k)))
        .collect()
}

fn payload_json(iat: i64, exp: i64, aud_json: &str, extra_json: &str) -> String {
    format!(r#"{{"iat":{iat},"exp":{exp},"aud":{aud_json}{extra_json}}}"#)
}

/// Signs `claims` with `key`: one-off minting.
pub fn mint(key: &DeviceKey, claims: &DeviceClaims) -> Result<String, KeyError> {
    super::compact(header_json(key.alg()), &claims.to_json(), |input| key.sign(input))
}

/// A minted token with the times it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintedToken {
    /// The compact JWS, the MQTT password.
    pub token: String,
    /// Its `iat`.
    pub iat: i64,
    /// Its `exp`.
    pub exp: i64,
}

/// Mints one device's tokens: key parsed once, header and constant claims pre-rendered.
#[derive(Clone, Debug)]
pub struct TokenMinter {
    key: Arc<DeviceKey>,
    clock: DeviceClock,
    lifetime_secs: i64,
    header_b64: String,
    aud_json: String,
    extra_json: String,
}

impl TokenMinter {
    /// A minter for `key`, audience `project`, tokens living `lifetime_secs`, times from `clock`.
    pub fn new(key: Arc<DeviceKey>, project: &str, lifetime_secs: i64, clock: DeviceClock) -> Self {
        Self {
            header_b64: URL_SAFE_NO_PAD.encode(header_json(key.alg())),
            key,
            clock,
            lifetime_secs,
            aud_json: json_string(project),
            extra_json: String::new(),
        }
    }

    /// Adds claims written after `iat`, `exp` and `aud` in every token.
    pub fn with_extra_claims(mut self, extra: &Map<String, Value>) -> Self {
        self.extra_json = extra_json(extra);
        self
    }

    /// The device's clock.
    pub fn clock(&self) -> &DeviceClock {
        &self.clock
    }

    /// Mints a token at true time `true_ms`: `iat` is the device clock's reading.
    pub fn mint_at(&self, true_ms: i64) -> Result<MintedToken, KeyError> {
        let iat = self.clock.now_secs(true_ms);
        let exp = iat + self.lifetime_secs;
        let payload = payload_json(iat, exp, &self.aud_json, &self.extra_json);
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 2 + 360);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(MintedToken { token, iat, exp })
    }
}
