//! Authenticated push to a real HTTP endpoint on 127.0.0.1:0 that verifies every token (HS256
//! test key here; the push crate verifies against the Google mock's JWKS): wrapped and
//! unwrapped bodies, `writeMetadata` headers, audience and email claims, nack and redelivery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use fleetgate_pubsub::{Emulator, EmulatorConfig, PushTokenSource, TokenError, start};
use gcloud_googleapis::pubsub::v1::push_config::{AuthenticationMethod, NoWrapper, OidcToken, Wrapper};
use gcloud_googleapis::pubsub::v1::{PubsubMessage, PushConfig, Subscription, Topic};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

const KEY: &[u8] = b"fleetgate-test-push-key";
const SERVICE_ACCOUNT: &str = "pusher@fleet.iam.gserviceaccount.com";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    aud: String,
    email: String,
    email_verified: bool,
    iss: String,
    sub: String,
    azp: String,
    iat: u64,
    exp: u64,
}

/// Mints Google-shaped OIDC tokens with a shared test key.
struct TestTokens;

impl PushTokenSource for TestTokens {
    fn token(&self, audience: &str, service_account: &str) -> Result<String, TokenError> {
        let iat = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims = Claims {
            aud: audience.into(),
            email: service_account.into(),
            email_verified: true,
            iss: "https://accounts.google.com".into(),
            sub: "1234567890".into(),
            azp: "1234567890".into(),
            iat,
            exp: iat + 3600,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(KEY),
        )
        .map_err(|e| TokenError {
            audience: audience.into(),
            service_account: service_account.into(),
            reason: e.to_string(),
        })
    }
}

