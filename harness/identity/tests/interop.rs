//! Interop with an independent implementation, PyJWT + cryptography (from .ci/requirements.txt):
//! tokens minted here verify there, tokens minted there the way the seed guide does pass the
//! bridge rules, and a DER ES256 signature from cryptography is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::io::Write as _;
use std::process::{Command, Stdio};

use fleetgate_identity::credentials::{
    Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::google::{GoogleIdentity, PushClaims};
use fleetgate_identity::jwt::mutations::{MutationContext, TokenMutation};
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::rules::{BridgeSettings, Refusal, check};
use fleetgate_identity::{DeviceKey, KeySpec};
use serde_json::{Value, json};

const NOW: i64 = 1_750_000_000;
const PROJECT: &str = "demo-project";

/// Runs the Python judge on `tasks` and returns its answers, one per task.
fn python(tasks: &[Value]) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (pyjwt and cryptography come from .ci/requirements.txt)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::from(tasks.to_vec()).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "interop.py failed (PyJWT and cryptography come from `pip install -r .ci/requirements.txt`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn register(key: &DeviceKey) -> RegisteredCredential {
    let credential = Credential {
        format: CredentialFormat::of(key.alg(), false),
        pem: key.spki_pem(),
        expiration: None,
    };
    let policy = RegistrationPolicy {
        now: NOW,
        min_rsa_bits: 2048,
        registry_cas: vec![],
    };
    RegisteredCredential::register(&credential, "interop", &policy).unwrap()
}

#[test]
fn tokens_minted_here_verify_with_pyjwt_and_mutations_do_not() {
    let mut tasks = Vec::new();
    let mut expect_ok = Vec::new();
    for spec in [KeySpec::RSA_2048, KeySpec::Rsa(3072), KeySpec::P256] {
        let key = DeviceKey::generate(spec).unwrap();
        let other_key = DeviceKey::generate(spec).unwrap();
        let ctx = MutationContext {
            key: &key,
            other_key: &other_key,
            audience: PROJECT,
            now: NOW,
            skew_secs: 600,
        };
        let mut verify = |token: String, ok: bool| {
            tasks.push(json!({"task": "verify", "token": token, "public_pem": key.spki_pem(), "alg": key.alg().as_str(), "aud": PROJECT}));
            expect_ok.push(ok);
        };
        verify(mint(&key, &DeviceClaims::new(PROJECT, NOW, 3600)).unwrap(), true);
        let mut extra = DeviceClaims::new(PROJECT, NOW, 1200);
        extra.extra.insert("sub".into(), json!("pi-1"));
        verify(mint(&key, &extra).unwrap(), true);
        for m in [
            TokenMutation::OtherDeviceKey,
            TokenMutation::TamperedPayload,
            TokenMutation::WrongAud,
            TokenMutation::AlgNone,
        ] {
            verify(m.build(&ctx).unwrap(), false);
        }
        if spec == KeySpec::P256 {
            verify(TokenMutation::Es256Der.build(&ctx).unwrap(), false);
        }
    }
    let answers = python(&tasks);
    for ((task, answer), ok) in tasks.iter().zip(&answers).zip(expect_ok) {
        assert_eq!(answer["ok"], ok, "{answer} for {}", task["token"]);
        if ok {
            assert_eq!(
                (answer["claims"]["aud"].as_str(), answer["claims"]["iat"].as_i64()),
                (Some(PROJECT), Some(NOW))
            );
        }
    }
}

#[test]
fn push_tokens_verify_with_pyjwt_through_the_jwks_document() {
    let mut google = GoogleIdentity::generate(NOW).unwrap();
    let aud = "https://push.example.test/push";
    let old = google
        .push_token(&PushClaims::new(aud, "sa@p.iam.gserviceaccount.com", NOW))
        .unwrap();
    google.rotate(NOW).unwrap();
    let new = google
        .push_token(&PushClaims::new(aud, "sa@p.iam.gserviceaccount.com", NOW))
        .unwrap();
    let task = |token: &str, aud: &str| json!({"task": "verify", "token": token, "jwks": google.jwks(), "alg": "RS256", "aud": aud});
    let answers = python(&[
        task(&old, aud),
        task(&new, aud),
        task(&new, "https://push.example.test/other"),
    ]);
    assert_eq!(answers[0]["ok"], true, "{}", answers[0]);
    assert_eq!(answers[1]["claims"]["email"], "sa@p.iam.gserviceaccount.com");
    assert_eq!(answers[2]["error"], "InvalidAudienceError");
}

#[test]
fn seed_guide_tokens_from_pyjwt_pass_the_bridge_rules_and_der_signatures_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = DeviceKey::generate(KeySpec::RSA_2048).unwrap();
    let ec = DeviceKey::generate(KeySpec::P256).unwrap();
    let mut files = Vec::new();
    for (name, key) in [("rsa", &rsa), ("ec", &ec)] {
        for (form, pem) in [
            ("pkcs8", key.pkcs8_pem()),
            ("traditional", key.traditional_pem().unwrap()),
        ] {
            let path = dir.path().join(format!("{name}_{form}.pem"));
            std::fs::write(&path, pem).unwrap();
            files.push((key, path));
        }
    }
    let mut tasks: Vec<Value> = files
        .iter()
        .map(|(key, path)| json!({"task": "mint", "project": PROJECT, "private_key_file": path, "alg": key.alg().as_str(), "now": NOW}))
        .collect();
    tasks.push(json!({"task": "mint_der", "project": PROJECT, "private_key_file": files[2].1, "now": NOW}));
    let answers = python(&tasks);
    for settings in [BridgeSettings::google(), BridgeSettings::clearblade()] {
        for ((key, path), answer) in files.iter().zip(&answers) {
            let token = answer["token"].as_str().unwrap();
            let verdict = check(token, PROJECT, &[register(key)], &settings, NOW + 5);
            assert_eq!(
                verdict.result.map(|a| a.exp),
                Ok(NOW + 3600),
                "{}",
                path.display()
            );
        }
        let der = answers[4]["token"].as_str().unwrap();
        let verdict = check(der, PROJECT, &[register(&ec)], &settings, NOW);
        assert_eq!(verdict.result, Err(Refusal::Es256SignatureForm));
    }
}
