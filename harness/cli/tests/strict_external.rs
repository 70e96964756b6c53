//! The `mqtt.*` cases against an external bridge: `fleetgate serve` plays a strict IoT-Core
//! bridge in one process, and `fleetgate run` in another sends it raw CONNECTs and packets that
//! break MQTT 3.1.1, judging it by what comes back over the wire alone. The pipeline cases are
//! skipped with the reason, since the scenario does not say where that bridge forwards. With
//! the wrong key registered the bridge refuses everything: the control case fails, the refusal
//! cases are not judged, and the run fails. `[cases.expect]` holds a bridge to a CONNACK code.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
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

/// `fleetgate serve` with device `pi-1` registered with `registered`'s public key; the MQTT port
/// and CA file it announced.
fn serve(dir: &Path, registered: &DeviceKey) -> (Serve, u16, String) {
    std::fs::write(dir.join("pi.pub"), registered.spki_pem()).unwrap();
    let served = dir.join("bridge.toml");
    let bridge = format!(
        "[scenario]\nname = \"strict\"\n{PROJECT}\n[[device]]\nid = \"pi-1\"\ncredentials = [{{ format = \"ES256_PEM\", file = \"pi.pub\" }}]\n"
    );
    std::fs::write(&served, bridge).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["serve", served.to_str().unwrap(), "--out"])
        .arg(dir.join("serve"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serve = Serve(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let announced: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let mqtt: std::net::SocketAddr = announced["bridge"]["mqtt"].as_str().unwrap().parse().unwrap();
    let ca = announced["bridge"]["ca"].as_str().unwrap().to_owned();
    (serve, mqtt.port(), ca)
}

/// Runs `cases` (the `[cases]` table's lines) against the bridge at `port` as `pi-1` signing with
/// `signer`; the exit code, the output, and the report's cases.
fn judge(dir: &Path, port: u16, ca: &str, signer: &DeviceKey, cases: &str) -> (i32, String, Vec<Value>) {
    std::fs::write(dir.join("pi.pem"), signer.pkcs8_pem()).unwrap();
    let scenario = format!(
        "[scenario]\nname = \"judge\"\n\n[target]\nbridge = {{ host = \"localhost\", port = {port}, ca = \"{ca}\", profile = \"google\", devices = [{{ id = \"pi-1\", key = \"pi.pem\" }}] }}\n{PROJECT}\n[cases]\n{cases}\n"
    );
    let file = dir.join("judge.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = common::text(&common::fleetgate(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    (
        code,
        format!("{stdout}{stderr}"),
        report["cases"].as_array().unwrap().clone(),
    )
}

fn key() -> DeviceKey {
    DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap()
}

/// Judges a fresh `serve` with `cases`, signing pi-1's JWTs with the key it registered, or with
/// another when `registered_key` is false.
fn judge_serve(cases: &str, registered_key: bool) -> (i32, String, Vec<Value>) {
    let tmp = tempfile::tempdir().unwrap();
    let registered = key();
    let (_serve, port, ca) = serve(tmp.path(), &registered);
    let signer = if registered_key { registered } else { key() };
    judge(tmp.path(), port, &ca, &signer, cases)
}

#[test]
fn an_external_bridge_is_judged_strict_and_pipeline_cases_are_skipped_with_the_reason() {
    let (code, output, cases) = judge_serve("include = [\"auth.valid\", \"mqtt.*\", \"pipeline.*\"]", true);
    assert_eq!(code, 0, "{output}");
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

#[test]
fn a_bridge_refusing_a_valid_token_gets_no_refusal_case_judged_and_the_run_fails() {
    // The bridge knows pi-1 by another key than the one its JWTs are signed with.
    let (code, output, cases) = judge_serve("include = [\"auth.*\", \"clock.*\", \"mqtt.*\"]", false);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("not judged"), "{output}");
    let valid = cases.iter().find(|c| c["id"] == "auth.valid").unwrap();
    assert_eq!(valid["verdict"], "failed", "{valid:#}");
    let not_judged: Vec<&Value> = cases.iter().filter(|c| c["verdict"] == "not_judged").collect();
    assert!(not_judged.len() > 26, "{cases:#?}");
    for case in &not_judged {
        let message = case["message"].as_str().unwrap();
        assert!(
            message.contains("the bridge refused a valid token too"),
            "{case:#}"
        );
        assert!(case["evidence"]["expected"].is_null(), "not sent: {case:#}");
    }
    assert!(
        cases.iter().all(|c| c["verdict"] != "passed"),
        "no refusal passes, and every accepting case fails: {cases:#?}"
    );
    let exp_before_iat = cases.iter().find(|c| c["id"] == "clock.exp-before-iat").unwrap();
    assert_eq!(exp_before_iat["verdict"], "not_judged", "{exp_before_iat:#}");
}

#[test]
fn cases_expect_holds_a_bridge_to_a_named_connack_code() {
    let (code, output, cases) = judge_serve(
        "include = [\"auth.valid\", \"auth.alg-none\", \"auth.aud-mismatch\", \"mqtt.connect-reserved-flag\"]\n[cases.expect]\n\"auth.alg-none\" = { connack = 5 }\n\"auth.aud-mismatch\" = { connack = 4 }\n\"mqtt.connect-reserved-flag\" = { connack = 5 }",
        true,
    );
    assert_eq!(code, 1, "{output}");
    let verdict = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap();
    assert_eq!(verdict("auth.alg-none")["verdict"], "passed");
    assert_eq!(
        verdict("auth.alg-none")["evidence"]["expected"],
        "refuse, CONNACK 5 ([cases.expect]), `alg-none`"
    );
    let aud = verdict("auth.aud-mismatch");
    assert_eq!(aud["verdict"], "failed", "{aud:#}");
    assert_eq!(
        aud["message"], "refused with CONNACK 5, expected CONNACK 4",
        "{aud:#}"
    );
    let closed = verdict("mqtt.connect-reserved-flag");
    assert_eq!(closed["verdict"], "failed", "{closed:#}");
    assert!(
        closed["message"]
            .as_str()
            .unwrap()
            .starts_with("refused without a CONNACK, expected CONNACK 5"),
        "{closed:#}"
    );
}
