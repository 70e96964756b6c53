//! The reference verifier judges each push per docs/protocol.md §6 against the keys it fetched from
//! the Google mock over HTTP: the push-token catalogue, the `Authorization` header, both body
//! forms, and the delivery records.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use common::{SERVICE_ACCOUNT, Setup, now};
use fleetgate_identity::google::mutations::{PushContext, PushMutation};
use fleetgate_identity::google::verify::PushRefusal;
use fleetgate_identity::google::{GoogleIdentity, PushClaims};
use fleetgate_identity::{DeviceKey, KeySpec};
use fleetgate_push::verifier::{self, VerifierConfig};
use fleetgate_push::{Endpoint, Refusal, Verdict};

#[tokio::test]
async fn a_valid_token_is_acknowledged_and_its_delivery_recorded() {
    let mut s = Setup::start(300).await;
    let (status, body) = s.push(&s.token()).await;
    assert_eq!((status, body.as_str()), (204, ""));
    let delivery = s.delivery();
    assert_eq!(delivery.verdict, Verdict::Accepted);
    let message = delivery.message.as_ref().unwrap();
    assert!(message.wrapped);
    assert_eq!(message.message_id.as_deref(), Some("42"));
    assert_eq!(&message.data[..], b"hello");
    assert_eq!(message.attributes.get("device").map(String::as_str), Some("pi-7"));
    assert_eq!(
        message.subscription.as_deref(),
        Some("projects/demo-project/subscriptions/pushed")
    );
    let latency = delivery.latency().unwrap();
    let expected = delivery
        .received_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1_767_225_600;
    assert_eq!(
        latency.as_secs(),
        expected,
        "from publishTime 2026-01-01T00:00:00Z"
    );
}

/// Every entry of the identity crate's push-token catalogue gets the answer its expected refusal
/// calls for (after a rotation, so `previous-key` is signed by a still-published older key).
#[tokio::test]
async fn the_push_token_catalogue_is_judged_as_expected() {
    let mut s = Setup::start(300).await;
    s.mock.rotate(now()).unwrap();
    let rogue = DeviceKey::generate(KeySpec::RSA_2048).unwrap();
    let claims = s.claims();
    let tokens = mint_catalogue(&s.mock.identity().read().unwrap(), &rogue, &claims);
    for (mutation, token) in tokens {
        let (status, body) = s.push(&token).await;
        let verdict = s.delivery().verdict;
        match mutation.expected() {
            None => {
                assert_eq!(status, 204, "{}: {body}", mutation.id());
                assert_eq!(verdict, Verdict::Accepted, "{}", mutation.id());
            }
            Some(refusal) => {
                let expected = Refusal::Token(refusal);
                assert_eq!(status, expected.status(), "{}: {body}", mutation.id());
                assert_eq!(body.trim(), refusal.id(), "{}", mutation.id());
                assert_eq!(verdict, Verdict::Refused(expected), "{}", mutation.id());
            }
        }
    }
}

fn mint_catalogue(
    google: &GoogleIdentity,
    rogue: &DeviceKey,
    claims: &PushClaims,
) -> Vec<(PushMutation, String)> {
    let ctx = PushContext {
        google,
        rogue,
        claims,
        skew_secs: 0,
    };
    PushMutation::ALL
        .iter()
        .map(|m| (*m, m.build(&ctx).unwrap()))
        .collect()
}

#[tokio::test]
async fn audience_and_identity_mismatches_are_403_naming_the_reason() {
    let s = Setup::start(300).await;
    let cases = [
        (
            PushClaims {
                aud: "https://other.example/push".into(),
                ..s.claims()
            },
            PushRefusal::AudMismatch,
        ),
        (
            PushClaims {
                email: "other@demo-project.iam.gserviceaccount.com".into(),
                ..s.claims()
            },
            PushRefusal::EmailMismatch,
        ),
        (
            PushClaims {
                email_verified: false,
                ..s.claims()
            },
            PushRefusal::EmailNotVerified,
        ),
    ];
    for (claims, refusal) in cases {
        let (status, body) = s.push(&s.mock.push_token(&claims).unwrap()).await;
        assert_eq!((status, body.trim()), (403, refusal.id()));
    }
    let expired = s.claims().aged(2 * 3600);
    let (status, body) = s.push(&s.mock.push_token(&expired).unwrap()).await;
    assert_eq!((status, body.trim()), (401, "expired"));
}

