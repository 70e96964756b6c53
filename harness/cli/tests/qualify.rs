//! `fleetgate qualify` against the Pi stand-in (`fixtures/pi/pi_device.py`, paho-mqtt + PyJWT
//! written like the seed guide): one qualification runs the good device and one faulty variant
//! per behaviour side by side, each from its own loopback address (so each has its own lane).
//! The good device passes every case; each variant fails exactly the cases of its fault. In the
//! same run a [[device]] that never connects, a device id the scenario does not have and a
//! peer sending garbage each get a failed verdict with the reason, and stall nobody.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root.
fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit by itself, failing the test after `limit`.
fn exited(child: &mut Killed, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not end within {}s",
            limit.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Each stand-in: its device id, its fault flags, and the cases it must fail.
const DEVICES: &[(&str, &[&str], &[&str])] = &[
    ("pi-good", &[], &[]),
    (
        "pi-no-verify-cert",
        &["no-verify-cert"],
        &[
            "device.tls-untrusted-ca",
            "device.tls-wrong-host",
            "device.tls-expired",
        ],
    ),
    (
        "pi-no-verify-host",
        &["no-verify-host"],
        &["device.tls-wrong-host"],
    ),
    (
        "pi-no-backoff",
        &["no-backoff"],
        &["device.backoff-refused", "device.backoff-no-connack"],
    ),
    ("pi-no-jitter", &["no-jitter"], &["device.backoff-refused"]),
    (
        "pi-reuse-token",
        &["reuse-token"],
        &["device.fresh-token", "device.refresh-before-expiry"],
    ),
    (
        "pi-no-refresh",
        &["no-refresh"],
        &["device.refresh-before-expiry"],
    ),
    ("pi-no-keepalive", &["no-keepalive"], &["device.keepalive"]),
    ("pi-no-republish", &["no-republish"], &["device.qos1-republish"]),
    ("pi-wrong-aud", &["wrong-aud"], &["device.connect"]),
    ("pi-skewed", &["skew=900"], &["device.clock-offset"]),
    ("pi-foreign-topic", &["foreign-topic"], &["device.topics"]),
    ("pi-qos2", &["qos2"], &["device.topics"]),
    ("pi-state-flood", &["state-flood"], &["device.topics"]),
    (
        "pi-no-connack-timeout",
        &["no-connack-timeout"],
        &["device.backoff-no-connack"],
    ),
    (
        "pi-no-subscribe",
        &["no-subscribe"],
        &["device.config-ack", "device.commands"],
    ),
];

fn scenario(dir: &Path, public_key: &Path) -> String {
    let mut text = String::from(
        r#"
[scenario]
name = "qualify-test"

[project]
id = "demo-project"
region = "us-central1"
registry = "pi-fleet"

[cases]
include = ["device.*"]

[cases.params."device.connect"]
timeout = "60s"

[cases.params."device.backoff-refused"]
count = 3

[cases.params."device.backoff-no-connack"]
timeout = "45s"

[cases.params."device.refresh-before-expiry"]
grace = "2s"

[cases.params."device.long-outage"]
outage = "5s"
timeout = "40s"
"#,
    );
    let ids = DEVICES.iter().map(|(id, _, _)| *id).chain(["pi-absent"]);
    for id in ids {
        text.push_str(&format!(
            "\n[[device]]\nid = \"{id}\"\ncredentials = [{{ format = \"ES256_PEM\", file = \"{}\" }}]\n",
            public_key.display()
        ));
    }
    let path = dir.join("qualify.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn python_judges_installed() {
    let check = Command::new("python3")
        .args(["-c", "import paho.mqtt.client, jwt, cryptography"])
        .status();
    assert!(
        check.is_ok_and(|s| s.success()),
        "this test runs the Pi stand-in, which needs python3 with paho-mqtt, PyJWT and cryptography: pip install -r .ci/requirements.txt"
    );
}

/// The bridge's MQTT port from serve's or qualify's JSON line.
fn port(announced: &Value) -> String {
    let address = announced["bridge"]["mqtt"].as_str().unwrap();
    address.rsplit(':').next().unwrap().to_owned()
}

/// Starts one stand-in from `127.0.0.<octet>`.
fn stand_in(announced: &Value, device: &str, faults: &[&str], octet: usize, log: &Path) -> Killed {
    let fixtures = root().join("fixtures/pi");
    let port = port(announced);
    let bind = format!("127.0.0.{octet}");
    let mut args: Vec<String> = [
        fixtures.join("pi_device.py").to_str().unwrap(),
        "--host",
        "localhost",
        "--port",
        &port,
        "--ca",
        announced["bridge"]["ca"].as_str().unwrap(),
        "--project",
        "demo-project",
        "--region",
        "us-central1",
        "--registry",
        "pi-fleet",
        "--device",
        device,
        "--key",
        fixtures.join("pi-1.key").to_str().unwrap(),
        "--alg",
        "ES256",
        "--token-lifetime",
        "40",
        "--refresh-at",
        "0.5",
        "--keepalive",
        "5",
        "--telemetry-every",
        "0.5",
        "--state-every",
        "2",
        "--backoff-max",
        "32",
        "--connect-timeout",
        "3",
        "--duration",
        "500",
        "--bind",
        &bind,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for fault in faults {
        args.push("--fault".into());
        args.push((*fault).into());
    }
    let log = std::fs::File::create(log.join(format!("{device}.log"))).unwrap();
    Killed(
        Command::new("python3")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Garbage from `127.0.0.40`: bytes that are neither TLS nor MQTT (sent by python3, since
/// std cannot choose the source address of a connection).
fn garbage(announced: &Value) {
    let port = port(announced);
    let script = format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=5, source_address=('127.0.0.40', 0))\ns.sendall(b'GET / HTTP/1.1 garbage')\ntry:\n    s.recv(100)\nexcept OSError:\n    pass\ns.close()"
    );
    let status = Command::new("python3").args(["-c", &script]).status().unwrap();
    assert!(status.success(), "the garbage client could not connect");
}

fn failed_cases(report: &Value, device: &str) -> BTreeSet<String> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["device"] == device && c["verdict"] == "failed")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_good_stand_in_passes_every_case_and_each_faulty_one_fails_exactly_its_own() {
    python_judges_installed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = scenario(dir.path(), &root().join("fixtures/pi/pi-1.pub"));
    let mut qualify = Killed(
        Command::new(env!("CARGO_BIN_EXE_fleetgate"))
            .args(["qualify", &file, "--out", out.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("qualify.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(qualify.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let announced: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(announced["cases"].as_array().unwrap().len(), 15, "{announced}");
    let mut devices: Vec<Killed> = DEVICES
        .iter()
        .enumerate()
        .map(|(i, (id, faults, _))| stand_in(&announced, id, faults, i + 2, dir.path()))
        .collect();
    devices.push(stand_in(&announced, "pi-stranger", &[], 41, dir.path()));
    garbage(&announced);

    let status = exited(&mut qualify, Duration::from_secs(600), "qualify");
    drop(devices);
    let log = std::fs::read_to_string(dir.path().join("qualify.log")).unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "faulty devices fail the qualification:\n{log}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();

    let mut wrong = BTreeMap::new();
    for (id, _, expected) in DEVICES {
        let failed = failed_cases(&report, id);
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        if failed != expected {
            wrong.insert(*id, (failed, expected));
        }
    }
    let evidence: Vec<&Value> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["devices"].as_array().unwrap())
        .filter(|c| wrong.keys().any(|id| c["device"] == *id || c["id"] == *id))
        .collect();
    assert!(
        wrong.is_empty(),
        "failed vs expected: {wrong:#?}\n{evidence:#?}\n{log}"
    );
    let good: Vec<&Value> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["device"] == "pi-good")
        .collect();
    assert_eq!(good.len(), 15);
    assert!(good.iter().all(|c| c["verdict"] == "passed"), "{good:#?}");

    let absent = |id: &str| -> Vec<&Value> {
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["device"] == id)
            .collect()
    };
    let never = absent("pi-absent");
    assert_eq!(never[0]["verdict"], "failed");
    assert!(
        never[0]["message"].as_str().unwrap().contains("did not connect"),
        "{never:?}"
    );
    assert!(never[1..].iter().all(|c| c["verdict"] == "skipped"), "{never:?}");
    let stranger = absent("pi-stranger");
    assert!(
        stranger[0]["message"]
            .as_str()
            .unwrap()
            .contains("not a [[device]]"),
        "{stranger:?}"
    );
    let peer = absent("peer 127.0.0.40");
    assert_eq!(
        peer.len(),
        1,
        "the garbage peer gets one verdict: {:#}",
        report["cases"]
    );
    assert_eq!(peer[0]["verdict"], "failed");

    let summaries = report["devices"].as_array().unwrap();
    let good_summary = summaries.iter().find(|d| d["id"] == "pi-good").unwrap();
    assert!(
        good_summary["telemetry_acknowledged"].as_u64().unwrap() > 0,
        "{good_summary}"
    );
    assert!(good_summary["tokens"].as_u64().unwrap() > 1, "{good_summary}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("device.connect [pi-good]"), "{junit}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("## Devices"), "{summary}");
    assert!(log.contains("pi-good device.long-outage passed"), "{log}");
}

#[test]
fn a_real_device_joining_a_run_of_virtual_ones_is_reported_device_by_device() {
    python_judges_installed();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let public_key = root().join("fixtures/pi/pi-1.pub");
    let text = format!(
        r#"
[scenario]
name = "mixed"

[project]
id = "demo-project"
region = "us-central1"
registry = "pi-fleet"

[[cohort]]
name = "virtual"
devices = 20
device_id = "v-{{index:02}}"
telemetry = {{ every = "1s" }}

[[device]]
id = "pi-real"
credentials = [{{ format = "ES256_PEM", file = "{}" }}]

[[phase]]
name = "steady"
hold = "12s"
"#,
        public_key.display()
    );
    let file = dir.path().join("mixed.toml");
    std::fs::write(&file, text).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let run = Killed(
        Command::new(env!("CARGO_BIN_EXE_fleetgate"))
            .args([
                "run",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--listen",
                &listen,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ca = out.join("ca.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ca.exists() {
        assert!(Instant::now() < deadline, "the run did not start its bridge");
        std::thread::sleep(Duration::from_millis(100));
    }
    let announced = serde_json::json!({ "bridge": { "mqtt": listen, "ca": ca.to_str().unwrap() } });
    let device = stand_in(&announced, "pi-real", &[], 50, dir.path());
    let mut run = run;
    let status = exited(&mut run, Duration::from_secs(120), "the run");
    drop(device);
    assert_eq!(status.code(), Some(0));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "only the real device is listed: {devices:?}");
    assert_eq!(devices[0]["id"], "pi-real");
    assert!(
        devices[0]["telemetry_acknowledged"].as_u64().unwrap() > 0,
        "{}",
        devices[0]
    );
    assert_eq!(devices[0]["peers"], serde_json::json!(["127.0.0.50"]));
    assert!(
        report["measurements"]["connects.accepted"]["value"]
            .as_f64()
            .unwrap()
            >= 20.0
    );
}
