//! The four IoT Core credential formats (`PublicKeyFormat`), and registration: reading a
//! credential PEM into a verified public key, or a typed refusal naming the field mistake.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
    UnparsedPublicKey,
};
use x509_parser::oid_registry::{OID_PKCS1_SHA256WITHRSA, OID_SIG_ECDSA_WITH_SHA256};

use crate::der::{self, SpkiKey};
use crate::keys::Alg;
use crate::pem::{self, PemError};

/// A credential format of docs/protocol.md §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialFormat {
    /// `RSA_PEM`: SPKI `PUBLIC KEY`.
    RsaPem,
    /// `RSA_X509_PEM`: `CERTIFICATE`.
    RsaX509Pem,
    /// `ES256_PEM`: SPKI `PUBLIC KEY` on P-256.
    Es256Pem,
    /// `ES256_X509_PEM`: `CERTIFICATE`.
    Es256X509Pem,
}

impl CredentialFormat {
    /// Every format.
    pub const ALL: [Self; 4] = [Self::RsaPem, Self::RsaX509Pem, Self::Es256Pem, Self::Es256X509Pem];

    /// The API name, such as `RSA_X509_PEM`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaPem => "RSA_PEM",
            Self::RsaX509Pem => "RSA_X509_PEM",
            Self::Es256Pem => "ES256_PEM",
            Self::Es256X509Pem => "ES256_X509_PEM",
        }
    }

    /// The algorithm a key of this format signs with.
    pub fn alg(self) -> Alg {
        match self {
            Self::RsaPem | Self::RsaX509Pem => Alg::Rs256,
            Self::Es256Pem | Self::Es256X509Pem => Alg::Es256,
        }
    }

    /// Whether the credential is a certificate.
    pub fn is_x509(self) -> bool {
        matches!(self, Self::RsaX509Pem | Self::Es256X509Pem)
    }

    /// The format for `alg`, as a bare key or a certificate.
    pub fn of(alg: Alg, x509: bool) -> Self {
        match (alg, x509) {
            (Alg::Rs256, false) => Self::RsaPem,
            (Alg::Rs256, true) => Self::RsaX509Pem,
            (Alg::Es256, false) => Self::Es256Pem,
            (Alg::Es256, true) => Self::Es256X509Pem,
        }
    }
}

impl fmt::Display for CredentialFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a credential format (expected RSA_PEM, RSA_X509_PEM, ES256_PEM or ES256_X509_PEM)"))
    }
}

/// A credential as uploaded: format, PEM text and optional expiration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// Declared format.
    pub format: CredentialFormat,
    /// The PEM text as uploaded.
    pub pem: String,
    /// After this Unix time the credential no longer authenticates new connections.
    pub expiration: Option<i64>,
}

/// Why a registry refuses a credential: one reason per rule, with a stable kebab-case id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CredentialRefusal {
    /// No PEM header: a bare base64 body or not PEM at all.
    #[error("no PEM `-----BEGIN …-----` header")]
    PemNoHeader,
    /// Windows line endings.
    #[error("PEM has Windows (CRLF) line endings")]
    PemCrlf,
    /// The base64 body is broken or truncated.
    #[error("PEM body is not valid base64 or is truncated")]
    PemBadBase64,
    /// PKCS#1 `RSA PUBLIC KEY` where SPKI `PUBLIC KEY` is expected.
    #[error("PKCS#1 `RSA PUBLIC KEY` given; expected SPKI `PUBLIC KEY`")]
    Pkcs1PublicKey,
    /// A private key uploaded instead of a public key or certificate.
    #[error("a private key was given; expected the public key or certificate")]
    PrivateKey,
    /// A PEM of another kind (a certificate where a key belongs, or the reverse).
    #[error("wrong PEM label for the format")]
    WrongPemLabel,
    /// The DER inside is not a readable key or certificate.
    #[error("the key or certificate inside the PEM cannot be read")]
    Malformed,
    /// An RSA key under an ES256 format, an EC key under an RS256 format, or another curve.
    #[error("the key type does not match the format")]
    KeyTypeMismatch,
    /// An RSA key shorter than the minimum.
    #[error("RSA key shorter than the minimum size")]
    RsaTooSmall,
    /// The certificate's `notAfter` has passed.
    #[error("certificate expired")]
    CertificateExpired,
    /// The certificate's `notBefore` has not come yet.
    #[error("certificate not yet valid")]
    CertificateNotYetValid,
    /// The registry has CA certificates and this certificate is signed by none of them.
    #[error("certificate not signed by any of the registry's CA certificates")]
    NotSignedByRegistryCa,
    /// The registry has CA certificates and this credential is a bare key.
    #[error("the registry has CA certificates, so credentials must be certificates")]
    CertificateRequired,
}