#[tokio::test]
async fn the_authorization_header_must_carry_a_bearer_jwt() {
    let s = Setup::start(300).await;
    let token = s.token();
    assert_eq!(s.post(None).await, (401, "no-authorization\n".into()));
    assert_eq!(
        s.post(Some(&format!("Basic {token}"))).await,
        (401, "not-bearer\n".into())
    );
    assert_eq!(
        s.post(Some("Bearer not-a-jwt")).await,
        (401, "malformed-token\n".into())
    );
    assert_eq!(
        s.post(Some("Bearer a.b.c")).await,
        (401, "malformed-token\n".into())
    );
    assert_eq!(
        s.mock.requests(Endpoint::Jwks),
        0,
        "no token worth verifying, no key fetch"
    );
}

#[tokio::test]
async fn an_audience_configured_explicitly_replaces_the_url() {
    let mock = Setup::start(300).await.mock;
    let config = VerifierConfig {
        audience: Some("https://api.example/push".into()),
        ..VerifierConfig::new(mock.jwks_url(), SERVICE_ACCOUNT)
    };
    let (verifier, _deliveries) = verifier::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let send = |aud: String| {
        let token = mock
            .push_token(&PushClaims::new(&aud, SERVICE_ACCOUNT, now()))
            .unwrap();
        client
            .post(verifier.url())
            .bearer_auth(token)
            .body(common::WRAPPED)
            .send()
    };
    assert_eq!(
        send("https://api.example/push".into()).await.unwrap().status(),
        204
    );
    assert_eq!(send(verifier.url()).await.unwrap().status(), 403);
    verifier.shutdown().await.unwrap();
}

#[tokio::test]
async fn unwrapped_bodies_are_accepted_with_metadata_from_headers() {
    let mut s = Setup::start(300).await;
    let headers = [
        ("x-goog-pubsub-message-id", "77"),
        ("x-goog-pubsub-publish-time", "2026-01-01T00:00:00Z"),
        (
            "x-goog-pubsub-subscription-name",
            "projects/demo-project/subscriptions/raw",
        ),
        ("device", "pi-9"),
    ];
    let auth = format!("Bearer {}", s.token());
    let (status, _) = s.post_with(Some(&auth), &headers, "raw bytes").await;
    assert_eq!(status, 204);
    let message = s.delivery().message.unwrap();
    assert!(!message.wrapped);
    assert_eq!(&message.data[..], b"raw bytes");
    assert_eq!(message.message_id.as_deref(), Some("77"));
    assert_eq!(message.attributes.get("device").map(String::as_str), Some("pi-9"));
}

#[tokio::test]
async fn refused_pushes_are_recorded_too_and_shutdown_ends_the_server() {
    let mut s = Setup::start(300).await;
    s.post(None).await;
    assert_eq!(s.delivery().verdict, Verdict::Refused(Refusal::NoAuthorization));
    let url = s.verifier.url();
    s.verifier.shutdown().await.unwrap();
    assert!(
        s.client.post(url).send().await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn unreachable_keys_are_a_503_nack() {
    let s = Setup::start(300).await;
    let config = VerifierConfig::new(format!("{}/missing", s.mock.uri()), SERVICE_ACCOUNT);
    let (verifier, _deliveries) = verifier::start(config).await.unwrap();
    let response = s
        .client
        .post(verifier.url())
        .bearer_auth(s.token())
        .body(common::WRAPPED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap().trim(), "keys-unavailable");
}
