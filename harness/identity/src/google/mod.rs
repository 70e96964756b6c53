//! The Google mock identity (docs/protocol.md §6): RSA signing keys with `kid`, rotation, OIDC push
//! tokens and their mutations, the documents Google serves (JWKS, PEM certificates, OpenID
//! configuration), and a reference verifier of push tokens.

mod documents;
pub mod mutations;
mod token;
pub mod verify;

pub use documents::openid_configuration;
pub use token::{ISSUER, ISSUER_WITHOUT_SCHEME, PushClaims, TOKEN_LIFETIME};

use crate::certs::{self, CertError, CertOptions};
use crate::credentials::PublicKey;
use crate::keys::{DeviceKey, KeyError, KeySpec};

/// Why the mock identity could not do something.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    /// Key generation or signing.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The key's certificate.
    #[error(transparent)]
    Cert(#[from] CertError),
}

/// One published signing key.
#[derive(Debug)]
pub struct SigningKey {
    kid: String,
    key: DeviceKey,
    cert_pem: String,
}

impl SigningKey {
    fn generate(now: i64) -> Result<Self, GoogleError> {
        let key = DeviceKey::generate(KeySpec::RSA_2048)?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.spki_der());
        let kid = digest.as_ref()[..20].iter().map(|b| format!("{b:02x}")).collect();
        let options = CertOptions {
            common_name: "accounts.google.com".to_owned(),
            not_before: now - 3600,
            not_after: now + 14 * 86_400,
        };
        let cert_pem = certs::certificate(&key, &options, None)?;
        Ok(Self { kid, key, cert_pem })
    }

    /// The key id, as in the JWT header and the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// Its self-signed certificate, as `/oauth2/v1/certs` serves it.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

/// Google's token signer as a push endpoint sees it: the published keys, newest signs.
#[derive(Debug)]
pub struct GoogleIdentity {
    keys: Vec<SigningKey>,
}

impl GoogleIdentity {
    /// One fresh RSA-2048 key, published; `now` dates its certificate.
    pub fn generate(now: i64) -> Result<Self, GoogleError> {
        Ok(Self {
            keys: vec![SigningKey::generate(now)?],
        })
    }

    /// Publishes a new key that signs from now on; older keys stay published until retired.
    pub fn rotate(&mut self, now: i64) -> Result<&str, GoogleError> {
        self.keys.push(SigningKey::generate(now)?);
        Ok(self.active().kid())
    }

    /// Unpublishes the key `kid`; the active key cannot be retired. Whether it was retired.
    pub fn retire(&mut self, kid: &str) -> bool {
        let active = self.active().kid.clone();
        let before = self.keys.len();
        self.keys.retain(|k| k.kid != kid || k.kid == active);
        self.keys.len() != before
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &SigningKey {
        // `keys` is never empty: built with one, `retire` keeps the active (last) key.
        &self.keys[self.keys.len() - 1]
    }

    /// Every published key, oldest first.
    pub fn published(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The published public keys by `kid`, for verifiers.
    pub fn public_keys(&self) -> Vec<(String, PublicKey)> {
        self.keys
            .iter()
            .filter_map(|k| Some((k.kid.clone(), PublicKey::from_spki(k.key.spki_der())?)))
            .collect()
    }

    /// Mints a push token with the active key.
    pub fn push_token(&self, claims: &PushClaims) -> Result<String, KeyError> {
        token::sign(self.active(), claims)
    }

    /// The JWKS document (`https://www.googleapis.com/oauth2/v3/certs`).
    pub fn jwks(&self) -> String {
        documents::jwks(&self.keys)
    }

    /// The PEM-certificates document (`https://www.googleapis.com/oauth2/v1/certs`).
    pub fn pem_certs(&self) -> String {
        documents::pem_certs(&self.keys)
    }
}
