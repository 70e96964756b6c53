//! The bridge under test: a CA generated for the run, a registry of ES256 devices with fresh
//! JWTs, and a bridge on 127.0.0.1:0 forwarding telemetry into the embedded Pub/Sub emulator.

use std::sync::Arc;

use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::forward::Routing;
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::{RegistrySettings, Store};
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::tls::TlsMaterial;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry};
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::rules::BridgeSettings;
use fleetgate_identity::{DeviceKey, KeySpec};
use fleetgate_pubsub::{Emulator, EmulatorConfig};
use fleetgate_runner::forwarders::EmbeddedPubsub;
use gcloud_googleapis::pubsub::v1::{Subscription, Topic};

/// The project every JWT names.
const PROJECT: &str = "demo-project";
/// Where telemetry goes.
const TOPIC: &str = "projects/demo-project/topics/telemetry";
/// The subscription that counts what arrived.
pub(crate) const SUBSCRIPTION: &str = "projects/demo-project/subscriptions/bench";

/// One registered device: its client id parts and a valid JWT.
pub(crate) struct Device {
    /// The device id.
    pub(crate) id: String,
    /// A one-hour ES256 JWT.
    pub(crate) jwt: String,
}

impl Device {
    /// The MQTT client id.
    pub(crate) fn client_id(&self) -> String {
        format!(
            "projects/{PROJECT}/locations/us-central1/registries/pi-fleet/devices/{}",
            self.id
        )
    }
}

/// A running bridge with its devices.
pub(crate) struct Setup {
    /// The bridge.
    pub(crate) bridge: Bridge,
    /// The CA devices trust, PEM.
    pub(crate) ca_pem: String,
    /// The embedded emulator behind the bridge.
    pub(crate) emulator: Emulator,
    /// Registered devices with their JWTs.
    pub(crate) devices: Vec<Device>,
}

fn now_secs() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(now.as_secs()).expect("seconds fit i64")
}

fn emulator() -> Emulator {
    let emulator = Emulator::new(EmulatorConfig::default());
    let topic = Topic {
        name: TOPIC.into(),
        ..Topic::default()
    };
    emulator.create_topic(topic).expect("topic");
    let subscription = Subscription {
        name: SUBSCRIPTION.into(),
        topic: TOPIC.into(),
        ..Subscription::default()
    };
    emulator.create_subscription(subscription).expect("subscription");
    emulator
}

/// Registers `count` devices `{prefix}-{n}` with fresh P-256 keys and mints their JWTs.
fn register(store: &Store, count: usize, prefix: &str) -> Vec<Device> {
    let now = now_secs();
    (0..count)
        .map(|n| {
            let key = DeviceKey::generate(KeySpec::P256).expect("P-256 key");
            let credential = Credential {
                format: CredentialFormat::Es256Pem,
                pem: key.spki_pem(),
                expiration: None,
            };
            let id = format!("{prefix}-{n}");
            store
                .create(&id, vec![credential], false, now)
                .expect("device registered");
            let jwt = mint(&key, &DeviceClaims::new(PROJECT, now, 3600)).expect("JWT");
            Device { id, jwt }
        })
        .collect()
}

/// Starts a bridge (TLS, or plain TCP when `tls` is false) with `count` devices, forwarding
/// into a fresh embedded emulator. Events are off (nothing would drain them).
pub(crate) async fn start(count: usize, prefix: &str, profile: Profile, tls_on: bool) -> Setup {
    let emulator = emulator();
    let routing = Routing {
        default_topic: Some(TOPIC.into()),
        ..Routing::default()
    };
    let settings = RegistrySettings {
        project: PROJECT.into(),
        jwt: BridgeSettings::google(),
        registry_cas: Vec::new(),
    };
    let store = Arc::new(Store::new(routing, settings));
    let devices = register(&store, count, prefix);
    let tls = TlsMaterial::generate().expect("TLS material");
    let config = BridgeConfig {
        path: RegistryPath {
            project: PROJECT.into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile,
        tls: tls_on.then(|| tls.server_config().expect("server config")),
        registry: store as Arc<dyn DeviceRegistry>,
        forwarder: Arc::new(EmbeddedPubsub(emulator.clone())),
        clock: Arc::new(Clock::default()),
        events: None,
        observe: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let bridge = Bridge::start(listener, config).expect("bridge");
    Setup {
        bridge,
        ca_pem: tls.ca_pem,
        emulator,
        devices,
    }
}
