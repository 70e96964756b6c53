//! TLS for the bridge: a CA generated per run with a server certificate for the loopback names
//! (its `ca.pem` is what a device trusts, like the seed guide's `roots.pem`), or files the user
//! supplies; and the certificates a device must refuse, which device qualification presents
//! ([`BadCertificate`]).

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
    /// The names the server certificate is for.
    names: Vec<String>,
    /// The CA's key, when fleetgate generated the CA.
    ca: Option<CertifiedIssuer<'static, KeyPair>>,
}

/// A certificate a device must refuse (docs/protocol.md §10): device qualification presents one to
/// a device and expects the handshake to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadCertificate {
    /// For the right names, from a CA the device was not given.
    UntrustedCa,
    /// From the right CA, for another host name.
    WrongHost,
    /// From the right CA, for the right names, expired a day ago.
    Expired,
}

/// The names every generated server certificate covers.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The host name of [`BadCertificate::WrongHost`].
pub const WRONG_HOST: &str = "wrong-host.fleetgate.invalid";

/// The common name of the CA fleetgate generates.
const CA_NAME: &str = "fleetgate bridge CA";

fn new_ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, TlsError> {
    ca_with_key(name, KeyPair::generate()?)
}

fn ca_with_key(name: &str, key: KeyPair) -> Result<CertifiedIssuer<'static, KeyPair>, TlsError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(DnType::CommonName, name);
    Ok(CertifiedIssuer::self_signed(ca_params, key)?)
}

fn file_error(path: &Path, problem: String, expected: &'static str) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        problem,
        expected,
    }
}

/// The CA kept in `dir` (`ca.pem`, `ca.key`) by an earlier run, or a new one written there
/// (the key readable by its owner only): devices are given `ca.pem` once.
fn kept_ca(dir: &Path) -> Result<(CertifiedIssuer<'static, KeyPair>, String), TlsError> {
    let (pem_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
    if pem_path.exists() && key_path.exists() {
        let expected = "the CA files a previous run wrote (ca.pem, ca.key)";
        let key_pem =
            std::fs::read_to_string(&key_path).map_err(|e| file_error(&key_path, e.to_string(), expected))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| file_error(&key_path, e.to_string(), expected))?;
        let ca_pem =
            std::fs::read_to_string(&pem_path).map_err(|e| file_error(&pem_path, e.to_string(), expected))?;
        return Ok((ca_with_key(CA_NAME, key)?, ca_pem));
    }
    let key = KeyPair::generate()?;
    let key_pem = key.serialize_pem();
    let ca = ca_with_key(CA_NAME, key)?;
    let writable = "a folder fleetgate can write";
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e.to_string(), writable))?;
    std::fs::write(&pem_path, ca.pem()).map_err(|e| file_error(&pem_path, e.to_string(), writable))?;
    std::fs::write(&key_path, key_pem).map_err(|e| file_error(&key_path, e.to_string(), writable))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| file_error(&key_path, e.to_string(), writable))?;
    }
    let pem = ca.pem();
    Ok((ca, pem))
}

/// A server certificate for `names` signed by `ca`, expired a day ago when `expired`.
fn server_cert(
    names: Vec<String>,
    ca: &CertifiedIssuer<'static, KeyPair>,
    expired: bool,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "fleetgate bridge");
    if expired {
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(30);
        params.not_after = now - time::Duration::days(1);
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok((
        vec![cert.der().clone(), ca.der().clone()],
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    ))
}

impl TlsMaterial {
    /// A new CA and a server certificate signed by it for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> Result<Self, TlsError> {
        Self::generate_for(&[])
    }

    /// A new CA and a server certificate signed by it for the loopback names and `extra`
    /// (the host names and addresses real devices use to reach this machine).
    pub fn generate_for(extra: &[String]) -> Result<Self, TlsError> {
        let ca = new_ca(CA_NAME)?;
        let pem = ca.pem();
        Self::signed_by(ca, pem, extra)
    }

    /// Like [`TlsMaterial::generate_for`], with the CA kept in `dir` across runs: read from
    /// `ca.pem` and `ca.key` when a previous run wrote them, else generated and written there.
    pub fn with_kept_ca(dir: &Path, extra: &[String]) -> Result<Self, TlsError> {
        let (ca, pem) = kept_ca(dir)?;
        Self::signed_by(ca, pem, extra)
    }

    /// A server certificate for the loopback names and `extra`, signed by `ca`; the chain
    /// served is the certificate alone (devices hold the CA).
    fn signed_by(
        ca: CertifiedIssuer<'static, KeyPair>,
        ca_pem: String,
        extra: &[String],
    ) -> Result<Self, TlsError> {
        let mut names: Vec<String> = LOOPBACK_NAMES.iter().map(|n| (*n).to_owned()).collect();
        for name in extra {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let (mut chain, key) = server_cert(names.clone(), &ca, false)?;
        chain.truncate(1);
        Ok(Self {
            ca_pem,
            chain,
            key,
            names,
            ca: Some(ca),
        })
    }

    /// The names the server certificate covers (empty for the user's own files).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A server configuration presenting `which`; `None` when it needs the CA's key and the
    /// CA came from the user's files.
    pub fn bad(&self, which: BadCertificate) -> Result<Option<Arc<ServerConfig>>, TlsError> {
        let (chain, key) = match (which, &self.ca) {
            (BadCertificate::UntrustedCa, _) => {
                let stranger = new_ca("fleetgate untrusted CA")?;
                let names = match self.names.is_empty() {
                    true => LOOPBACK_NAMES.iter().map(|n| (*n).to_owned()).collect(),
                    false => self.names.clone(),
                };
                server_cert(names, &stranger, false)?
            }
            (BadCertificate::WrongHost, Some(ca)) => server_cert(vec![WRONG_HOST.to_owned()], ca, false)?,
            (BadCertificate::Expired, Some(ca)) => server_cert(self.names.clone(), ca, true)?,
            (_, None) => return Ok(None),
        };
        Self::config(chain, key).map(Some)
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
            names: Vec::new(),
            ca: None,
        })
    }

    /// A rustls server configuration (TLS 1.2 and 1.3, no client certificates: devices
    /// authenticate with their JWT).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        Self::config(self.chain.clone(), self.key.clone_key())
    }

    fn config(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(Arc::new(config))
    }
}
