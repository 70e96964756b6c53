//! The fleet against an external broker: Debian's mosquitto, as a user points fleetgate at a
//! broker for fleet-only throughput runs. mosquitto checks no JWT; what matters is that every
//! message the fleet counts as acknowledged is one the broker delivered to a subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};

use fleetgate_runner::{RunOptions, run};
use fleetgate_scenario::{SourceFile, compile};

/// A mosquitto broker on a free loopback port, its verbose log on stderr.
struct Broker {
    child: Child,
    log: BufReader<ChildStderr>,
    port: u16,
}

impl Broker {
    fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type all\n"),
        )
        .unwrap();
        let binary = ["/usr/sbin/mosquitto", "mosquitto"]
            .into_iter()
            .find(|b| Command::new(b).arg("-h").output().is_ok())
            .expect("mosquitto is installed (.ci/run installs it)");
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut broker = Self {
            log: BufReader::new(child.stderr.take().unwrap()),
            child,
            port,
        };
        broker.wait_for("Opening ipv4 listen socket");
        broker
    }

    /// Reads the broker's log until a line contains `text`.
    fn wait_for(&mut self, text: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.log.read_line(&mut line).unwrap();
            assert!(read > 0, "mosquitto exited before logging {text:?}");
            if line.contains(text) {
                return;
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options(dir: &std::path::Path) -> RunOptions {
    RunOptions::new(dir.join("out"), dir.to_path_buf())
}

/// Four devices of a cohort against `port` in plain TCP, each sending `count` messages, with
/// `target` added to `[target]`.
fn scenario(port: u16, target: &str, count: u32) -> fleetgate_scenario::Scenario {
    let text = format!(
        r#"
[scenario]
name = "broker"
[target]
bridge = {{ host = "127.0.0.1", port = {port}, tls = false, profile = "google" }}
{target}
[project]
id = "fleet-test"
region = "us-central1"
registry = "pis"
[[cohort]]
name = "pis"
devices = 4
device_id = "pi-{{index}}"
telemetry = {{ every = "20ms", count = {count}, payload_bytes = 100 }}
[[phase]]
name = "burst"
hold = "60s"
"#
    );
    compile(&SourceFile::new("broker.toml", text), &[])
        .scenario
        .unwrap()
}

#[test]
fn every_message_the_fleet_counts_as_acknowledged_reached_a_subscriber_of_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let subscriber = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-i", "counter"])
        .args(["-t", "/devices/+/events", "-q", "1", "-C", "40", "-W", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    broker.wait_for("counter 1 /devices/+/events");
    let scenario = scenario(broker.port, "", 10);
    let report = run(&scenario, &options(dir.path()), &mut |_| {}).unwrap();
    let value = |key: &str| report.measurements[key].value;
    assert_eq!(value("connects.accepted"), 4.0);
    // Without the count, 4 devices at 50 msgs/s over a 60 s hold would send about 12,000.
    assert_eq!(value("messages.sent"), 40.0, "the count ends the sending");
    assert_eq!(value("messages.acked"), 40.0);
    assert!(
        !report.measurements.contains_key("messages.lost"),
        "nothing downstream was watched"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("nothing downstream was watched")),
        "{:?}",
        report.notes
    );
    let received = subscriber.wait_with_output().unwrap();
    assert!(
        received.status.success(),
        "the subscriber got all 40 within its timeout"
    );
    let lines = String::from_utf8(received.stdout).unwrap();
    let mut stamps: Vec<(String, u64)> = lines
        .lines()
        .map(|l| {
            let stamp = fleetgate_fleet::payload::decode(l.as_bytes()).unwrap();
            (stamp.device, stamp.seq)
        })
        .collect();
    stamps.sort();
    stamps.dedup();
    assert_eq!(stamps.len(), 40, "40 distinct device/sequence pairs");
}

/// The broker's log names each connection's peer: the devices leave from the listed source
/// addresses in turn, and an address the machine lacks stops the run before any device starts.
#[test]
fn devices_connect_from_the_listed_source_addresses_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let scenario_with = |sources: &str| scenario(broker.port, &format!("source_addresses = {sources}"), 1);
    let report = run(
        &scenario_with(r#"["127.0.0.2", "127.0.0.3"]"#),
        &options(dir.path()),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.measurements["connects.accepted"].value, 4.0);
    // "New client connected from 127.0.0.2:40022 as projects/…/devices/pi-0 (p2, c1, k60, u'unused')."
    let mut peers = Vec::new();
    let mut line = String::new();
    while peers.len() < 4 {
        line.clear();
        assert!(broker.log.read_line(&mut line).unwrap() > 0, "mosquitto exited");
        if let Some(rest) = line.split("New client connected from ").nth(1) {
            let peer = rest.split(':').next().unwrap().to_owned();
            let device = rest
                .split("/devices/")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned();
            peers.push((device, peer));
        }
    }
    peers.sort();
    let expected = [
        ("pi-0", "127.0.0.2"),
        ("pi-1", "127.0.0.3"),
        ("pi-2", "127.0.0.2"),
        ("pi-3", "127.0.0.3"),
    ];
    assert_eq!(peers, expected.map(|(d, p)| (d.to_owned(), p.to_owned())));

    let report = run(
        &scenario_with(r#"["192.0.2.77"]"#),
        &options(dir.path()),
        &mut |_| {},
    )
    .unwrap();
    let phase = &report.phases[0];
    assert_eq!(phase.verdict, fleetgate_report::Verdict::Failed);
    let message = phase.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("broker.toml") && message.contains("192.0.2.77 is not an address of this machine"),
        "{message}"
    );
    assert!(
        !report.measurements.contains_key("connects.attempts"),
        "no device started"
    );
}
