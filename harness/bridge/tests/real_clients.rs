//! The bridge judged by clients fleetgate did not write: Debian's `mosquitto_pub` and
//! `mosquitto_sub` over TLS with a JWT password, and a paho-mqtt + PyJWT client written like the
//! seed guide (RS256 key file, `RSA_X509_PEM` credential). `.ci/run` installs both; a missing
//! tool fails the test with a message saying how to install it.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use bytes::Bytes;
use fleetgate_identity::certs::{CertOptions, certificate};
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use tokio::process::Command;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

async fn run(program: &str, args: &[&str], install: &str) -> Output {
    let mut command = Command::new(program);
    command.args(args).kill_on_drop(true);
    match command.output().await {
        Ok(output) => output,
        Err(e) => panic!("cannot run {program} ({e}): install {install} (.ci/run does)"),
    }
}

async fn bounded(program: &str, args: &[&str], install: &str) -> Output {
    tokio::time::timeout(CLIENT_TIMEOUT, run(program, args, install))
        .await
        .unwrap_or_else(|_| panic!("{program} did not finish in time"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_ca(h: &common::Harness, dir: &Path) -> String {
    let path = dir.join("ca.pem");
    std::fs::write(&path, &h.ca_pem).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn mosquitto_clients_publish_receive_config_and_are_refused_with_connack_5() {
    let h = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(&h, dir.path());
    let port = h.bridge.local_addr().port().to_string();
    let id = common::client_id("pi-1");
    let jwt = h.token("pi-1");
    let base = [
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "-i",
        &id,
        "-u",
        "unused",
        "-V",
        "mqttv311",
        "-q",
        "1",
    ];

    let mut args = base.to_vec();
    args.extend(["-P", &jwt, "-t", "/devices/pi-1/events", "-m", "from mosquitto"]);
    let output = bounded("mosquitto_pub", &args, "Debian's mosquitto-clients").await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stored = h.pubsub.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, Bytes::from_static(b"from mosquitto"));

    let mut args = base.to_vec();
    args.extend(["-P", &jwt, "-t", "/devices/pi-1/config", "-C", "1"]);
    let output = bounded("mosquitto_sub", &args, "Debian's mosquitto-clients").await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim_end(), "{\"led\":true}");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let wrong_aud = mint(
        &h.keys["pi-1"],
        &DeviceClaims::new("other-project", i64::try_from(now).unwrap(), 3600),
    )
    .unwrap();
    let mut args = base.to_vec();
    args.extend(["-P", &wrong_aud, "-t", "/devices/pi-1/events", "-m", "x"]);
    let output = bounded("mosquitto_pub", &args, "Debian's mosquitto-clients").await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("not authorised"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        h.pubsub.0.lock().unwrap().len(),
        1,
        "the refused client published nothing"
    );
}

/// Registers `pi-rsa` with an `RSA_X509_PEM` certificate, as the seed guide's `openssl req -x509`
/// does, and writes its private key where the Python client reads it.
fn register_seed_device(h: &common::Harness, dir: &Path) -> String {
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Rs256)).unwrap();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let pem = certificate(&key, &CertOptions::valid_around(now, 30), None).unwrap();
    let credential = Credential {
        format: CredentialFormat::RsaX509Pem,
        pem,
        expiration: None,
    };
    h.store.create("pi-rsa", vec![credential], false, now).unwrap();
    h.store
        .set_config("pi-rsa", Bytes::from_static(b"{\"fan\":\"on\"}"), None)
        .unwrap();
    let path = dir.join("rsa_private.pem");
    std::fs::write(&path, key.traditional_pem().unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn seed_client(h: &common::Harness, ca: &str, key_file: &str, audience: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/seed_client.py");
    let port = h.bridge.local_addr().port().to_string();
    let args = [
        script.to_str().unwrap(),
        "localhost",
        &port,
        ca,
        "demo-project",
        "us-central1",
        "pi-fleet",
        "pi-rsa",
        key_file,
        "RS256",
        audience,
    ];
    let output = bounded(
        "python3",
        &args,
        "paho-mqtt and pyjwt (pip install -r .ci/requirements.txt)",
    )
    .await;
    assert!(
        output.status.success(),
        "the seed-guide client failed (paho-mqtt and PyJWT come from `pip install -r .ci/requirements.txt`): {}",
        text(&output.stderr)
    );
    serde_json::from_str(text(&output.stdout).trim()).unwrap()
}

#[tokio::test]
async fn a_seed_guide_client_publishes_gets_its_config_and_a_wrong_aud_gets_connack_5() {
    let h = common::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(&h, dir.path());
    let key_file = register_seed_device(&h, dir.path());

    let ok = seed_client(&h, &ca, &key_file, "demo-project").await;
    assert_eq!(ok["connack"], 0, "{ok}");
    assert_eq!(ok["published"], true, "{ok}");
    assert_eq!(ok["config"], "{\"fan\":\"on\"}", "{ok}");
    let stored = h.pubsub.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].attributes["deviceId"], "pi-rsa");
    assert_eq!(stored[0].data, Bytes::from_static(b"{\"temperature\": 21.5}"));

    let refused = seed_client(&h, &ca, &key_file, "wrong-project").await;
    assert_eq!(refused["connack"], 5, "{refused}");
}
