//! Device keys: RSA (1024–4096 bits) and EC P-256, generated at random or from a seed, loaded
//! from PKCS#8, PKCS#1 or SEC1 PEM, exported in every encoding, and kept parsed so signing never
//! re-reads a PEM.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use aws_lc_rs::encoding::{AsDer, EcPrivateKeyRfc5915Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    RSA_PKCS1_SHA256, RsaKeyPair,
};
use rand_core::SeedableRng as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

use crate::{der, pem};

/// A JWS algorithm a device may sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256, signature as raw `R‖S`.
    Es256,
}

impl Alg {
    /// The JOSE name: `RS256` or `ES256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s {
            "RS256" => Ok(Self::Rs256),
            "ES256" => Ok(Self::Es256),
            other => Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        }
    }
}

/// The kind and size of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with this modulus size: 1024, 2048, 3072 or 4096.
    Rsa(u32),
    /// EC on P-256.
    P256,
}

impl KeySpec {
    /// RSA-2048, the default RSA size.
    pub const RSA_2048: Self = Self::Rsa(2048);

    /// The default spec for an algorithm: RSA-2048 or P-256.
    pub fn default_for(alg: Alg) -> Self {
        match alg {
            Alg::Rs256 => Self::RSA_2048,
            Alg::Es256 => Self::P256,
        }
    }

    /// The algorithm this key signs with.
    pub fn alg(self) -> Alg {
        match self {
            Self::Rsa(_) => Alg::Rs256,
            Self::P256 => Alg::Es256,
        }
    }

