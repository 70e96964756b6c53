//! The probe client: raw MQTT 3.1.1 packets (rumqttc's `mqttbytes::v4`) over TLS or TCP, so a
//! case can send what a well-behaved client library would not (no username, QoS 2 publishes,
//! foreign topics) and see every packet and close the bridge answers with.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, LastWill, Packet};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Largest packet a probe reads.
const MAX_PACKET: usize = 1024 * 1024;

/// How many PINGREQ round trips a connection must survive to count as open.
const PING_ROUNDS: usize = 3;

/// Why a probe could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    /// TCP connect, TLS handshake, read or write.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The bridge did not answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Bytes that are not MQTT 3.1.1.
    #[error("the bridge sent bytes that are not MQTT 3.1.1: {0}")]
    Malformed(String),
    /// The CA file or server name is unusable.
    #[error("{0}")]
    Tls(String),
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Where probes connect and how.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Host name (also the TLS server name).
    pub(crate) host: String,
    /// MQTT port.
    pub(crate) port: u16,
    /// TLS client configuration trusting the bridge's CA; plain TCP when `None`.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    /// How long to wait for any one answer.
    pub(crate) timeout: Duration,
}

/// A TLS client configuration (aws-lc-rs) trusting the PEM certificates in `ca_pem`.
pub(crate) fn client_tls(ca_pem: &str, origin: &str) -> Result<Arc<ClientConfig>, ProbeError> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert =
            cert.map_err(|e| ProbeError::Tls(format!("{origin}: {e}; expected PEM CERTIFICATE blocks")))?;
        roots
            .add(cert)
            .map_err(|e| ProbeError::Tls(format!("{origin}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ProbeError::Tls(format!(
            "{origin} holds no certificate; expected the PEM CA certificate of the bridge"
        )));
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What a CONNECT carries.
#[derive(Clone, Debug)]
pub(crate) struct ConnectParams {
    /// The client id.
    pub(crate) client_id: String,
    /// Username and password (the JWT); `None` sends neither.
    pub(crate) login: Option<(String, String)>,
    /// Clean session flag.
    pub(crate) clean_session: bool,
    /// Keep-alive, seconds.
    pub(crate) keep_alive: u16,
    /// A Last Will on the device's state topic, which PROTOCOL.md §1 says is unsupported.
    pub(crate) will: Option<String>,
}

/// The probes' keep-alive: the 20 min idle limit, so that 1.5 × it (when the bridge closes a
/// silent connection) lies beyond every clock move the cases make between two packets.
pub(crate) const PROBE_KEEP_ALIVE: u16 = 1200;

impl ConnectParams {
    /// A well-formed CONNECT: username `unused`, the JWT as password, clean session.
    pub(crate) fn new(client_id: String, jwt: String) -> Self {
        Self {
            client_id,
            login: Some(("unused".to_owned(), jwt)),
            clean_session: true,
            keep_alive: PROBE_KEEP_ALIVE,
            will: None,
        }
    }
}

/// One connection to the bridge.
pub(crate) struct Probe {
    io: Box<dyn Io>,
    input: BytesMut,
    timeout: Duration,
    /// Packets read while waiting for something else, oldest first.
    pub(crate) seen: Vec<Packet>,
}

/// The CONNACK return code as a number: the enum's discriminants are the wire codes.
fn connack_code(ack: &ConnAck) -> u8 {
    ack.code as u8
}

