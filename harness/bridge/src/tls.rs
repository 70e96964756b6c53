//! TLS for the bridge: a CA generated per run with a server certificate for the loopback names
//! (its `ca.pem` is what a device trusts, like the seed guide's `roots.pem`), or files the user
//! supplies.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS material could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("cannot generate the bridge's certificates")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {problem}; expected {expected}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
        /// What the file should hold.
        expected: &'static str,
    },
    /// rustls refused the certificate and key.
    #[error("the certificate and key do not make a TLS server configuration")]
    Config(#[from] tokio_rustls::rustls::Error),
}

/// A server certificate chain, its key, and the CA devices should trust.
#[derive(Debug)]
pub struct TlsMaterial {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsMaterial {
    /// A new CA and a server certificate signed by it for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "fleetgate bridge CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "fleetgate bridge");
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        Ok(Self {
            ca_pem: ca.pem(),
            chain: vec![cert.der().clone(), ca.der().clone()],
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        })
    }

    /// Loads a certificate chain, its private key and the CA from PEM files.
    pub fn from_files(cert: &Path, key: &Path, ca: &Path) -> Result<Self, TlsError> {
        let file_error = |path: &Path, problem: String, expected| TlsError::File {
            path: path.to_owned(),
            problem,
            expected,
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| file_error(cert, e.to_string(), "PEM certificates"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| file_error(cert, e.to_string(), "PEM certificates"))?;
        if chain.is_empty() {
            return Err(file_error(
                cert,
                "no certificate found".into(),
                "-----BEGIN CERTIFICATE----- blocks",
            ));
        }
        let key_der = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| file_error(key, e.to_string(), "a PEM private key (PKCS#8, PKCS#1 or SEC1)"))?;
        let ca_pem = std::fs::read_to_string(ca)
            .map_err(|e| file_error(ca, e.to_string(), "the PEM CA certificate devices trust"))?;
        Ok(Self {
            ca_pem,
            chain,
            key: key_der,
        })
    }

    /// A rustls server configuration (TLS 1.2 and 1.3, no client certificates: devices
    /// authenticate with their JWT).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        Ok(Arc::new(config))
    }
}
