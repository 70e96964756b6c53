//! `scenarios/mixed-fleet.toml` against an external bridge: one `fleetgate serve` process plays
//! a real IoT-Core bridge with the cohorts' key pools registered (as a user registers them on
//! theirs), and `fleetgate run` in another process drives the same scenario at it, judging each
//! cohort by the CONNACK codes alone (an external bridge tells no reasons). The credential-fault
//! cohort is left out (fleetgate registers malformed credentials only on its own bridge), and so
//! is the drifting clock (it needs a long run).

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const SCENARIO: &str = include_str!("../../../scenarios/mixed-fleet.toml");

/// The scenario scaled to 10 good devices and 3 per other cohort, a 4 s hold, without the
/// `pkcs1-key` and `clock-drift` cohorts and the gates; `target` replaces its `[target]` lines.
fn scaled(target: &str) -> String {
    let mut text = String::new();
    let mut skipping = false;
    for line in SCENARIO.lines() {
        if line.starts_with('[') {
            skipping = line == "[gates]";
        }
        if line == "name = \"pkcs1-key\"" || line == "name = \"clock-drift\"" {
            skipping = true;
            text.truncate(text.trim_end().strip_suffix("[[cohort]]").unwrap().len());
            continue;
        }
        if skipping {
            continue;
        }
        let line = match line {
            "devices = 4000" => "devices = 10".to_owned(),
            l if l.starts_with("devices = ") => "devices = 3".to_owned(),
            "ramp = \"10s\"" => "ramp = \"1s\"".to_owned(),
            "hold = \"30s\"" => "hold = \"4s\"".to_owned(),
            "bridge = \"embedded\"" => target.to_owned(),
            l => l.to_owned(),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_cohort_is_judged_by_its_connack_codes_on_an_external_bridge() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("bridge.toml");
    std::fs::write(&served, scaled("bridge = \"embedded\"")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["serve", served.to_str().unwrap(), "--out"])
        .arg(tmp.path().join("serve"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _serve = Serve(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let announced: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let mqtt: std::net::SocketAddr = announced["bridge"]["mqtt"].as_str().unwrap().parse().unwrap();
    let ca = announced["bridge"]["ca"].as_str().unwrap();
    let target = format!(
        "bridge = {{ host = \"localhost\", port = {}, ca = \"{ca}\", profile = \"google\" }}",
        mqtt.port()
    );
    let file = tmp.path().join("fleet.toml");
    std::fs::write(&file, scaled(&target)).unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = common::text(&common::fleetgate(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let cohorts = report["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 8, "{cohorts:#?}");
    for cohort in cohorts {
        let name = cohort["name"].as_str().unwrap();
        assert_eq!(cohort["verdict"], "passed", "{cohort:#}");
        assert_eq!(
            cohort["refused_by_reason"],
            serde_json::json!({}),
            "{name}: no reasons from outside"
        );
        let refused = cohort["refused_by_connack"].as_object().unwrap();
        match name {
            "good" => assert!(refused.is_empty() && cohort["accepted"].as_u64() >= Some(10)),
            "wrong-aud" => assert!(refused.contains_key("5") && cohort["accepted"].as_u64() >= Some(2)),
            _ => {
                assert_eq!(cohort["accepted"], 0, "{name}");
                assert_eq!(refused.keys().collect::<Vec<_>>(), ["5"], "{name}");
            }
        }
    }
}