impl Probe {
    /// Opens a connection (TCP, then TLS when configured).
    pub(crate) async fn open(endpoint: &Endpoint) -> Result<Self, ProbeError> {
        let io = |what| move |source| ProbeError::Io { what, source };
        let tcp = timed(
            endpoint.timeout,
            TcpStream::connect((endpoint.host.as_str(), endpoint.port)),
        )
        .await?
        .map_err(io("TCP connect"))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &endpoint.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = ServerName::try_from(endpoint.host.clone())
                    .map_err(|e| ProbeError::Tls(format!("server name {}: {e}", endpoint.host)))?;
                let connector = TlsConnector::from(Arc::clone(config));
                let tls = timed(endpoint.timeout, connector.connect(name, tcp))
                    .await?
                    .map_err(io("TLS handshake"))?;
                Box::new(tls)
            }
        };
        Ok(Self {
            io,
            input: BytesMut::with_capacity(4096),
            timeout: endpoint.timeout,
            seen: Vec::new(),
        })
    }

    /// Opens a connection and sends CONNECT; returns the probe and the CONNACK code, or `None`
    /// for the code when the bridge closed without a CONNACK.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        params: &ConnectParams,
    ) -> Result<(Self, Option<u8>), ProbeError> {
        let mut probe = Self::open(endpoint).await?;
        let mut connect = Connect::new(params.client_id.clone());
        connect.keep_alive = params.keep_alive;
        connect.clean_session = params.clean_session;
        if let Some((user, password)) = &params.login {
            connect.set_login(user.clone(), password.clone());
        }
        if let Some(topic) = &params.will {
            connect.last_will = Some(LastWill::new(topic, "offline", QoS::AtMostOnce, false));
        }
        probe.send(Packet::Connect(connect)).await?;
        let code = probe.connack().await?;
        Ok((probe, code))
    }

    /// Opens a connection and sends `connect`, bytes that may break MQTT 3.1.1 on purpose;
    /// returns the probe and the CONNACK code, or `None` when the bridge closed without one.
    pub(crate) async fn connect_raw(
        endpoint: &Endpoint,
        connect: &[u8],
    ) -> Result<(Self, Option<u8>), ProbeError> {
        let mut probe = Self::open(endpoint).await?;
        probe.send_raw(connect).await?;
        let code = probe.connack().await?;
        Ok((probe, code))
    }

    /// The CONNACK's code, `None` when the bridge closed without one.
    async fn connack(&mut self) -> Result<Option<u8>, ProbeError> {
        let code = self
            .until(|p| matches!(p, Packet::ConnAck(_)))
            .await?
            .and_then(|p| match p {
                Packet::ConnAck(ack) => Some(connack_code(&ack)),
                _ => None,
            });
        Ok(code)
    }

    /// Writes one packet.
    pub(crate) async fn send(&mut self, packet: Packet) -> Result<(), ProbeError> {
        self.send_raw(&encode(packet)?).await
    }

    /// Writes bytes as they are.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ProbeError> {
        let write = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        timed(self.timeout, write)
            .await?
            .map_err(|source| ProbeError::Io {
                what: "write",
                source,
            })
    }

    /// The next packet, or `None` when the bridge closed the connection.
    pub(crate) async fn next(&mut self) -> Result<Option<Packet>, ProbeError> {
        loop {
            match Packet::read(&mut self.input, MAX_PACKET) {
                Ok(packet) => return Ok(Some(packet)),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => return Err(ProbeError::Malformed(e.to_string())),
            }
            match timed(self.timeout, self.io.read_buf(&mut self.input)).await? {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    }

    /// Reads until a packet `want` accepts (returned) or the close (`None`); the packets passed
    /// over are kept in [`Probe::seen`].
    pub(crate) async fn until(
        &mut self,
        want: impl Fn(&Packet) -> bool,
    ) -> Result<Option<Packet>, ProbeError> {
        while let Some(packet) = self.next().await? {
            if want(&packet) {
                return Ok(Some(packet));
            }
            self.seen.push(packet);
        }
        Ok(None)
    }

    /// One PINGREQ round trip: true when PINGRESP came back, false when the bridge closed.
    pub(crate) async fn ping(&mut self) -> Result<bool, ProbeError> {
        if self.send(Packet::PingReq).await.is_err() {
            return Ok(false);
        }
        Ok(self.until(|p| matches!(p, Packet::PingResp)).await?.is_some())
    }

    /// Whether the bridge has closed the connection, after a packet it acts on in order (a
    /// refused publish): a few ping round trips either meet the close or prove the connection
    /// open. A close caused by something else (a moved clock, a newer connection) is awaited
    /// with [`Probe::wait_close`].
    pub(crate) async fn closed(&mut self) -> Result<bool, ProbeError> {
        for _ in 0..PING_ROUNDS {
            if !self.ping().await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// One packet's bytes.
pub(crate) fn encode(packet: Packet) -> Result<BytesMut, ProbeError> {
    let mut out = BytesMut::new();
    packet
        .write(&mut out, MAX_PACKET)
        .map_err(|e| ProbeError::Malformed(e.to_string()))?;
    Ok(out)
}

async fn timed<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, ProbeError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| ProbeError::Timeout(limit))
}

impl Probe {
    /// Reads until the bridge closes the connection (true) or `limit` passes (false).
    pub(crate) async fn wait_close(&mut self, limit: Duration) -> Result<bool, ProbeError> {
        let per_read = std::mem::replace(&mut self.timeout, limit);
        let result = match tokio::time::timeout(limit, self.until(|_| false)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(ProbeError::Timeout(_))) | Err(_) => Ok(false),
            Ok(Err(e)) => Err(e),
        };
        self.timeout = per_read;
        result
    }
}
