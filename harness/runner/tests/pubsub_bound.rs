//! `[target] pubsub_max_stored`: a fleet run on the embedded stack reports the most bytes the
//! embedded Pub/Sub held at once as `pubsub.stored_bytes.peak`, within the bound it was given.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use fleetgate_report::Verdict;
use fleetgate_runner::{RunOptions, run};
use fleetgate_scenario::{SourceFile, compile};

#[test]
fn the_report_carries_the_peak_of_stored_bytes_within_the_bound() {
    let text = r#"
[scenario]
name = "bounded"
seed = 5
[target]
pubsub_max_stored = "4MiB"
[project]
id = "bounded-test"
[[cohort]]
name = "pis"
devices = 5
device_id = "pi-{index:03}"
telemetry = { every = "100ms", payload_bytes = 200 }
[[phase]]
name = "steady"
ramp = "200ms"
hold = "1s"
"#;
    let compiled = compile(&SourceFile::new("bounded.toml", text), &[]);
    let scenario = compiled
        .scenario
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
    assert_eq!(scenario.target.pubsub_max_stored, 4 << 20);
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        baseline: None,
        out_dir: dir.path().to_path_buf(),
        scenario_dir: dir.path().to_path_buf(),
        key_progress: Arc::new(|_, _, _| {}),
        safety: Default::default(),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        server_names: Vec::new(),
        ca_dir: None,
        stop: Default::default(),
    };
    let report = run(&scenario, &options, &mut |_| {}).unwrap();
    assert_eq!(report.phases[0].verdict, Verdict::Passed, "{:?}", report.phases);
    let acked = report.measurements["messages.acked"].value;
    assert!(acked > 0.0, "the fleet published");
    let peak = report.measurements["pubsub.stored_bytes.peak"].value;
    assert!(peak >= 200.0, "at least one 200-byte message was held: {peak}");
    assert!(peak <= f64::from(4u32 << 20), "never beyond the bound: {peak}");
}