impl CredentialRefusal {
    /// Stable kebab-case id.
    pub fn id(self) -> &'static str {
        match self {
            Self::PemNoHeader => "pem-no-header",
            Self::PemCrlf => "pem-crlf",
            Self::PemBadBase64 => "pem-bad-base64",
            Self::Pkcs1PublicKey => "pkcs1-public-key",
            Self::PrivateKey => "private-key",
            Self::WrongPemLabel => "wrong-pem-label",
            Self::Malformed => "malformed",
            Self::KeyTypeMismatch => "key-type-mismatch",
            Self::RsaTooSmall => "rsa-too-small",
            Self::CertificateExpired => "certificate-expired",
            Self::CertificateNotYetValid => "certificate-not-yet-valid",
            Self::NotSignedByRegistryCa => "not-signed-by-registry-ca",
            Self::CertificateRequired => "certificate-required",
        }
    }
}

/// A refused credential: where it came from, its declared format and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("credential {origin} declared as {format} refused (expected {expected})")]
pub struct CredentialError {
    /// The file or label of the credential.
    pub origin: String,
    /// The declared format.
    pub format: CredentialFormat,
    /// What a credential of this format must be.
    pub expected: &'static str,
    /// The reason.
    #[source]
    pub reason: CredentialRefusal,
}

/// What a registry checks credentials against.
#[derive(Clone, Debug, Default)]
pub struct RegistrationPolicy {
    /// The registry's clock, Unix seconds (certificate validity).
    pub now: i64,
    /// Smallest RSA modulus accepted, in bits.
    pub min_rsa_bits: u32,
    /// The registry's CA certificates (DER); when any, credentials must be certificates they signed.
    pub registry_cas: Vec<Vec<u8>>,
}

/// A verified public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA: PKCS#1 `RSAPublicKey` DER and modulus size.
    Rsa {
        /// PKCS#1 DER.
        pkcs1: Vec<u8>,
        /// Modulus bits.
        bits: u32,
    },
    /// P-256: the uncompressed point.
    P256(Vec<u8>),
}

impl PublicKey {
    /// Reads an SPKI DER; `None` when it is neither RSA nor P-256.
    pub fn from_spki(spki: &[u8]) -> Option<Self> {
        match der::parse_spki(spki)? {
            SpkiKey::Rsa(pkcs1) => Some(Self::Rsa {
                bits: der::rsa_modulus_bits(&pkcs1)?,
                pkcs1,
            }),
            SpkiKey::P256(point) => Some(Self::P256(point)),
            SpkiKey::Other => None,
        }
    }

    /// The JWS algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self {
            Self::Rsa { .. } => Alg::Rs256,
            Self::P256(_) => Alg::Es256,
        }
    }

    /// Checks a JWS signature (`R‖S` for P-256) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Rsa { pkcs1, .. } => {
                UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, pkcs1)
                    .verify(message, signature)
                    .is_ok()
            }
            Self::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
        }
    }

    fn verify_x509_signature(&self, oid: &x509_parser::der_parser::Oid<'_>, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Rsa { .. } if *oid == OID_PKCS1_SHA256WITHRSA => self.verify(msg, sig),
            Self::P256(point) if *oid == OID_SIG_ECDSA_WITH_SHA256 => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// A credential a registry accepted: its key, and when it stops authenticating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredCredential {
    /// Declared format.
    pub format: CredentialFormat,
    /// The key.
    pub key: PublicKey,
    /// The credential's `expirationTime`, Unix seconds.
    pub expiration: Option<i64>,
    /// The certificate's `notAfter`, for X.509 formats.
    pub not_after: Option<i64>,
}

