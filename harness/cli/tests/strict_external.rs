//! The `mqtt.*` cases against an external bridge: `fleetgate serve` plays a strict IoT-Core
//! bridge in one process, and `fleetgate run` in another sends it raw CONNECTs and packets that
//! break MQTT 3.1.1, judging it by what comes back over the wire alone. The pipeline cases are
//! skipped with the reason, since the scenario does not say where that bridge forwards.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use serde_json::Value;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PROJECT: &str = r#"
[project]
id = "demo-project"
region = "us-central1"
registry = "pi-fleet"
"#;

#[test]
fn an_external_bridge_is_judged_strict_and_pipeline_cases_are_skipped_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    std::fs::write(tmp.path().join("pi.pub"), key.spki_pem()).unwrap();
    std::fs::write(tmp.path().join("pi.pem"), key.pkcs8_pem()).unwrap();
    let served = tmp.path().join("bridge.toml");
    let bridge = format!(
        "[scenario]\nname = \"strict\"\n{PROJECT}\n[[device]]\nid = \"pi-1\"\ncredentials = [{{ format = \"ES256_PEM\", file = \"pi.pub\" }}]\n"
    );
    std::fs::write(&served, bridge).unwrap();
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
    let scenario = format!(
        "[scenario]\nname = \"judge\"\n\n[target]\nbridge = {{ host = \"localhost\", port = {}, ca = \"{ca}\", profile = \"google\", devices = [{{ id = \"pi-1\", key = \"pi.pem\" }}] }}\n{PROJECT}\n[cases]\ninclude = [\"auth.valid\", \"mqtt.*\", \"pipeline.*\"]\n",
        mqtt.port()
    );
    let file = tmp.path().join("judge.toml");
    std::fs::write(&file, scenario).unwrap();
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
    let cases = report["cases"].as_array().unwrap();
    let mqtt: Vec<&Value> = cases
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("mqtt."))
        .collect();
    assert_eq!(mqtt.len(), 11);
    for case in mqtt.iter().chain(
        cases
            .iter()
            .filter(|c| c["id"] == "auth.valid")
            .collect::<Vec<_>>()
            .iter(),
    ) {
        assert_eq!(case["verdict"], "passed", "{case:#}");
    }
    let level = cases.iter().find(|c| c["id"] == "mqtt.mqtt5-client").unwrap();
    assert_eq!(level["evidence"]["connack"], "1", "{level:#}");
    for case in cases
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("pipeline."))
    {
        assert_eq!(case["verdict"], "skipped", "{case:#}");
    }
    let attributes = cases.iter().find(|c| c["id"] == "pipeline.attributes").unwrap();
    assert!(
        attributes["message"]
            .as_str()
            .unwrap()
            .contains("[target] pubsub"),
        "{attributes:#}"
    );
}
