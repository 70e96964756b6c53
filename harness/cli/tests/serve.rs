//! `fleetgate serve` as a user runs it: the JSON line names every address and path; a device
//! of a cohort (with the key serve generated) and a `[[device]]` (with its own key file) connect
//! over TLS with real JWTs, their telemetry is pulled back from the emulator over REST, and
//! Ctrl-C (SIGINT) stops serve with exit 0. A `[[device]]` with an unusable key file is refused
//! with exit 2, naming the device and file.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde_json::{Value, json};
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

fn scenario(dir: &Path) -> String {
    let text = r#"
[scenario]
name = "serve-test"

[project]
id = "demo-project"
region = "us-central1"
registry = "pi-fleet"

[[cohort]]
name = "pis"
devices = 2
device_id = "pi-{index:02}"
key = { alg = "ES256", format = "ES256_PEM" }

[[device]]
id = "real-pi"
credentials = [{ format = "ES256_PEM", file = "real-pi.pub" }]
"#;
    let path = dir.join("serve.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn start(file: &str, out: &Path) -> (Serve, Value) {
    let child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["serve", file, "--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serve = Serve(child);
    let mut line = String::new();
    BufReader::new(serve.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        serve,
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")),
    )
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

async fn publish(announced: &Value, device: &str, key: &DeviceKey, payload: &str) {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mqtt: std::net::SocketAddr = announced["bridge"]["mqtt"].as_str().unwrap().parse().unwrap();
    let id = format!("{}{device}", announced["client_id_prefix"].as_str().unwrap());
    let mut options = MqttOptions::new(id, "localhost", mqtt.port());
    let jwt = mint(key, &DeviceClaims::new("demo-project", now(), 3600)).unwrap();
    options
        .set_credentials("unused", jwt)
        .set_keep_alive(Duration::from_secs(60));
    let ca = std::fs::read(announced["bridge"]["ca"].as_str().unwrap()).unwrap();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(&ca).unwrap()).unwrap();
    let tls = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(
        tls,
    ))));
    let (client, mut events) = AsyncClient::new(options, 8);
    client
        .publish(
            format!("/devices/{device}/events"),
            QoS::AtLeastOnce,
            false,
            payload.as_bytes().to_vec(),
        )
        .await
        .unwrap();
    loop {
        if let Event::Incoming(Packet::PubAck(_)) = events.poll().await.unwrap() {
            return;
        }
    }
}

