//! The documents Google serves for its signing keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::SigningKey;
use crate::der;

/// `{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":…,"n":…,"e":…}]}`.
pub(super) fn jwks(keys: &[SigningKey]) -> String {
    let jwks: Vec<Value> = keys
        .iter()
        .filter_map(|k| {
            let der::SpkiKey::Rsa(pkcs1) = der::parse_spki(k.key.spki_der())? else {
                return None;
            };
            let (n, e) = der::rsa_components(&pkcs1)?;
            Some(json!({
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": k.kid,
                "n": URL_SAFE_NO_PAD.encode(n),
                "e": URL_SAFE_NO_PAD.encode(e),
            }))
        })
        .collect();
    json!({ "keys": jwks }).to_string()
}

/// `{"<kid>":"-----BEGIN CERTIFICATE-----\n…"}`.
pub(super) fn pem_certs(keys: &[SigningKey]) -> String {
    let map: Map<String, Value> = keys
        .iter()
        .map(|k| (k.kid.clone(), Value::String(k.cert_pem.clone())))
        .collect();
    Value::Object(map).to_string()
}

/// An OpenID configuration document for an issuer whose JWKS is at `jwks_uri`.
pub fn openid_configuration(issuer: &str, jwks_uri: &str) -> String {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        "jwks_uri": jwks_uri,
        "response_types_supported": ["code", "token", "id_token", "code id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "sub", "azp"],
    })
    .to_string()
}
