//! The `[[fault]]` schedule on a paused clock: each fault takes effect at its time and the
//! lasting ones are reverted after, with no waiting in real time.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::forward::Routing;
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::{RegistrySettings, Store};
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry};
use fleetgate_identity::rules::BridgeSettings;
use fleetgate_pubsub::{Emulator, EmulatorConfig};
use fleetgate_runner::environment::faults::schedule;
use fleetgate_runner::forwarders::EmbeddedPubsub;
use fleetgate_scenario::{SourceFile, compile};

const SCENARIO: &str = r#"
[scenario]
name = "faults"

[[device]]
id = "real-pi"
credentials = [{ format = "ES256_PEM", file = "unused.pub" }]

[[fault]]
at = "20s"
kind = "delay-pubacks"
delay = "300ms"
for = "10s"

[[fault]]
at = "5s"
kind = "refuse-connects"
device = "real-pi"
count = 2

[[fault]]
at = "10s"
kind = "stall-forwarding"
for = "5s"
"#;

async fn bridge() -> Bridge {
    let settings = RegistrySettings {
        project: "demo-project".into(),
        jwt: BridgeSettings::google(),
        registry_cas: Vec::new(),
    };
    let config = BridgeConfig {
        path: RegistryPath {
            project: "demo-project".into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile: Profile::google(),
        tls: None,
        registry: Arc::new(Store::new(Routing::default(), settings)) as Arc<dyn DeviceRegistry>,
        forwarder: Arc::new(EmbeddedPubsub(Emulator::new(EmulatorConfig::default()))),
        clock: Arc::new(Clock::default()),
        events: None,
        observe: Default::default(),
    };
    Bridge::start(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        config,
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn faults_take_effect_at_their_time_and_lasting_ones_end() {
    let scenario = compile(&SourceFile::new("faults.toml", SCENARIO), &[])
        .scenario
        .unwrap();
    let at: Vec<u64> = scenario.faults.iter().map(|f| f.at.as_secs()).collect();
    assert_eq!(at, [5, 10, 20], "sorted by time");
    let bridge = bridge().await;
    let applied = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&applied);
    let _task = schedule(bridge.clone(), scenario.faults.clone(), move |f| {
        log.lock().unwrap().push(f.at.as_secs())
    })
    .await;
    let state = || bridge.faults().state();

    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(state().refusals.get("real-pi"), Some(&2));
    assert!(!state().forwarding_stalled);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(state().forwarding_stalled, "stalled at 10s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!state().forwarding_stalled, "resumed at 15s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(state().puback_delay_ms, 300, "delayed at 20s");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(state().puback_delay_ms, 0, "back to normal at 30s");
    assert_eq!(*applied.lock().unwrap(), [5, 10, 20]);
}