    fn check(self) -> Result<Self, KeyError> {
        match self {
            Self::Rsa(1024 | 2048 | 3072 | 4096) | Self::P256 => Ok(self),
            Self::Rsa(bits) => Err(KeyError::UnsupportedRsaSize(bits)),
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa(bits) => write!(f, "RSA-{bits}"),
            Self::P256 => f.write_str("EC P-256"),
        }
    }
}

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An RSA size other than 1024, 2048, 3072 or 4096.
    #[error("RSA size {0} is not supported (expected 1024, 2048, 3072 or 4096)")]
    UnsupportedRsaSize(u32),
    /// An algorithm other than RS256 or ES256.
    #[error("algorithm `{0}` is not supported (expected RS256 or ES256)")]
    UnsupportedAlgorithm(String),
    /// A key file that could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A private key file or text that is not a usable private key.
    #[error(
        "{origin}: {problem} (expected a PEM `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1) holding an RSA 1024–4096 or P-256 key)"
    )]
    InvalidPrivateKey {
        /// The file or label the key came from.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Key generation or signing failed inside the crypto library.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}

/// The parsed signing key, kept for the key's lifetime.
enum Signer {
    /// RSA 2048–4096, parsed by aws-lc.
    Rsa(RsaKeyPair),
    /// RSA 1024, which aws-lc refuses to sign with.
    RsaLegacy(Box<rsa::PrivateKey>),
    /// P-256.
    Ec(EcdsaKeyPair),
}

/// A device's private key, parsed once.
pub struct DeviceKey {
    spec: KeySpec,
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
    signer: Signer,
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// SHA-256 `DigestInfo` prefix of PKCS#1 v1.5 signatures (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20,
];
/// Order of P-256, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc,
    0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

impl DeviceKey {
    /// A fresh random key.
    pub fn generate(spec: KeySpec) -> Result<Self, KeyError> {
        match spec.check()? {
            KeySpec::Rsa(bits) if bits >= 2048 => {
                let size = match bits {
                    2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                    3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                    _ => aws_lc_rs::rsa::KeySize::Rsa4096,
                };
                let pair = RsaKeyPair::generate(size).map_err(|_| KeyError::Crypto("RSA generation"))?;
                let pkcs8 = pair.as_der().map_err(|_| KeyError::Crypto("PKCS#8 export"))?;
                Self::from_pkcs8_der(pkcs8.as_ref(), "generated key")
            }
            KeySpec::P256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Crypto("P-256 generation"))?;
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Crypto("PKCS#8 export"))?;
                Self::from_pkcs8_der(pkcs8.as_ref(), "generated key")
            }
            KeySpec::Rsa(_) => {
                let mut seed = [0u8; 32];
                aws_lc_rs::rand::fill(&mut seed).map_err(|_| KeyError::Crypto("random seed"))?;
                Self::from_seed(spec, &seed)
            }
        }
    }

    /// The key that `seed` determines: the same seed always gives the same key.
    pub fn from_seed(spec: KeySpec, seed: &[u8; 32]) -> Result<Self, KeyError> {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(*seed);
        match spec.check()? {
            KeySpec::Rsa(bits) => {
                let key = rsa::PrivateKey::new(&mut rng, bits as usize)
                    .map_err(|_| KeyError::Crypto("RSA generation"))?;
                let pkcs8 = key
                    .to_pkcs8_der()
                    .map_err(|_| KeyError::Crypto("PKCS#8 export"))?;
                Self::from_pkcs8_der(pkcs8.as_bytes(), "seeded key")
            }
            KeySpec::P256 => {
                let scalar = loop {
                    let mut s = [0u8; 32];
                    rand_core::Rng::fill_bytes(&mut rng, &mut s);
                    if s != [0u8; 32] && s < P256_ORDER {
                        break s;
                    }
                };
                let pair = EcdsaKeyPair::from_private_key_der(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der::p256_sec1(&scalar),
                )
                .map_err(|_| KeyError::Crypto("P-256 from scalar"))?;
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Crypto("PKCS#8 export"))?;
                Self::from_pkcs8_der(pkcs8.as_ref(), "seeded key")
            }
        }
    }

    /// Parses a PKCS#8 `PrivateKeyInfo` DER; `origin` names it in errors.
    pub fn from_pkcs8_der(pkcs8: &[u8], origin: &str) -> Result<Self, KeyError> {
        let invalid = |problem: &str| KeyError::InvalidPrivateKey {
            origin: origin.to_owned(),
            problem: problem.to_owned(),
        };
        if der::pkcs8_is_ec(pkcs8) {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                .map_err(|_| invalid("not a P-256 private key"))?;
            let spki = pair
                .public_key()
                .as_der()
                .map_err(|_| KeyError::Crypto("SPKI export"))?;
            return Ok(Self {
                spec: KeySpec::P256,
                pkcs8: pkcs8.to_vec(),
                spki: spki.as_ref().to_vec(),
                signer: Signer::Ec(pair),
            });
        }
        der::pkcs8_inner(pkcs8).ok_or_else(|| invalid("not a PKCS#8 private key"))?;
        if let Ok(pair) = RsaKeyPair::from_pkcs8(pkcs8) {
            let public = pair.public_key().as_ref().to_vec();
            let bits = der::rsa_modulus_bits(&public).ok_or_else(|| invalid("unreadable RSA modulus"))?;
            return Ok(Self {
                spec: KeySpec::Rsa(bits).check()?,
                pkcs8: pkcs8.to_vec(),
                spki: der::rsa_spki(&public),
                signer: Signer::Rsa(pair),
            });
        }
        let key = rsa::PrivateKey::from_pkcs8_der(pkcs8)
            .map_err(|_| invalid("neither an RSA nor a P-256 private key"))?;
        let public = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&key.to_public_key())
            .map_err(|_| KeyError::Crypto("PKCS#1 export"))?;
        let bits = der::rsa_modulus_bits(public.as_bytes()).ok_or_else(|| invalid("bad RSA modulus"))?;
        if bits != 1024 {
            return Err(invalid(&format!("RSA key of {bits} bits")));
        }
        Ok(Self {
            spec: KeySpec::Rsa(bits),
            pkcs8: pkcs8.to_vec(),
            spki: der::rsa_spki(public.as_bytes()),
            signer: Signer::RsaLegacy(Box::new(key)),
        })
    }

    /// Parses a private key PEM: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`; `origin` names it in errors.
    pub fn from_pem(text: &str, origin: &str) -> Result<Self, KeyError> {
        let invalid = |problem: String| KeyError::InvalidPrivateKey {
            origin: origin.to_owned(),
            problem,
        };
        let block = pem::decode(text).map_err(|e| invalid(e.to_string()))?;
        match block.label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der, origin),
            "RSA PRIVATE KEY" => {
                let key = <rsa::PrivateKey as rsa::pkcs1::DecodeRsaPrivateKey>::from_pkcs1_der(&block.der)
                    .map_err(|_| invalid("unreadable PKCS#1 RSA private key".into()))?;
                let pkcs8 = key
                    .to_pkcs8_der()
                    .map_err(|_| KeyError::Crypto("PKCS#8 export"))?;
                Self::from_pkcs8_der(pkcs8.as_bytes(), origin)
            }
            "EC PRIVATE KEY" => {
                let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &block.der)
                    .map_err(|_| invalid("unreadable SEC1 P-256 private key".into()))?;
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Crypto("PKCS#8 export"))?;
                Self::from_pkcs8_der(pkcs8.as_ref(), origin)
            }
            other => Err(invalid(format!("PEM label `{other}` is not a private key"))),
        }
    }

    /// Reads and parses a private key PEM file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&text, &path.display().to_string())
    }

    /// Kind and size.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.spec.alg()
    }

    /// PKCS#8 `PrivateKeyInfo` DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8), what most libraries and PyJWT read.
    pub fn pkcs8_pem(&self) -> String {
        pem::encode("PRIVATE KEY", &self.pkcs8)
    }

    /// The traditional form: `RSA PRIVATE KEY` (PKCS#1) for RSA, `EC PRIVATE KEY` (SEC1) for EC.
    pub fn traditional_pem(&self) -> Result<String, KeyError> {
        match &self.signer {
            Signer::Ec(pair) => {
                let sec1: EcPrivateKeyRfc5915Der<'_> = pair
                    .private_key()
                    .as_der()
                    .map_err(|_| KeyError::Crypto("SEC1 export"))?;
                Ok(pem::encode("EC PRIVATE KEY", sec1.as_ref()))
            }
            Signer::Rsa(_) | Signer::RsaLegacy(_) => {
                let pkcs1 = der::pkcs8_inner(&self.pkcs8).ok_or(KeyError::Crypto("PKCS#1 export"))?;
                Ok(pem::encode("RSA PRIVATE KEY", pkcs1))
            }
        }
    }

    /// SPKI `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// `-----BEGIN PUBLIC KEY-----` (SPKI): the `RSA_PEM` / `ES256_PEM` credential.
    pub fn spki_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki)
    }

    /// `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1) for an RSA key: the classic registration mistake.
    pub fn pkcs1_public_pem(&self) -> Option<String> {
        match der::parse_spki(&self.spki)? {
            der::SpkiKey::Rsa(pkcs1) => Some(pem::encode("RSA PUBLIC KEY", &pkcs1)),
            _ => None,
        }
    }

    /// Signs `message` in JWS form: PKCS#1 v1.5 for RSA, raw 64-byte `R‖S` for P-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| KeyError::Crypto("RSA signing"))?;
                Ok(sig)
            }
            Signer::RsaLegacy(key) => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
                let info = [&SHA256_DIGEST_INFO[..], digest.as_ref()].concat();
                key.sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
                    .map_err(|_| KeyError::Crypto("RSA-1024 signing"))
            }
            Signer::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing")),
        }
    }

    /// An ES256 signature in DER form (the device bug docs/protocol.md §2 names); `None` for RSA.
    pub fn sign_es256_der(&self, message: &[u8]) -> Option<Result<Vec<u8>, KeyError>> {
        let Signer::Ec(_) = self.signer else { return None };
        let sign = || -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.pkcs8)?;
            Ok(pair.sign(&SystemRandom::new(), message)?.as_ref().to_vec())
        };
        Some(sign().map_err(|_| KeyError::Crypto("ECDSA DER signing")))
    }
}