impl RegisteredCredential {
    /// Registers `credential` under `policy`; `origin` names it in errors.
    pub fn register(
        credential: &Credential,
        origin: &str,
        policy: &RegistrationPolicy,
    ) -> Result<Self, CredentialError> {
        let format = credential.format;
        let fail = |reason| CredentialError {
            origin: origin.to_owned(),
            format,
            expected: expected(format),
            reason,
        };
        if !format.is_x509() && !policy.registry_cas.is_empty() {
            return Err(fail(CredentialRefusal::CertificateRequired));
        }
        let block = pem::decode(&credential.pem).map_err(|e| {
            fail(match e {
                PemError::NoHeader => CredentialRefusal::PemNoHeader,
                PemError::CrlfLineEndings => CredentialRefusal::PemCrlf,
                PemError::BadBase64 | PemError::NoFooter(_) => CredentialRefusal::PemBadBase64,
            })
        })?;
        let wanted = if format.is_x509() {
            "CERTIFICATE"
        } else {
            "PUBLIC KEY"
        };
        if block.label != wanted {
            return Err(fail(match block.label.as_str() {
                "RSA PUBLIC KEY" => CredentialRefusal::Pkcs1PublicKey,
                l if l.ends_with("PRIVATE KEY") => CredentialRefusal::PrivateKey,
                _ => CredentialRefusal::WrongPemLabel,
            }));
        }
        let (key, not_after) = if format.is_x509() {
            let (key, not_after) = read_certificate(&block.der, policy).map_err(fail)?;
            (key, Some(not_after))
        } else {
            (
                PublicKey::from_spki(&block.der).ok_or(fail(CredentialRefusal::Malformed))?,
                None,
            )
        };
        check_key(&key, format, policy.min_rsa_bits).map_err(fail)?;
        Ok(Self {
            format,
            key,
            expiration: credential.expiration,
            not_after,
        })
    }

    /// Whether the credential still authenticates new connections at `now`.
    pub fn usable_at(&self, now: i64) -> bool {
        self.expiration.is_none_or(|e| now < e) && self.not_after.is_none_or(|e| now <= e)
    }
}

fn expected(format: CredentialFormat) -> &'static str {
    match format {
        CredentialFormat::RsaPem => "an SPKI `PUBLIC KEY` PEM of an RSA key",
        CredentialFormat::RsaX509Pem => "a `CERTIFICATE` PEM of an RSA key",
        CredentialFormat::Es256Pem => "an SPKI `PUBLIC KEY` PEM of a P-256 key",
        CredentialFormat::Es256X509Pem => "a `CERTIFICATE` PEM of a P-256 key",
    }
}

fn check_key(key: &PublicKey, format: CredentialFormat, min_rsa_bits: u32) -> Result<(), CredentialRefusal> {
    if key.alg() != format.alg() {
        return Err(CredentialRefusal::KeyTypeMismatch);
    }
    match key {
        PublicKey::Rsa { bits, .. } if *bits < min_rsa_bits => Err(CredentialRefusal::RsaTooSmall),
        _ => Ok(()),
    }
}

fn read_certificate(der: &[u8], policy: &RegistrationPolicy) -> Result<(PublicKey, i64), CredentialRefusal> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| CredentialRefusal::Malformed)?;
    let key = match der::parse_spki(cert.public_key().raw) {
        Some(SpkiKey::Other) => return Err(CredentialRefusal::KeyTypeMismatch),
        Some(_) => PublicKey::from_spki(cert.public_key().raw).ok_or(CredentialRefusal::Malformed)?,
        None => return Err(CredentialRefusal::Malformed),
    };
    let validity = cert.validity();
    if policy.now < validity.not_before.timestamp() {
        return Err(CredentialRefusal::CertificateNotYetValid);
    }
    if policy.now > validity.not_after.timestamp() {
        return Err(CredentialRefusal::CertificateExpired);
    }
    if !policy.registry_cas.is_empty() {
        let tbs = cert.tbs_certificate.as_ref();
        let oid = &cert.signature_algorithm.algorithm;
        let sig = &cert.signature_value.data;
        let signed = policy.registry_cas.iter().any(|ca_der| {
            x509_parser::parse_x509_certificate(ca_der)
                .ok()
                .and_then(|(_, ca)| PublicKey::from_spki(ca.public_key().raw))
                .is_some_and(|ca_key| ca_key.verify_x509_signature(oid, tbs, sig))
        });
        if !signed {
            return Err(CredentialRefusal::NotSignedByRegistryCa);
        }
    }
    Ok((key, validity.not_after.timestamp()))
}
