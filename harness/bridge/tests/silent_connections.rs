//! Connections that never finish a CONNECT (silent, or a half-sent packet held open) are closed
//! after 10 s with a recorded reason. The runtime's clock is paused, so no real time passes.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::sync::Arc;

use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::events::Event;
use fleetgate_bridge::forward::Routing;
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::{RegistrySettings, Store};
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry};
use fleetgate_identity::rules::BridgeSettings;
use tokio::io::AsyncWriteExt;

mod common;

#[tokio::test(start_paused = true)]
async fn a_half_sent_connect_held_open_is_dropped_after_ten_seconds() {
    let settings = RegistrySettings {
        project: "demo-project".into(),
        jwt: BridgeSettings::google(),
        registry_cas: Vec::new(),
    };
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let config = BridgeConfig {
        path: RegistryPath {
            project: "demo-project".into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile: Profile::google(),
        tls: None,
        registry: Arc::new(Store::new(Routing::default(), settings)) as Arc<dyn DeviceRegistry>,
        forwarder: Arc::new(common::MemoryPubsub::default()),
        clock: Arc::new(Clock::default()),
        events: Some(events_tx),
        observe: Default::default(),
    };
    let bridge = Bridge::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        config,
    )
    .unwrap();
    let mut stream = tokio::net::TcpStream::connect(bridge.local_addr()).await.unwrap();
    stream.write_all(&[0x10, 0x2a, 0x00]).await.unwrap();
    let recorded = events.recv().await.unwrap();
    assert_eq!(
        recorded.event,
        Event::Dropped {
            reason: "no CONNECT within 10s".into()
        }
    );
}
