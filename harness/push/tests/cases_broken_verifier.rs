//! The catalogue tells a broken endpoint from a correct one: an endpoint that verifies every
//! rule with the Google mock's keys except the audience fails exactly the audience cases.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{SERVICE_ACCOUNT, now};
use fleetgate_identity::google::GoogleIdentity;
use fleetgate_identity::google::verify::{PushExpectations, verify_push_token};
use fleetgate_identity::jwt::PresentedClaims;
use fleetgate_push::cases::{self, ExecutorConfig, PushCase, PushTarget};
use fleetgate_push::verifier::bearer_token;
use fleetgate_push::{GoogleMock, GoogleMockConfig, Refusal};

/// The bug: the expected audience is whatever the token claims, so any genuine Google token for
/// the right service account passes. Signature, `kid`, `iss`, `iat`/`exp`, `email` and
/// `email_verified` are still checked, against the keys the mock publishes now.
async fn audience_blind(
    State(google): State<Arc<RwLock<GoogleIdentity>>>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let refuse = |r: Refusal| (StatusCode::from_u16(r.status()).unwrap(), r.id().to_owned());
    let token = match bearer_token(&headers) {
        Ok(token) => token,
        Err(refusal) => return refuse(refusal),
    };
    let claimed_aud = PresentedClaims::of(token).and_then(|c| c.aud).unwrap_or_default();
    let expect = PushExpectations {
        audience: claimed_aud,
        email: SERVICE_ACCOUNT.to_owned(),
        skew_secs: 0,
    };
    let keys = google.read().unwrap().public_keys();
    match verify_push_token(token, &keys, &expect, now()) {
        Ok(_) => (StatusCode::NO_CONTENT, String::new()),
        Err(refusal) => refuse(Refusal::Token(refusal)),
    }
}

#[tokio::test]
async fn an_endpoint_without_the_audience_check_fails_exactly_the_audience_cases() {
    let mock = GoogleMock::generate(now(), GoogleMockConfig::default())
        .await
        .unwrap();
    let app = Router::new()
        .route("/push", post(audience_blind))
        .with_state(Arc::clone(mock.identity()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let target = PushTarget::new(url, SERVICE_ACCOUNT);
    let outcomes = cases::run(&mock, &target, &ExecutorConfig::default(), PushCase::ALL)
        .await
        .unwrap();
    server.abort();

    let failed: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.id.as_str())
        .collect();
    let expected: BTreeSet<&str> = [
        "push.wrong-aud",
        "push.aud-other-case",
        "push.other-audience-replay",
    ]
    .into();
    assert_eq!(failed, expected, "{outcomes:#?}");
    assert_eq!(
        PushCase::AUDIENCE.iter().map(|c| c.id()).collect::<BTreeSet<_>>(),
        expected
    );
    for outcome in outcomes.iter().filter(|o| !o.passed) {
        assert_eq!(outcome.evidence["status"], "204", "{}", outcome.id);
        assert_eq!(
            outcome.message.as_deref(),
            Some(format!("{}: expected 401|403, got 204 \"\"", outcome.id).as_str()),
            "{}",
            outcome.id
        );
    }
}