/// What the endpoint saw in one push.
#[derive(Debug)]
struct Push {
    /// The verified claims; `None` when the token was missing or did not verify.
    claims: Option<Claims>,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Endpoint {
    seen: mpsc::UnboundedSender<Push>,
    answers: Arc<Mutex<Vec<StatusCode>>>,
}

async fn receive(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    validation.set_issuer(&["https://accounts.google.com"]);
    let claims = token
        .and_then(|t| jsonwebtoken::decode::<Claims>(t, &DecodingKey::from_secret(KEY), &validation).ok())
        .map(|data| data.claims);
    let verified = claims.is_some();
    let _ = endpoint.seen.send(Push {
        claims,
        headers,
        body,
    });
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    endpoint
        .answers
        .lock()
        .unwrap()
        .pop()
        .unwrap_or(StatusCode::NO_CONTENT)
}

/// An HTTP endpoint answering with `answers` (last first), then 204.
async fn endpoint(answers: Vec<StatusCode>) -> (String, mpsc::UnboundedReceiver<Push>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let state = Endpoint {
        seen,
        answers: Arc::new(Mutex::new(answers)),
    };
    let app = axum::Router::new()
        .route("/push", axum::routing::post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Push>) -> Push {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a push arrives")
        .unwrap()
}

/// Waits until the subscription holds no message (everything acked).
async fn drained(emulator: &Emulator, sub: &str) {
    let wait = async {
        loop {
            let wake = emulator.broker().subscription(sub).unwrap().wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if emulator.broker().subscription(sub).unwrap().queue.is_empty() {
                return;
            }
            notified.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("the push is acked");
}

fn setup(emulator: &Emulator, sub: &str, push: PushConfig) {
    let topic = "projects/fleet/topics/events";
    if emulator.get_topic(topic).is_err() {
        emulator
            .create_topic(Topic {
                name: topic.into(),
                ..Topic::default()
            })
            .unwrap();
    }
    let sub = Subscription {
        name: sub.into(),
        topic: topic.into(),
        push_config: Some(push),
        ..Subscription::default()
    };
    emulator.create_subscription(sub).unwrap();
}

fn oidc(audience: &str) -> Option<AuthenticationMethod> {
    Some(AuthenticationMethod::OidcToken(OidcToken {
        service_account_email: SERVICE_ACCOUNT.into(),
        audience: audience.into(),
    }))
}

fn config() -> EmulatorConfig {
    EmulatorConfig {
        token_source: Some(Arc::new(TestTokens)),
        ..EmulatorConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_push_carries_a_token_for_the_endpoint_and_is_retried_after_a_nack() {
    let handle = start("127.0.0.1:0".parse().unwrap(), config()).await.unwrap();
    let emulator = handle.emulator();
    let (url, mut pushes) = endpoint(vec![StatusCode::SERVICE_UNAVAILABLE]).await;
    let sub = "projects/fleet/subscriptions/wrapped";
    setup(
        emulator,
        sub,
        PushConfig {
            push_endpoint: url.clone(),
            authentication_method: oidc(""),
            ..PushConfig::default()
        },
    );
    let message = PubsubMessage {
        data: b"reading=21.5".to_vec(),
        attributes: HashMap::from([("deviceId".into(), "pi-007".into())]),
        ..PubsubMessage::default()
    };
    let id = emulator
        .publish("projects/fleet/topics/events", vec![message])
        .unwrap()
        .remove(0);

    let first = next(&mut pushes).await;
    let second = next(&mut pushes).await;
    for push in [&first, &second] {
        let claims = push.claims.as_ref().expect("every push carries a valid token");
        assert_eq!(claims.aud, url, "aud defaults to the push endpoint URL");
        assert_eq!(claims.email, SERVICE_ACCOUNT);
        assert!(claims.email_verified);
        assert_eq!(claims.exp, claims.iat + 3600);
        assert_eq!(push.headers["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(&push.body).unwrap();
        assert_eq!(body["subscription"], sub);
        assert_eq!(body["message"]["messageId"], id.as_str());
        assert_eq!(body["message"]["message_id"], id.as_str());
        assert_eq!(body["message"]["data"], "cmVhZGluZz0yMS41");
        assert_eq!(body["message"]["attributes"]["deviceId"], "pi-007");
        assert!(
            body.get("deliveryAttempt").is_none(),
            "no dead-letter policy, no deliveryAttempt"
        );
    }
    drained(emulator, sub).await;
    assert!(pushes.try_recv().is_err(), "an acked push is not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwrapped_push_writes_metadata_headers_and_uses_the_configured_audience() {
    let handle = start("127.0.0.1:0".parse().unwrap(), config()).await.unwrap();
    let emulator = handle.emulator();
    let (url, mut pushes) = endpoint(Vec::new()).await;
    let sub = "projects/fleet/subscriptions/unwrapped";
    let push = PushConfig {
        push_endpoint: url,
        authentication_method: oidc("https://backend.example/telemetry"),
        wrapper: Some(Wrapper::NoWrapper(NoWrapper { write_metadata: true })),
        ..PushConfig::default()
    };
    setup(emulator, sub, push);
    let message = PubsubMessage {
        data: b"\x00\x01raw".to_vec(),
        attributes: HashMap::from([("deviceid".into(), "pi-9".into())]),
        ordering_key: "pi-9".into(),
        ..PubsubMessage::default()
    };
    let id = emulator
        .publish("projects/fleet/topics/events", vec![message])
        .unwrap()
        .remove(0);
    let push = next(&mut pushes).await;
    let claims = push.claims.as_ref().expect("the push carries a valid token");
    assert_eq!(claims.aud, "https://backend.example/telemetry");
    assert_eq!(claims.email, SERVICE_ACCOUNT);
    assert_eq!(push.body.as_ref(), b"\x00\x01raw");
    assert_eq!(push.headers["x-goog-pubsub-subscription-name"], sub);
    assert_eq!(push.headers["x-goog-pubsub-message-id"], id.as_str());
    assert_eq!(push.headers["x-goog-pubsub-ordering-key"], "pi-9");
    assert!(
        push.headers["x-goog-pubsub-publish-time"]
            .to_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(push.headers["deviceid"], "pi-9");
    drained(emulator, sub).await;
}
