//! The bridge test harness: a bridge on 127.0.0.1:0 with a generated CA, a registry, a
//! forwarder that stores what it is given, and rumqttc clients that trust the CA.

#![allow(clippy::unwrap_used, clippy::panic, dead_code)] // test helpers fail loudly; not every test uses all

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::events::{Event, Recorded};
use fleetgate_bridge::forward::{Outgoing, Routing};
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::{RegistrySettings, Store};
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::tls::TlsMaterial;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry, Forwarder};
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::rules::BridgeSettings;
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use futures_util::future::BoxFuture;
use rumqttc::{
    AsyncClient, ConnectionError, Event as MqttEvent, EventLoop, MqttOptions, Packet, TlsConfiguration,
    Transport,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

/// A fresh P-256 device key.
pub(crate) fn key() -> DeviceKey {
    DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap()
}

/// The `ES256_PEM` credential of `key`.
pub(crate) fn credential(key: &DeviceKey) -> Credential {
    Credential {
        format: CredentialFormat::Es256Pem,
        pem: key.spki_pem(),
        expiration: None,
    }
}

/// A one-hour device JWT for project `demo-project`, issued now.
pub(crate) fn jwt(key: &DeviceKey) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    mint(
        key,
        &DeviceClaims::new("demo-project", i64::try_from(now).unwrap(), 3600),
    )
    .unwrap()
}

/// Stores what it is given; refuses messages whose payload is `reject`.
#[derive(Default)]
pub(crate) struct MemoryPubsub(pub(crate) Mutex<Vec<Outgoing>>);

impl Forwarder for MemoryPubsub {
    fn forward(&self, message: Outgoing) -> BoxFuture<'static, Result<(), String>> {
        let result = if message.data.as_ref() == b"reject" {
            Err("pubsub refused".to_owned())
        } else {
            self.0.lock().unwrap().push(message);
            Ok(())
        };
        Box::pin(async move { result })
    }
}

pub(crate) struct Harness {
    pub(crate) bridge: Bridge,
    pub(crate) clock: Arc<Clock>,
    pub(crate) store: Arc<Store>,
    pub(crate) ca_pem: String,
    pub(crate) pubsub: Arc<MemoryPubsub>,
    pub(crate) keys: std::collections::HashMap<String, DeviceKey>,
    pub(crate) events: mpsc::UnboundedReceiver<Recorded>,
}

pub(crate) fn install_provider() {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A bridge whose registry holds `pi-1` and `pi-2`, each with one credential and config v1.
pub(crate) async fn start() -> Harness {
    install_provider();
    let tls = TlsMaterial::generate().unwrap();
    let pubsub = Arc::new(MemoryPubsub::default());
    let (events_tx, events) = mpsc::unbounded_channel();
    let routing = Routing {
        default_topic: Some("projects/demo-project/topics/telemetry".into()),
        ..Routing::default()
    };
    let settings = RegistrySettings {
        project: "demo-project".into(),
        jwt: BridgeSettings::google(),
        registry_cas: Vec::new(),
    };
    let store = Arc::new(Store::new(routing, settings));
    let mut keys = std::collections::HashMap::new();
    for device in ["pi-1", "pi-2"] {
        let key = key();
        store.create(device, vec![credential(&key)], false, 0).unwrap();
        keys.insert(device.to_owned(), key);
        store
            .set_config(device, Bytes::from_static(b"{\"led\":true}"), None)
            .unwrap();
    }
    let clock = Arc::new(Clock::default());
    let config = BridgeConfig {
        path: RegistryPath {
            project: "demo-project".into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile: Profile::google(),
        tls: Some(tls.server_config().unwrap()),
        registry: store.clone() as Arc<dyn DeviceRegistry>,
        forwarder: pubsub.clone(),
        clock: Arc::clone(&clock),
        events: Some(events_tx),
        observe: Default::default(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = Bridge::start(listener, config).unwrap();
    Harness {
        bridge,
        clock,
        store,
        ca_pem: tls.ca_pem,
        pubsub,
        keys,
        events,
    }
}

/// The client id of a device of the test registry.
pub(crate) fn client_id(device: &str) -> String {
    format!("projects/demo-project/locations/us-central1/registries/pi-fleet/devices/{device}")
}

pub(crate) fn client_tls(ca_pem: &str) -> Arc<tokio_rustls::rustls::ClientConfig> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

impl Harness {
    /// A valid JWT of a device of the test registry.
    pub(crate) fn token(&self, device: &str) -> String {
        jwt(&self.keys[device])
    }
}

/// A rumqttc client of `device` with `password` (`good` for a valid JWT), trusting the CA.
pub(crate) fn client(h: &Harness, device: &str, password: &str) -> (AsyncClient, EventLoop) {
    let password = if password == "good" {
        h.token(device)
    } else {
        password.to_owned()
    };
    let mut options = MqttOptions::new(client_id(device), "localhost", h.bridge.local_addr().port());
    options
        .set_credentials("unused", password)
        .set_keep_alive(Duration::from_secs(60));
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(client_tls(
        &h.ca_pem,
    ))));
    AsyncClient::new(options, 16)
}

/// Polls until `want` matches an incoming packet, failing on a connection error.
pub(crate) async fn until(events: &mut EventLoop, want: impl Fn(&Packet) -> bool) -> Packet {
    loop {
        match events.poll().await {
            Ok(MqttEvent::Incoming(packet)) if want(&packet) => return packet,
            Ok(_) => {}
            Err(e) => panic!("connection failed: {e:?}"),
        }
    }
}

/// The next error the client's event loop reports.
pub(crate) async fn error(events: &mut EventLoop) -> ConnectionError {
    loop {
        if let Err(e) = events.poll().await {
            return e;
        }
    }
}

/// The next recorded event that `want` accepts.
pub(crate) async fn next_event(h: &mut Harness, want: impl Fn(&Event) -> bool) -> Event {
    loop {
        let recorded = h.events.recv().await.unwrap();
        if want(&recorded.event) {
            assert!(recorded.peer.ip().is_loopback());
            return recorded.event;
        }
    }
}

/// A raw TLS stream to the bridge.
pub(crate) async fn tls_stream(h: &Harness) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(client_tls(&h.ca_pem));
    let tcp = TcpStream::connect(h.bridge.local_addr()).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}
