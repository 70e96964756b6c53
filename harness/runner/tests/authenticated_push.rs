//! Authenticated push from the embedded emulator with tokens minted by the identity crate's
//! Google mock, received by a real HTTP endpoint that verifies each token against the mock's
//! published keys (as a push endpoint checks Google's JWKS): `aud` = the endpoint URL, `email` =
//! the push service account, signed by the active `kid`, also after a key rotation.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use fleetgate_identity::google::GoogleIdentity;
use fleetgate_identity::google::verify::{PushExpectations, verify_push_token};
use gcloud_googleapis::pubsub::v1::PubsubMessage;
use tokio::sync::mpsc;

use common::SERVICE_ACCOUNT;

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

#[derive(Clone)]
struct Verifier {
    google: Arc<RwLock<GoogleIdentity>>,
    audience: String,
    seen: mpsc::UnboundedSender<Result<(String, String), String>>,
}

/// Acks (204) a push whose token verifies, and refuses (401) any other.
async fn push(State(v): State<Verifier>, headers: HeaderMap) -> StatusCode {
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let keys = v.google.read().unwrap().public_keys();
    let expect = PushExpectations {
        audience: v.audience.clone(),
        email: SERVICE_ACCOUNT.into(),
        skew_secs: 0,
    };
    let kid = token
        .and_then(fleetgate_identity::jwt::PresentedClaims::of)
        .and_then(|c| c.kid)
        .unwrap_or_default();
    let verdict = match token {
        Some(token) => verify_push_token(token, &keys, &expect, now())
            .map(|c| (kid, c.email))
            .map_err(|e| e.to_string()),
        None => Err("no bearer token".into()),
    };
    let status = if verdict.is_ok() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    };
    v.seen.send(verdict).unwrap();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_carry_google_mock_tokens_that_verify_against_its_published_keys() {
    let google = Arc::new(RwLock::new(GoogleIdentity::generate(now()).unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    let (seen, mut verdicts) = mpsc::unbounded_channel();
    let verifier = Verifier {
        google: Arc::clone(&google),
        audience: url.clone(),
        seen,
    };
    let app = axum::Router::new()
        .route("/push", axum::routing::post(push))
        .with_state(verifier);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let handle = common::pushing_emulator(&google, &url).await;
    let emulator = handle.emulator();
    let topic = common::TOPIC;

    let message = |data: &str| PubsubMessage {
        data: data.as_bytes().to_vec(),
        attributes: HashMap::new(),
        ..PubsubMessage::default()
    };
    emulator.publish(topic, vec![message("first")]).unwrap();
    let (first_kid, email) = verdicts.recv().await.unwrap().unwrap();
    assert_eq!(email, SERVICE_ACCOUNT);
    assert_eq!(first_kid, google.read().unwrap().active().kid());

    let rotated = google.write().unwrap().rotate(now()).unwrap().to_owned();
    emulator.publish(topic, vec![message("second")]).unwrap();
    let (second_kid, _) = verdicts.recv().await.unwrap().unwrap();
    assert_eq!(second_kid, rotated, "signed with the new key after rotation");
    assert_ne!(first_kid, second_kid);
    let _ = handle.shutdown().await;
}
