//! Each push case fails an endpoint that breaks exactly its rule and no other: a verifier that
//! checks every rule of docs/protocol.md §6 but one fails exactly the cases of that rule (the
//! signature-blind one only the tampered claim and the rogue key, since every claim it checks is
//! as signed); and an endpoint refusing everything fails the accepting cases while every refusal
//! case comes back not judged.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{SERVICE_ACCOUNT, now};
use fleetgate_identity::google::{GoogleIdentity, ISSUER, ISSUER_WITHOUT_SCHEME};
use fleetgate_identity::jwt::decode;
use fleetgate_push::cases::{self, CaseOutcome, ExecutorConfig, PushCase, PushTarget};
use fleetgate_push::verifier::bearer_token;
use fleetgate_push::{GoogleMock, GoogleMockConfig};
use serde_json::Value;

/// The one rule a mutant endpoint does not check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Skipped {
    Signature,
    Issuer,
    IatInFuture,
    Expiry,
    Audience,
    Email,
    EmailVerified,
    /// Not a rule: this endpoint refuses every push.
    Everything,
}

#[derive(Clone)]
struct Mutant {
    google: Arc<RwLock<GoogleIdentity>>,
    audience: String,
    skipped: Skipped,
}

/// The skew the mutants allow (the executor's tokens miss a 300 s skew by 60 s).
const SKEW: i64 = 60;

/// Every check of docs/protocol.md §6 in order, but `skipped`; `Err` names the refusal.
fn check(token: &str, mutant: &Mutant) -> Result<(), &'static str> {
    let skip = mutant.skipped;
    if skip == Skipped::Everything {
        return Err("refuses everything");
    }
    let d = decode(token, true).map_err(|_| "malformed")?;
    if d.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("alg");
    }
    let kid = d.header.get("kid").and_then(Value::as_str).ok_or("no kid")?;
    let keys = mutant.google.read().unwrap().public_keys();
    let (_, key) = keys.iter().find(|(k, _)| k == kid).ok_or("unknown kid")?;
    if skip != Skipped::Signature && !key.verify(d.signing_input.as_bytes(), &d.signature) {
        return Err("bad signature");
    }
    let text = |name: &str| d.claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let number = |name: &str| d.claims.get(name).and_then(Value::as_i64).unwrap_or_default();
    let now = now();
    let held = |rule: Skipped, ok: bool| ok || skip == rule;
    if !held(
        Skipped::Issuer,
        [ISSUER, ISSUER_WITHOUT_SCHEME].contains(&text("iss")),
    ) {
        return Err("iss");
    }
    if !held(Skipped::IatInFuture, number("iat") <= now + SKEW) {
        return Err("iat");
    }
    if !held(Skipped::Expiry, number("exp") >= now - SKEW) {
        return Err("exp");
    }
    if !held(Skipped::Audience, text("aud") == mutant.audience) {
        return Err("aud");
    }
    if !held(Skipped::Email, text("email") == SERVICE_ACCOUNT) {
        return Err("email");
    }
    let verified = d.claims.get("email_verified").and_then(Value::as_bool) == Some(true);
    if !held(Skipped::EmailVerified, verified) {
        return Err("email_verified");
    }
    Ok(())
}

async fn endpoint(State(mutant): State<Mutant>, headers: HeaderMap) -> (StatusCode, &'static str) {
    let Ok(token) = bearer_token(&headers) else {
        return (StatusCode::UNAUTHORIZED, "no bearer token");
    };
    match check(token, &mutant) {
        Ok(()) => (StatusCode::NO_CONTENT, ""),
        Err(why) => (StatusCode::FORBIDDEN, why),
    }
}

/// Runs the whole catalogue against the mutant that skips `skipped`.
async fn run(skipped: Skipped) -> Vec<CaseOutcome> {
    let mock = GoogleMock::generate(now(), GoogleMockConfig::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    let mutant = Mutant {
        google: Arc::clone(mock.identity()),
        audience: url.clone(),
        skipped,
    };
    let app = Router::new().route("/push", post(endpoint)).with_state(mutant);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let target = PushTarget::new(url, SERVICE_ACCOUNT);
    let outcomes = cases::run(&mock, &target, &ExecutorConfig::default(), PushCase::ALL)
        .await
        .unwrap();
    server.abort();
    outcomes
}

fn failed(outcomes: &[CaseOutcome]) -> BTreeSet<&str> {
    outcomes
        .iter()
        .filter(|o| o.judged && !o.passed)
        .map(|o| o.id.as_str())
        .collect()
}

#[tokio::test]
async fn an_endpoint_skipping_one_rule_fails_exactly_that_rule_s_cases() {
    let mutants: [(Skipped, &[&str]); 7] = [
        (Skipped::Signature, &["push.tampered-claims", "push.rogue-key"]),
        (Skipped::Issuer, &["push.wrong-iss"]),
        (Skipped::IatInFuture, &["push.iat-future"]),
        (Skipped::Expiry, &["push.expired"]),
        (
            Skipped::Audience,
            &[
                "push.wrong-aud",
                "push.aud-other-case",
                "push.other-audience-replay",
            ],
        ),
        (Skipped::Email, &["push.wrong-email"]),
        (Skipped::EmailVerified, &["push.email-unverified"]),
    ];
    let mut wrong = Vec::new();
    for (skipped, expected) in mutants {
        let outcomes = run(skipped).await;
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        let got = failed(&outcomes);
        if got != expected || outcomes.iter().any(|o| !o.judged) {
            wrong.push(format!("{skipped:?}: failed {got:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn the_tampered_claim_is_one_no_claim_check_reads() {
    // With the signature checked and nothing else, the tampered token is refused; with every
    // claim checked and not the signature, it is accepted: only the signature catches it.
    let outcomes = run(Skipped::Signature).await;
    let tampered = outcomes
        .iter()
        .find(|o| o.case == PushCase::TamperedClaims)
        .unwrap();
    assert_eq!(tampered.evidence["status"], "204", "{tampered:?}");
}

#[tokio::test]
async fn an_endpoint_refusing_everything_judges_no_refusal_case() {
    let outcomes = run(Skipped::Everything).await;
    let accepting: BTreeSet<&str> = PushCase::ALL
        .iter()
        .filter(|c| !c.expectation().is_refusal())
        .map(|c| c.id())
        .collect();
    assert!(accepting.contains("push.valid"));
    assert_eq!(failed(&outcomes), accepting);
    for outcome in outcomes.iter().filter(|o| o.case.expectation().is_refusal()) {
        assert!(!outcome.judged && !outcome.passed, "{outcome:?}");
        assert!(
            outcome
                .message
                .as_deref()
                .unwrap()
                .contains("the endpoint refused a valid push too"),
            "{outcome:?}"
        );
    }
}
