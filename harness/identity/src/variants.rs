//! The key-format catalogue: the four valid credential formats and the malformed variants seen in
//! the field (docs/protocol.md §2), each with a stable id, the rule it breaks and the refusal a correct
//! registry gives. Conformance case ids are `key-format.<id>`.

use crate::certs::{self, CertError, CertOptions, RegistryCa};
use crate::credentials::{Credential, CredentialFormat, CredentialRefusal, RegistrationPolicy};
use crate::keys::{DeviceKey, KeyError, KeySpec};

/// One catalogue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFormatVariant {
    /// Stable kebab-case id, such as `rsa-pkcs1-public`.
    pub id: &'static str,
    /// The rule it checks, in docs/protocol.md's words.
    pub rule: &'static str,
    /// The refusal a correct registry gives, or `None` for a valid credential.
    pub expected: Option<CredentialRefusal>,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Valid(CredentialFormat),
    CaSigned(CredentialFormat),
    Pkcs1Public,
    PrivateKey,
    RsaAsEs256,
    EcAsRsa,
    CertAsKey,
    Expired,
    NotYetValid,
    NoHeader,
    Crlf,
    TruncatedBase64,
    SmallRsa,
    WrongCa,
    BareKeyWithCa,
}

const fn v(
    id: &'static str,
    rule: &'static str,
    expected: Option<CredentialRefusal>,
    kind: Kind,
) -> KeyFormatVariant {
    KeyFormatVariant {
        id,
        rule,
        expected,
        kind,
    }
}

use CredentialFormat as F;
use CredentialRefusal as R;

/// Every variant, valid ones first.
pub const KEY_FORMAT_VARIANTS: &[KeyFormatVariant] = &[
    v(
        "rsa-pem",
        "RSA_PEM is an SPKI PUBLIC KEY",
        None,
        Kind::Valid(F::RsaPem),
    ),
    v(
        "rsa-x509-pem",
        "RSA_X509_PEM is a CERTIFICATE",
        None,
        Kind::Valid(F::RsaX509Pem),
    ),
    v(
        "es256-pem",
        "ES256_PEM is an SPKI PUBLIC KEY on P-256",
        None,
        Kind::Valid(F::Es256Pem),
    ),
    v(
        "es256-x509-pem",
        "ES256_X509_PEM is a CERTIFICATE",
        None,
        Kind::Valid(F::Es256X509Pem),
    ),
    v(
        "rsa-x509-ca-signed",
        "a certificate signed by a registry CA",
        None,
        Kind::CaSigned(F::RsaX509Pem),
    ),
    v(
        "es256-x509-ca-signed",
        "a certificate signed by a registry CA",
        None,
        Kind::CaSigned(F::Es256X509Pem),
    ),
    v(
        "rsa-pkcs1-public",
        "SPKI expected, not PKCS#1 RSA PUBLIC KEY",
        Some(R::Pkcs1PublicKey),
        Kind::Pkcs1Public,
    ),
    v(
        "private-key",
        "a public key is registered, never a private key",
        Some(R::PrivateKey),
        Kind::PrivateKey,
    ),
    v(
        "rsa-key-as-es256",
        "the key type must match the format",
        Some(R::KeyTypeMismatch),
        Kind::RsaAsEs256,
    ),
    v(
        "ec-key-as-rsa",
        "the key type must match the format",
        Some(R::KeyTypeMismatch),
        Kind::EcAsRsa,
    ),
    v(
        "certificate-as-key",
        "RSA_PEM holds a PUBLIC KEY, not a CERTIFICATE",
        Some(R::WrongPemLabel),
        Kind::CertAsKey,
    ),
    v(
        "certificate-expired",
        "certificate inside its validity period",
        Some(R::CertificateExpired),
        Kind::Expired,
    ),
    v(
        "certificate-not-yet-valid",
        "certificate inside its validity period",
        Some(R::CertificateNotYetValid),
        Kind::NotYetValid,
    ),
    v(
        "pem-no-header",
        "PEM with its BEGIN/END lines",
        Some(R::PemNoHeader),
        Kind::NoHeader,
    ),
    v(
        "pem-crlf",
        "PEM with LF line endings",
        Some(R::PemCrlf),
        Kind::Crlf,
    ),
    v(
        "pem-truncated-base64",
        "PEM body is complete base64",
        Some(R::PemBadBase64),
        Kind::TruncatedBase64,
    ),
    v(
        "rsa-1024",
        "RSA keys of at least 2048 bits",
        Some(R::RsaTooSmall),
        Kind::SmallRsa,
    ),
    v(
        "certificate-wrong-ca",
        "signed by one of the registry's CA certificates",
        Some(R::NotSignedByRegistryCa),
        Kind::WrongCa,
    ),
    v(
        "bare-key-with-registry-ca",
        "a registry with CA certificates takes only certificates",
        Some(R::CertificateRequired),
        Kind::BareKeyWithCa,
    ),
];

/// The variant with this id.
pub fn key_format_variant(id: &str) -> Option<&'static KeyFormatVariant> {
    KEY_FORMAT_VARIANTS.iter().find(|v| v.id == id)
}

