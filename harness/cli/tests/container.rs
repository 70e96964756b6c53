//! `pubsub = "container"`: with a Docker daemon, Google's emulator is started in a container,
//! the fleet's telemetry flows through it and every message is delivered; without one the run
//! exits 3 saying so, with every report written (outcome `error`), and the container run is
//! skipped with that reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

const SCENARIO: &str = "[scenario]\nname = \"container\"\n[target]\npubsub = \"container\"\n[[cohort]]\nname = \"pis\"\ndevices = 3\ndevice_id = \"pi-{index}\"\ntelemetry = { every = \"200ms\" }\n[[phase]]\nname = \"steady\"\nhold = \"3s\"\n";

/// Whether a Docker daemon may answer: `DOCKER_HOST` names one, or the default socket accepts.
fn docker() -> bool {
    std::env::var_os("DOCKER_HOST").is_some()
        || std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
}

#[test]
fn the_emulator_runs_in_a_container_or_the_run_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("container.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.path().join("out");
    let output = common::fleetgate(&["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let (code, _, stderr) = common::text(&output);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    if docker() {
        assert_eq!(code, 0, "{stderr}");
        let value = |key: &str| report["measurements"][key]["value"].as_f64().unwrap();
        assert!(value("messages.acked") > 0.0);
        assert_eq!(value("messages.delivered"), value("messages.acked"), "{stderr}");
        assert_eq!(value("messages.lost"), 0.0);
        return;
    }
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("needs a Docker daemon"), "{stderr}");
    assert!(
        stderr.contains("pubsub = { emulator"),
        "says what to do instead: {stderr}"
    );
    assert_eq!(report["outcome"], "error");
    assert!(report["error"].as_str().unwrap().contains("Docker daemon"));
    for name in ["junit.xml", "summary.md", "report.html"] {
        assert!(out.join(name).exists(), "{name} written");
    }
    eprintln!(
        "skipped the container run: no Docker daemon here (DOCKER_HOST unset, /var/run/docker.sock does not answer); checked the exit 3 instead"
    );
}
