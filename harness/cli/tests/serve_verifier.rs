//! `fleetgate serve FILE --verifier-only` as a user runs it: one JSON line with the verifier's
//! URL, audience and service account and the Google mock's URLs (the JWKS it names is served and
//! the OpenID configuration points at it); every push gets a verdict line on stderr; Ctrl-C
//! (SIGINT) stops it with exit 0. A scenario whose push endpoint is external is refused (exit 2).

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::io::{BufRead, BufReader, Lines};
use std::process::{ChildStderr, Command, Stdio};

use serde_json::{Value, json};

const SCENARIO: &str = r#"
[scenario]
name = "verifier"
[project]
id = "demo-project"
[push]
service_account = "pusher@demo-project.iam.gserviceaccount.com"
"#;

/// The next stderr line containing `needle`.
fn line_with(lines: &mut Lines<BufReader<ChildStderr>>, needle: &str) -> String {
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains(needle) {
            return line;
        }
    }
    panic!("stderr ended without a line containing {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_alone_announces_itself_judges_pushes_and_stops_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("verifier.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["serve", file.to_str().unwrap(), "--verifier-only"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let announced: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let push = &announced["push"];
    let endpoint = push["endpoint"].as_str().unwrap().to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:") && endpoint.ends_with("/push"));
    assert_eq!(push["embedded"], true);
    assert_eq!(
        push["audience"],
        endpoint.as_str(),
        "Pub/Sub's default audience: the URL"
    );
    assert_eq!(
        push["service_account"],
        "pusher@demo-project.iam.gserviceaccount.com"
    );

    let client = reqwest::Client::new();
    let get = |url: &str| {
        let request = client.get(url.to_owned());
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let jwks = get(push["google"]["jwks"].as_str().unwrap()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    let openid = get(push["google"]["openid_configuration"].as_str().unwrap()).await;
    assert_eq!(openid["jwks_uri"], push["google"]["jwks"]);
    let certs = get(push["google"]["pem_certs"].as_str().unwrap()).await;
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    assert!(
        certs[kid]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let body =
        json!({"message": {"data": "aGk=", "messageId": "77"}, "subscription": "projects/p/subscriptions/s"});
    let response = client.post(&endpoint).json(&body).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let (logged, mut stderr) = tokio::task::spawn_blocking(move || {
        let logged = line_with(&mut stderr, "push 77");
        (logged, stderr)
    })
    .await
    .unwrap();
    assert_eq!(logged, "push 77 (wrapped): refused, no-authorization, 401");
    let response = client
        .post(&endpoint)
        .header("authorization", "Bearer not-a-jwt")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let logged = tokio::task::spawn_blocking(move || line_with(&mut stderr, "push 77"))
        .await
        .unwrap();
    assert_eq!(logged, "push 77 (wrapped): refused, malformed-token, 401");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn verifier_only_with_an_external_push_endpoint_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("external.toml");
    let text = format!("{SCENARIO}[target]\npush_endpoint = {{ url = \"http://127.0.0.1:9/push\" }}\n");
    std::fs::write(&file, text).unwrap();
    let (code, stdout, stderr) = common::text(&common::fleetgate(&[
        "serve",
        file.to_str().unwrap(),
        "--verifier-only",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("--verifier-only serves the embedded reference verifier"),
        "{stderr}"
    );
}
