//! Telemetry from a real MQTT client through the embedded bridge into Pub/Sub, both ways: into
//! the embedded emulator in-process, and over gRPC to an emulator listening on loopback. The
//! message is pulled back with the exact payload and the IoT Core attributes.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::forward::Routing;
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::{RegistrySettings, Store};
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::tls::TlsMaterial;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry, Forwarder};
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::rules::BridgeSettings;
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use fleetgate_pubsub::{Emulator, EmulatorConfig};
use fleetgate_runner::forwarders::{EmbeddedPubsub, ExternalPubsub};
use gcloud_googleapis::pubsub::v1::{Subscription, Topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

const TOPIC: &str = "projects/demo-project/topics/telemetry";
const SUBSCRIPTION: &str = "projects/demo-project/subscriptions/telemetry-check";

fn emulator() -> Emulator {
    let emulator = Emulator::new(EmulatorConfig::default());
    emulator
        .create_topic(Topic {
            name: TOPIC.into(),
            ..Topic::default()
        })
        .unwrap();
    let subscription = Subscription {
        name: SUBSCRIPTION.into(),
        topic: TOPIC.into(),
        ..Subscription::default()
    };
    emulator.create_subscription(subscription).unwrap();
    emulator
}

/// Starts a bridge forwarding through `forwarder`, publishes one QoS 1 message as `pi-1` with a
/// real ES256 device JWT, and returns once its PUBACK arrived.
async fn publish_through_bridge(forwarder: Arc<dyn Forwarder>) -> u64 {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let routing = Routing {
        default_topic: Some(TOPIC.into()),
        ..Routing::default()
    };
    let settings = RegistrySettings {
        project: "demo-project".into(),
        jwt: BridgeSettings::google(),
        registry_cas: Vec::new(),
    };
    let store = Arc::new(Store::new(routing, settings));
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    let credential = Credential {
        format: CredentialFormat::Es256Pem,
        pem: key.spki_pem(),
        expiration: None,
    };
    let num_id = store.create("pi-1", vec![credential], false, 0).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = mint(
        &key,
        &DeviceClaims::new("demo-project", i64::try_from(now).unwrap(), 3600),
    )
    .unwrap();
    let tls = TlsMaterial::generate().unwrap();
    let config = BridgeConfig {
        path: RegistryPath {
            project: "demo-project".into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile: Profile::google(),
        tls: Some(tls.server_config().unwrap()),
        registry: store as Arc<dyn DeviceRegistry>,
        forwarder,
        clock: Arc::new(Clock::default()),
        events: None,
        observe: Default::default(),
    };
    let bridge = Bridge::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        config,
    )
    .unwrap();

    let id = "projects/demo-project/locations/us-central1/registries/pi-fleet/devices/pi-1";
    let mut options = MqttOptions::new(id, "localhost", bridge.local_addr().port());
    options
        .set_credentials("unused", jwt)
        .set_keep_alive(Duration::from_secs(60));
    let client_tls =
        fleetgate_fleet::driver::tls::client_config(tls.ca_pem.as_bytes(), "the bridge's CA").unwrap();
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(client_tls)));
    let (client, mut events) = AsyncClient::new(options, 8);
    client
        .publish(
            "/devices/pi-1/events/kitchen",
            QoS::AtLeastOnce,
            false,
            b"\x00 21.5C \xff".to_vec(),
        )
        .await
        .unwrap();
    loop {
        if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.unwrap() {
            break;
        }
    }
    bridge.shutdown().await;
    num_id
}

async fn assert_delivered(emulator: &Emulator, num_id: u64) {
    let received = emulator.pull(SUBSCRIPTION, 10, true).await.unwrap();
    assert_eq!(received.len(), 1);
    let message = received[0].message.clone().unwrap();
    assert_eq!(
        Bytes::from(message.data.to_vec()),
        Bytes::from_static(b"\x00 21.5C \xff")
    );
    let attribute = |k: &str| message.attributes.get(k).cloned().unwrap_or_default();
    assert_eq!(attribute("deviceId"), "pi-1");
    assert_eq!(attribute("deviceNumId"), num_id.to_string());
    assert_eq!(attribute("subFolder"), "kitchen");
    assert_eq!(attribute("projectId"), "demo-project");
    assert_eq!(message.attributes.len(), 6);
    assert!(!message.message_id.is_empty());
}

#[tokio::test]
async fn telemetry_reaches_the_embedded_emulator_in_process() {
    let emulator = emulator();
    let num_id = publish_through_bridge(Arc::new(EmbeddedPubsub(emulator.clone()))).await;
    assert_delivered(&emulator, num_id).await;
}

#[tokio::test]
async fn telemetry_reaches_an_emulator_over_grpc() {
    let emulator = emulator();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(fleetgate_pubsub::run(
        listener,
        emulator.clone(),
        std::future::pending(),
    ));
    let external = ExternalPubsub::connect(&address).await.unwrap();
    let num_id = publish_through_bridge(Arc::new(external)).await;
    assert_delivered(&emulator, num_id).await;
}

#[tokio::test]
async fn an_unreachable_emulator_is_named_in_the_error() {
    let error = ExternalPubsub::connect("127.0.0.1:9")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("cannot reach the Pub/Sub emulator at 127.0.0.1:9"),
        "{error}"
    );
}
