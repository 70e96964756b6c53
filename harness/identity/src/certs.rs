//! X.509 certificates for the `*_X509_PEM` credential formats (rcgen): self-signed like the seed
//! guide's `openssl req -x509 … -subj "/CN=unused"`, or signed by a registry CA, with a chosen
//! validity window.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::OffsetDateTime;

use crate::der;
use crate::keys::{DeviceKey, KeyError, KeySpec};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A validity bound outside what X.509 can carry.
    #[error("validity bound {0} (Unix seconds) is out of range")]
    BadTime(i64),
    /// The key could not be used by the certificate generator.
    #[error("the {0} key cannot sign certificates (self-signed certificates need RSA ≥ 2048 or P-256)")]
    UnusableKey(KeySpec),
    /// rcgen refused the parameters.
    #[error(transparent)]
    Rcgen(#[from] rcgen::Error),
    /// The CA key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Subject and validity of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertOptions {
    /// Subject common name; the seed guide uses `unused`.
    pub common_name: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

impl CertOptions {
    /// `CN=unused`, valid from an hour before `now` for `days` days.
    pub fn valid_around(now: i64, days: i64) -> Self {
        Self {
            common_name: "unused".to_owned(),
            not_before: now - 3600,
            not_after: now + days * 86_400,
        }
    }

    fn params(&self) -> Result<CertificateParams, CertError> {
        let time = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(|_| CertError::BadTime(t));
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        params.not_before = time(self.not_before)?;
        params.not_after = time(self.not_after)?;
        Ok(params)
    }
}

/// A registry CA: once a registry holds one, device credentials must be certificates it signed.
#[derive(Debug)]
pub struct RegistryCa {
    key: DeviceKey,
    params: CertificateParams,
    cert_der: Vec<u8>,
    cert_pem: String,
}

impl RegistryCa {
    /// A new P-256 CA named `name`, valid for `options`' window (its common name is `name`).
    pub fn generate(name: &str, options: &CertOptions) -> Result<Self, CertError> {
        let key = DeviceKey::generate(KeySpec::P256)?;
        let mut params = CertOptions {
            common_name: name.to_owned(),
            ..options.clone()
        }
        .params()?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let signer = rcgen_key(&key)?;
        let cert = params.self_signed(&signer)?;
        Ok(Self {
            key,
            params,
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
        })
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate, PEM (what a registry's `credentials` hold).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

fn rcgen_key(key: &DeviceKey) -> Result<KeyPair, CertError> {
    KeyPair::try_from(key.pkcs8_der()).map_err(|_| CertError::UnusableKey(key.spec()))
}

/// A PEM certificate for `key`: self-signed, or signed by `issuer`.
pub fn certificate(
    key: &DeviceKey,
    options: &CertOptions,
    issuer: Option<&RegistryCa>,
) -> Result<String, CertError> {
    let params = options.params()?;
    let cert = match issuer {
        None => params.self_signed(&rcgen_key(key)?)?,
        Some(ca) => {
            let ca_key = rcgen_key(&ca.key)?;
            let issuer = Issuer::from_params(&ca.params, &ca_key);
            params.signed_by(&SubjectKey::of(key)?, &issuer)?
        }
    };
    Ok(cert.pem())
}

/// A subject public key for rcgen, for any key size (rcgen cannot load RSA-1024 private keys).
struct SubjectKey {
    bits: Vec<u8>,
    alg: &'static rcgen::SignatureAlgorithm,
}

impl SubjectKey {
    fn of(key: &DeviceKey) -> Result<Self, CertError> {
        let unusable = || CertError::UnusableKey(key.spec());
        let (bits, alg) = match der::parse_spki(key.spki_der()).ok_or_else(unusable)? {
            der::SpkiKey::Rsa(pkcs1) => (pkcs1, &rcgen::PKCS_RSA_SHA256),
            der::SpkiKey::P256(point) => (point, &rcgen::PKCS_ECDSA_P256_SHA256),
            der::SpkiKey::Other => return Err(unusable()),
        };
        Ok(Self { bits, alg })
    }
}

impl rcgen::PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg
    }
}
