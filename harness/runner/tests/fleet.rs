//! The virtual fleet against the embedded stack, run as `fleetgate run` runs it: real TLS,
//! real JWTs, real MQTT, the embedded Pub/Sub consumed downstream. Counts are exact; no
//! assertion is about speed.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use fleetgate_report::{ReportData, Verdict};
use fleetgate_runner::{RunEvent, RunOptions, run};
use fleetgate_scenario::{SourceFile, compile};

fn run_scenario(body: &str) -> (ReportData, Vec<RunEvent>, tempfile::TempDir) {
    let text = format!(
        "[scenario]\nname = \"fleet\"\nseed = 3\n[project]\nid = \"fleet-test\"\nregion = \"us-central1\"\nregistry = \"pis\"\n{body}"
    );
    let compiled = compile(&SourceFile::new("fleet.toml", text), &[]);
    let scenario = compiled
        .scenario
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions::new(dir.path().to_path_buf(), dir.path().to_path_buf());
    let mut events = Vec::new();
    let report = run(&scenario, &options, &mut |e| events.push(e.clone())).unwrap();
    (report, events, dir)
}

fn value(report: &ReportData, key: &str) -> f64 {
    report
        .measurements
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", report.measurements.keys().collect::<Vec<_>>()))
        .value
}

#[test]
fn every_acknowledged_message_reaches_pubsub_exactly_once() {
    let (report, events, dir) = run_scenario(
        r#"
[[cohort]]
name = "pis"
devices = 20
device_id = "pi-{index:03}"
telemetry = { every = "200ms", payload_bytes = 120 }
state = { every = "2s" }
[[phase]]
name = "steady"
ramp = "500ms"
hold = "2s"
"#,
    );
    assert_eq!(report.phases[0].verdict, Verdict::Passed, "{:?}", report.phases);
    assert_eq!(value(&report, "connects.accepted"), 20.0);
    let acked = value(&report, "messages.acked");
    assert!(acked >= 20.0 * 8.0, "{acked} acked");
    assert_eq!(value(&report, "messages.sent"), acked);
    assert_eq!(value(&report, "messages.delivered"), acked);
    assert_eq!(value(&report, "messages.lost"), 0.0);
    assert_eq!(value(&report, "messages.duplicated"), 0.0);
    assert_eq!(value(&report, "pipeline.pubsub.count"), acked);
    assert_eq!(value(&report, "publish.puback.count"), acked);
    assert_eq!(value(&report, "pipeline.delivered_ratio"), 1.0);
    assert!(value(&report, "state.updates") >= 10.0);
    assert!(!report.measurements.contains_key("disconnects.rate-limited"));
    assert_eq!(value(&report, "sign.es256.count"), 20.0);
    let metrics = report.metrics.as_ref().unwrap();
    assert!(metrics.histograms.contains_key("publish.puback.actual"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::Progress(p) if p.devices == 20))
    );
    let log = std::fs::read_to_string(dir.path().join("metrics.hlog")).unwrap();
    assert!(log.starts_with("#[Histogram log format version 1.3]"), "{log}");
    assert!(log.contains("Tag=publish.puback,"), "{log}");
}

#[test]
fn tokens_are_refreshed_by_reconnecting_without_losing_a_message() {
    let (report, _, _dir) = run_scenario(
        r#"
[[cohort]]
name = "pis"
devices = 5
device_id = "pi-{index}"
token = { lifetime = "2s", refresh_at = 0.5 }
telemetry = { every = "100ms", payload_bytes = 80, payload = "binary" }
[[phase]]
name = "steady"
hold = "3500ms"
"#,
    );
    assert!(
        value(&report, "token.refreshes") >= 5.0 * 2.0,
        "{:?}",
        report.measurements
    );
    assert_eq!(
        value(&report, "connects.accepted"),
        5.0 + value(&report, "token.refreshes")
    );
    assert_eq!(value(&report, "messages.lost"), 0.0);
    assert_eq!(
        value(&report, "messages.delivered"),
        value(&report, "messages.acked")
    );
}

#[test]
fn refused_connects_back_off_and_the_bridge_reasons_are_counted() {
    let (report, _, _dir) = run_scenario(
        r#"
[[cohort]]
name = "pis"
devices = 3
device_id = "pi-{index}"
backoff = { min = "50ms", max = "100ms" }
telemetry = { every = "100ms" }
[[fault]]
at = "0s"
kind = "refuse-connects"
device = "pi-1"
count = 3
[[phase]]
name = "steady"
hold = "2s"
"#,
    );
    assert_eq!(value(&report, "connects.refused"), 3.0);
    assert_eq!(value(&report, "connack.5"), 3.0);
    assert_eq!(value(&report, "refusals.fault-injected"), 3.0);
    assert_eq!(value(&report, "reconnects"), 1.0, "pi-1 got in on its fourth try");
    assert_eq!(value(&report, "connects.accepted"), 3.0);
    assert_eq!(value(&report, "connects.attempts"), 6.0, "every attempt counted");
    let told = report.phases[0].message.as_deref().unwrap_or_default();
    assert!(
        told.starts_with("6 connect attempts (3 accepted; 3 refused)"),
        "the phase says how the connects went: {told}"
    );
    assert_eq!(value(&report, "messages.lost"), 0.0);
    assert!(
        report.notes.iter().any(|n| n.contains("fault applied")),
        "{:?}",
        report.notes
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n
                .starts_with("devices connected from 16 source addresses in turn (127.0.0.1 … 127.0.0.16")),
        "the embedded bridge is on loopback, so the devices are spread: {:?}",
        report.notes
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("devices ran on") && n.contains("lane(s)")),
        "the report says how many threads the fleet had: {:?}",
        report.notes
    );
}

#[test]
fn the_push_hop_delivers_every_acknowledged_message_to_the_verifier_with_its_latency() {
    let (report, _, _dir) = run_scenario(
        r#"
[push]
service_account = "pusher@fleet-test.iam.gserviceaccount.com"
subscribe = true
[[cohort]]
name = "pis"
devices = 5
device_id = "pi-{index}"
telemetry = { every = "200ms" }
[[phase]]
name = "steady"
hold = "2s"
"#,
    );
    let acked = value(&report, "messages.acked");
    assert!(acked >= 5.0 * 9.0, "{acked}");
    assert_eq!(value(&report, "messages.pushed"), acked);
    assert_eq!(value(&report, "messages.push_lost"), 0.0);
    assert_eq!(value(&report, "pipeline.push.count"), acked);
    assert_eq!(value(&report, "messages.delivered"), acked);
    assert!(!report.measurements.contains_key("push.refused"));
}

#[test]
fn devices_over_the_rate_limit_are_disconnected_and_reconnect_without_losing_an_acknowledged_message() {
    let (report, _, _dir) = run_scenario(
        r#"
[[cohort]]
name = "pis"
devices = 5
device_id = "pi-{index}"
backoff = { min = "50ms", max = "200ms" }
telemetry = { every = "4ms", payload_bytes = 80, payload = "binary" }
[[phase]]
name = "steady"
hold = "2s"
"#,
    );
    assert!(
        value(&report, "disconnects.rate-limited") >= 5.0,
        "{:?}",
        report.measurements
    );
    assert!(value(&report, "connections.lost") >= 5.0);
    assert!(
        value(&report, "messages.publish_failed") > 0.0,
        "unacknowledged publishes were resent"
    );
    assert_eq!(value(&report, "messages.lost"), 0.0);
    assert_eq!(
        value(&report, "messages.delivered"),
        value(&report, "messages.acked")
    );
}