/// Why the material for the catalogue could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// A key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A certificate.
    #[error(transparent)]
    Cert(#[from] CertError),
}

/// Keys and CAs every variant is built from.
#[derive(Debug)]
pub struct VariantMaterial {
    /// The registry's clock, Unix seconds.
    pub now: i64,
    /// An RSA-2048 device key.
    pub rsa: DeviceKey,
    /// An RSA-1024 device key.
    pub rsa_small: DeviceKey,
    /// A P-256 device key.
    pub ec: DeviceKey,
    /// The registry's CA.
    pub registry_ca: RegistryCa,
    /// A CA the registry does not know.
    pub other_ca: RegistryCa,
}

/// A built variant: the credential to register and the registry policy to register it under.
#[derive(Clone, Debug)]
pub struct VariantCase {
    /// The credential.
    pub credential: Credential,
    /// The registry (default minimum RSA size 2048; CA certificates for the CA variants).
    pub policy: RegistrationPolicy,
}

impl VariantMaterial {
    /// Fresh keys and CAs, with the registry clock at `now`.
    pub fn generate(now: i64) -> Result<Self, VariantError> {
        let window = CertOptions::valid_around(now, 365);
        Ok(Self {
            now,
            rsa: DeviceKey::generate(KeySpec::RSA_2048)?,
            rsa_small: DeviceKey::generate(KeySpec::Rsa(1024))?,
            ec: DeviceKey::generate(KeySpec::P256)?,
            registry_ca: RegistryCa::generate("fleetgate registry CA", &window)?,
            other_ca: RegistryCa::generate("some other CA", &window)?,
        })
    }
}

impl KeyFormatVariant {
    /// Builds this variant's credential from `m`.
    pub fn build(&self, m: &VariantMaterial) -> Result<VariantCase, VariantError> {
        let window = CertOptions::valid_around(m.now, 365);
        let cert = |key: &DeviceKey, opts: &CertOptions| certs::certificate(key, opts, None);
        let signed = |key: &DeviceKey, ca: &RegistryCa| certs::certificate(key, &window, Some(ca));
        let key_of = |f: CredentialFormat| {
            if f.alg() == crate::Alg::Rs256 {
                &m.rsa
            } else {
                &m.ec
            }
        };
        let mut with_ca = false;
        let (format, pem) = match self.kind {
            Kind::Valid(f) if f.is_x509() => (f, cert(key_of(f), &window)?),
            Kind::Valid(f) => (f, key_of(f).spki_pem()),
            Kind::CaSigned(f) => {
                with_ca = true;
                (f, signed(key_of(f), &m.registry_ca)?)
            }
            Kind::Pkcs1Public => (F::RsaPem, m.rsa.pkcs1_public_pem().unwrap_or_default()),
            Kind::PrivateKey => (F::RsaPem, m.rsa.pkcs8_pem()),
            Kind::RsaAsEs256 => (F::Es256Pem, m.rsa.spki_pem()),
            Kind::EcAsRsa => (F::RsaPem, m.ec.spki_pem()),
            Kind::CertAsKey => (F::RsaPem, cert(&m.rsa, &window)?),
            Kind::Expired => {
                let past = CertOptions {
                    not_before: m.now - 400 * 86_400,
                    not_after: m.now - 86_400,
                    ..window
                };
                (F::RsaX509Pem, cert(&m.rsa, &past)?)
            }
            Kind::NotYetValid => {
                let future = CertOptions {
                    not_before: m.now + 86_400,
                    not_after: m.now + 400 * 86_400,
                    ..window
                };
                (F::Es256X509Pem, cert(&m.ec, &future)?)
            }
            Kind::NoHeader => {
                let body: String = m
                    .rsa
                    .spki_pem()
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect();
                (F::RsaPem, body)
            }
            Kind::Crlf => (F::RsaPem, m.rsa.spki_pem().replace('\n', "\r\n")),
            Kind::TruncatedBase64 => (F::RsaPem, truncate_body(&m.rsa.spki_pem())),
            Kind::SmallRsa => (F::RsaPem, m.rsa_small.spki_pem()),
            Kind::WrongCa => {
                with_ca = true;
                (F::RsaX509Pem, signed(&m.rsa, &m.other_ca)?)
            }
            Kind::BareKeyWithCa => {
                with_ca = true;
                (F::Es256Pem, m.ec.spki_pem())
            }
        };
        let registry_cas = if with_ca {
            vec![m.registry_ca.cert_der().to_vec()]
        } else {
            Vec::new()
        };
        Ok(VariantCase {
            credential: Credential {
                format,
                pem,
                expiration: None,
            },
            policy: RegistrationPolicy {
                now: m.now,
                min_rsa_bits: 2048,
                registry_cas,
            },
        })
    }
}

/// Drops the last base64 line but its first three characters, keeping the END line.
fn truncate_body(pem: &str) -> String {
    let mut lines: Vec<&str> = pem.lines().collect();
    let last_body = lines.len().saturating_sub(2);
    if let Some(line) = lines.get_mut(last_body) {
        *line = line.get(..3).unwrap_or(line);
    }
    lines.join("\n") + "\n"
}