async fn pulled(announced: &Value) -> Vec<(String, String)> {
    let emulator = announced["pubsub"]["emulator"].as_str().unwrap();
    let subscription = announced["pubsub"]["subscriptions"][0].as_str().unwrap();
    let url = format!("http://{emulator}/v1/{subscription}:pull");
    let body: Value = reqwest::Client::new()
        .post(url)
        .json(&json!({ "maxMessages": 10, "returnImmediately": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut messages: Vec<(String, String)> = body["receivedMessages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let attributes = &m["message"]["attributes"];
            (
                attributes["deviceId"].as_str().unwrap().to_owned(),
                m["message"]["data"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    messages.sort();
    messages
}

#[tokio::test]
async fn serve_registers_cohorts_and_external_devices_and_stops_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let real_pi = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    std::fs::write(tmp.path().join("real-pi.pub"), real_pi.spki_pem()).unwrap();
    let out = tmp.path().join("out");
    let (mut serve, announced) = start(&scenario(tmp.path()), &out);
    assert_eq!(announced["cohorts"][0]["devices"], 2);
    assert_eq!(announced["devices"], json!(["real-pi"]));
    assert!(out.join("ca.pem").exists());
    admin_api_needs_the_announced_key(&announced).await;

    let generated = Path::new(announced["cohorts"][0]["private_keys"].as_str().unwrap()).join("00001.pem");
    let cohort_key = DeviceKey::load(&generated).unwrap();
    publish(&announced, "pi-01", &cohort_key, "from the cohort").await;
    publish(&announced, "real-pi", &real_pi, "from a real pi").await;
    let messages = pulled(&announced).await;
    assert_eq!(
        messages,
        [
            ("pi-01".to_owned(), "ZnJvbSB0aGUgY29ob3J0".to_owned()),
            ("real-pi".to_owned(), "ZnJvbSBhIHJlYWwgcGk=".to_owned()),
        ]
    );

    let pid = serve.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || serve.0.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let devices = report["devices"].as_array().unwrap();
    let ids: Vec<&str> = devices.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["pi-01", "real-pi"],
        "every device that connected is reported"
    );
    for device in devices {
        assert_eq!(device["connects_accepted"], 1, "{device}");
        assert_eq!(device["telemetry_published"], 1, "{device}");
        assert_eq!(device["telemetry_acknowledged"], 1, "{device}");
        assert_eq!(device["delivered_to_pubsub"], 1, "{device}");
        assert_eq!(device["keep_alive_s"], 60, "{device}");
    }
    assert!(out.join("summary.md").exists() && out.join("junit.xml").exists());
}

#[tokio::test]
async fn a_kept_ca_is_reused_by_the_next_serve_and_its_devices_still_verify_the_bridge() {
    let tmp = tempfile::tempdir().unwrap();
    let real_pi = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    std::fs::write(tmp.path().join("real-pi.pub"), real_pi.spki_pem()).unwrap();
    let file = scenario(tmp.path());
    let kept = tmp.path().join("ca");
    let serve_with_kept_ca = |out: &str| {
        let child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
            .args(["serve", &file, "--out", out, "--ca-dir", kept.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut serve = Serve(child);
        let mut line = String::new();
        BufReader::new(serve.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (serve, serde_json::from_str::<Value>(&line).unwrap())
    };
    let first_out = tmp.path().join("first");
    let (first, _) = serve_with_kept_ca(first_out.to_str().unwrap());
    drop(first);
    let ca = std::fs::read_to_string(kept.join("ca.pem")).unwrap();
    assert!(kept.join("ca.key").exists());
    let second_out = tmp.path().join("second");
    let (_second, mut announced) = serve_with_kept_ca(second_out.to_str().unwrap());
    assert_eq!(std::fs::read_to_string(second_out.join("ca.pem")).unwrap(), ca);
    announced["bridge"]["ca"] = json!(kept.join("ca.pem").to_str().unwrap());
    publish(&announced, "real-pi", &real_pi, "trusted with the kept CA").await;
    assert_eq!(pulled(&announced).await.len(), 1);
}

#[test]
fn an_unusable_device_key_file_is_refused_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    std::fs::write(tmp.path().join("real-pi.pub"), key.pkcs8_pem()).unwrap();
    let file = scenario(tmp.path());
    let out = tmp.path().join("out");
    let (code, _, stderr) = common::text(&common::fleetgate(&[
        "serve",
        &file,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("device `real-pi`") && stderr.contains("private key"),
        "{stderr}"
    );
}

#[test]
fn with_a_registry_ca_bare_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    std::fs::write(tmp.path().join("real-pi.pub"), key.spki_pem()).unwrap();
    let ca_key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    let ca = fleetgate_identity::certs::certificate(
        &ca_key,
        &fleetgate_identity::certs::CertOptions::valid_around(now(), 30),
        None,
    )
    .unwrap();
    std::fs::write(tmp.path().join("registry-ca.pem"), ca).unwrap();
    let file = scenario(tmp.path());
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "registry = \"pi-fleet\"",
        "registry = \"pi-fleet\"\nregistry_cas = [\"registry-ca.pem\"]",
    );
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    let (code, _, stderr) = common::text(&common::fleetgate(&[
        "serve",
        &file,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("device `pi-00`") || stderr.contains("real-pi"),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
}

/// The admin key is in the JSON line and in `<out>/admin-key` (mode 0600); without it, 401.
async fn admin_api_needs_the_announced_key(announced: &Value) {
    use std::os::unix::fs::PermissionsExt as _;
    let key = announced["bridge"]["admin_key"].as_str().unwrap();
    let file = announced["bridge"]["admin_key_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(file).unwrap(), key);
    assert_eq!(
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let devices = format!("{}/devices", announced["bridge"]["admin"].as_str().unwrap());
    let client = reqwest::Client::new();
    let refused = client.get(&devices).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let allowed = client.get(&devices).bearer_auth(key).send().await.unwrap();
    assert_eq!(allowed.status(), 200);
}
