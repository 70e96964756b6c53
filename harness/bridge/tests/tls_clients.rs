//! The bridge judged by a real MQTT client (rumqttc) over real TLS on loopback: CONNACK codes,
//! PUBACK only after Pub/Sub accepted, topic rules, one connection per device, and bad bytes.

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers fail loudly

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::events::{Cause, Event, Recorded, Verdict};
use fleetgate_bridge::forward::{Outgoing, Routing};
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::session::{AuthVerdict, ConfigVersion, DeviceInfo, Registry, RegistryPath, UnixMillis};
use fleetgate_bridge::tls::TlsMaterial;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry, Forwarder};
use futures_util::future::BoxFuture;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event as MqttEvent, EventLoop, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

/// Devices `pi-1` and `pi-2`; the password `good` is accepted with a one-hour token.
struct Fleet;

impl Registry for Fleet {
    fn device(&self, id: &str) -> Option<DeviceInfo> {
        ["pi-1", "pi-2"].contains(&id).then_some(DeviceInfo {
            num_id: 42,
            blocked: false,
            gateway: false,
        })
    }
    fn authenticate(&self, _: &str, jwt: &str, now: i64) -> AuthVerdict {
        let result = if jwt == "good" {
            Ok(now + 3600)
        } else {
            Err("jwt-signature".into())
        };
        AuthVerdict { claims: None, result }
    }
    fn latest_config(&self, _: &str) -> Option<ConfigVersion> {
        Some(ConfigVersion {
            version: 1,
            data: Bytes::from_static(b"{\"led\":true}"),
        })
    }
}

impl DeviceRegistry for Fleet {
    fn routing(&self) -> Routing {
        Routing {
            default_topic: Some("projects/demo-project/topics/telemetry".into()),
            ..Routing::default()
        }
    }
    fn store_state(&self, _: &str, _: Bytes, _: UnixMillis) {}
}

/// Stores what it is given; refuses messages whose payload is `reject`.
#[derive(Default)]
struct Store(Mutex<Vec<Outgoing>>);

