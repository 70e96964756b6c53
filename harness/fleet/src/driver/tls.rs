//! The one rustls client configuration every virtual device shares.

use std::sync::Arc;

use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Why a CA could not be trusted.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file holds no usable certificate.
    #[error("CA {origin}: {reason}; expected a PEM CERTIFICATE")]
    Ca {
        /// The file or source named.
        origin: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the protocol versions.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A client configuration trusting the CA certificates in `ca_pem` (from `origin`), with
/// session resumption off: real Pis do not share a session cache, so every virtual one pays
/// a full handshake.
pub fn client_config(ca_pem: &[u8], origin: &str) -> Result<Arc<ClientConfig>, TlsError> {
    let problem = |reason: String| TlsError::Ca {
        origin: origin.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca_pem) {
        let certificate = certificate.map_err(|e| problem(e.to_string()))?;
        roots.add(certificate).map_err(|e| problem(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(problem("no certificate found".to_owned()));
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_with_its_name() {
        let error = client_config(b"not a pem", "ca.pem").unwrap_err().to_string();
        assert!(
            error.contains("ca.pem") && error.contains("no certificate"),
            "{error}"
        );
    }

    #[test]
    fn a_generated_ca_is_trusted() {
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        assert!(client_config(ca.cert.pem().as_bytes(), "ca.pem").is_ok());
    }
}