impl Forwarder for Store {
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

struct Harness {
    bridge: Bridge,
    ca_pem: String,
    store: Arc<Store>,
    events: mpsc::UnboundedReceiver<Recorded>,
}

async fn start() -> Harness {
    let tls = TlsMaterial::generate().unwrap();
    let store = Arc::new(Store::default());
    let (events_tx, events) = mpsc::unbounded_channel();
    let config = BridgeConfig {
        path: RegistryPath {
            project: "demo-project".into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile: Profile::google(),
        tls: Some(tls.server_config().unwrap()),
        registry: Arc::new(Fleet),
        forwarder: store.clone(),
        clock: Arc::new(Clock::default()),
        events: Some(events_tx),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = Bridge::start(listener, config).unwrap();
    Harness {
        bridge,
        ca_pem: tls.ca_pem,
        store,
        events,
    }
}

fn client(h: &Harness, device: &str, password: &str) -> (AsyncClient, EventLoop) {
    let id = format!("projects/demo-project/locations/us-central1/registries/pi-fleet/devices/{device}");
    let mut options = MqttOptions::new(id, "localhost", h.bridge.local_addr().port());
    options
        .set_credentials("unused", password)
        .set_keep_alive(Duration::from_secs(60));
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(h.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(
        tls,
    ))));
    AsyncClient::new(options, 16)
}

/// Polls until `want` matches an incoming packet, failing on a connection error.
async fn until(events: &mut EventLoop, want: impl Fn(&Packet) -> bool) -> Packet {
    loop {
        match events.poll().await {
            Ok(MqttEvent::Incoming(packet)) if want(&packet) => return packet,
            Ok(_) => {}
            Err(e) => panic!("connection failed: {e:?}"),
        }
    }
}

/// The next error the client's event loop reports.
async fn error(events: &mut EventLoop) -> ConnectionError {
    loop {
        if let Err(e) = events.poll().await {
            return e;
        }
    }
}

async fn next_event(h: &mut Harness, want: impl Fn(&Event) -> bool) -> Event {
    loop {
        let recorded = h.events.recv().await.unwrap();
        if want(&recorded.event) {
            assert!(recorded.peer.ip().is_loopback());
            return recorded.event;
        }
    }
}

fn install_provider() {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[tokio::test]
async fn qos1_telemetry_reaches_pubsub_with_its_attributes_before_the_puback() {
    install_provider();
    let h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    client
        .publish("/devices/pi-1/events", QoS::AtLeastOnce, false, b"21.5C".to_vec())
        .await
        .unwrap();
    until(&mut events, |p| matches!(p, Packet::PubAck(_))).await;
    let stored = h.store.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "stored before the PUBACK arrived");
    assert_eq!(stored[0].data.as_ref(), b"21.5C");
    assert_eq!(stored[0].topic, "projects/demo-project/topics/telemetry");
    let expected: BTreeMap<String, String> = [
        ("deviceId", "pi-1"),
        ("deviceNumId", "42"),
        ("deviceRegistryId", "pi-fleet"),
        ("deviceRegistryLocation", "us-central1"),
        ("projectId", "demo-project"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(stored[0].attributes, expected);
    assert_eq!(h.bridge.connected_devices(), ["pi-1"]);
}

#[tokio::test]
async fn a_refused_token_gets_connack_5_and_the_reason_is_recorded() {
    install_provider();
    let mut h = start().await;
    let (_client, mut events) = client(&h, "pi-1", "forged");
    let error = error(&mut events).await;
    assert!(
        matches!(
            error,
            ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)
        ),
        "{error:?}"
    );
    let event = next_event(&mut h, |e| matches!(e, Event::ConnectAttempt(_))).await;
    let Event::ConnectAttempt(attempt) = event else {
        unreachable!()
    };
    assert_eq!(
        attempt.verdict,
        Verdict::Refused {
            connack: 5,
            reason: "jwt-signature".into()
        }
    );
}

#[tokio::test]
async fn telemetry_pubsub_refuses_is_never_acknowledged() {
    install_provider();
    let mut h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    client
        .publish(
            "/devices/pi-1/events",
            QoS::AtLeastOnce,
            false,
            b"reject".to_vec(),
        )
        .await
        .unwrap();
    loop {
        match events.poll().await {
            Ok(MqttEvent::Incoming(Packet::PubAck(_))) => panic!("acknowledged a message Pub/Sub refused"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let event = next_event(&mut h, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        event,
        Event::Disconnected {
            device: "pi-1".into(),
            cause: Cause::ForwardFailed("pubsub refused".into())
        }
    );
}

#[tokio::test]
async fn publishing_for_another_device_closes_the_connection() {
    install_provider();
    let mut h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    client
        .publish("/devices/pi-2/events", QoS::AtLeastOnce, false, b"x".to_vec())
        .await
        .unwrap();
    error(&mut events).await;
    let event = next_event(&mut h, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        event,
        Event::Disconnected {
            device: "pi-1".into(),
            cause: Cause::TopicNotAllowed("/devices/pi-2/events".into())
        }
    );
}

#[tokio::test]
async fn a_second_connection_of_a_device_replaces_the_first() {
    install_provider();
    let mut h = start().await;
    let (_first, mut first_events) = client(&h, "pi-1", "good");
    until(&mut first_events, |p| matches!(p, Packet::ConnAck(_))).await;
    let (_second, mut second_events) = client(&h, "pi-1", "good");
    until(&mut second_events, |p| matches!(p, Packet::ConnAck(_))).await;
    error(&mut first_events).await;
    let event = next_event(&mut h, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        event,
        Event::Disconnected {
            device: "pi-1".into(),
            cause: Cause::Replaced
        }
    );
    assert_eq!(h.bridge.connected_devices(), ["pi-1"]);
}

#[tokio::test]
async fn the_config_follows_the_suback_and_commands_need_a_subscription() {
    install_provider();
    let h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    assert!(
        h.bridge
            .send_command("pi-1", None, Bytes::from_static(b"reboot"))
            .await
            .is_err()
    );
    client
        .subscribe("/devices/pi-1/config", QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .subscribe("/devices/pi-1/commands/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let Packet::Publish(config) = until(&mut events, |p| matches!(p, Packet::Publish(_))).await else {
        unreachable!()
    };
    assert_eq!(
        (config.topic.as_str(), config.payload.as_ref()),
        ("/devices/pi-1/config", b"{\"led\":true}".as_ref())
    );
    until(&mut events, |p| matches!(p, Packet::SubAck(s) if s.pkid == 2)).await;
    let bridge = &h.bridge;
    let (sent, received) = tokio::join!(
        bridge.send_command("pi-1", Some("ops"), Bytes::from_static(b"reboot")),
        until(
            &mut events,
            |p| matches!(p, Packet::Publish(p) if p.topic.contains("commands"))
        )
    );
    sent.unwrap();
    let Packet::Publish(command) = received else {
        unreachable!()
    };
    assert_eq!(
        (command.topic.as_str(), command.payload.as_ref()),
        ("/devices/pi-1/commands/ops", b"reboot".as_ref())
    );
}

#[tokio::test]
async fn tls_junk_and_mqtt_junk_are_dropped_with_a_recorded_reason() {
    install_provider();
    let mut h = start().await;
    let mut raw = TcpStream::connect(h.bridge.local_addr()).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let Event::Dropped { reason } = next_event(&mut h, |e| matches!(e, Event::Dropped { .. })).await else {
        unreachable!()
    };
    assert!(reason.starts_with("tls:"), "{reason}");

    for (bytes, expected) in [
        (&[0xC0u8, 0x00][..], "protocol: PINGREQ before CONNECT"),
        (&[0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..], "malformed: "),
    ] {
        let mut tls = tls_stream(&h).await;
        tls.write_all(bytes).await.unwrap();
        tls.flush().await.unwrap();
        let Event::Dropped { reason } = next_event(&mut h, |e| matches!(e, Event::Dropped { .. })).await
        else {
            unreachable!()
        };
        assert!(reason.starts_with(expected), "{reason}");
    }
    h.bridge.shutdown().await;
}

async fn tls_stream(h: &Harness) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(h.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(h.bridge.local_addr()).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}
