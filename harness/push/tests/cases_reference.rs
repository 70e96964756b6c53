//! The whole push-case catalogue against the reference verifier, which trusts the Google mock's
//! JWKS: every case passes, with evidence.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use common::{SERVICE_ACCOUNT, now};
use fleetgate_push::cases::{self, ExecutorConfig, Expectation, PushCase, PushTarget};
use fleetgate_push::verifier::{self, VerifierConfig};
use fleetgate_push::{Endpoint, GoogleMock, GoogleMockConfig, Verdict};

#[tokio::test]
async fn every_case_passes_against_the_reference_verifier() {
    let mock = GoogleMock::generate(now(), GoogleMockConfig::default())
        .await
        .unwrap();
    let (verifier, mut deliveries) = verifier::start(VerifierConfig::new(mock.jwks_url(), SERVICE_ACCOUNT))
        .await
        .unwrap();
    let target = PushTarget::new(verifier.url(), SERVICE_ACCOUNT);
    let outcomes = cases::run(&mock, &target, &ExecutorConfig::default(), PushCase::ALL)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), PushCase::ALL.len());
    for (outcome, case) in outcomes.iter().zip(PushCase::ALL) {
        assert_eq!(outcome.case, *case);
        assert_eq!(outcome.id, case.id());
        assert!(outcome.passed, "{}: {:?}", outcome.id, outcome.message);
        assert!(outcome.evidence.contains_key("status"), "{}", outcome.id);
        // The verifier's delivery record agrees with the status the executor saw.
        let delivery = deliveries.try_recv().unwrap();
        assert_eq!(
            outcome.evidence["status"],
            delivery.verdict.status().to_string(),
            "{}",
            outcome.id
        );
    }
    let by_id = |id: &str| outcomes.iter().find(|o| o.id == id).unwrap();
    assert_eq!(by_id("push.valid").evidence["status"], "204");
    assert_eq!(by_id("push.wrong-aud").evidence["status"], "403");
    assert_eq!(by_id("push.wrong-aud").evidence["body"], "aud-mismatch");
    assert_eq!(by_id("push.expired").evidence["body"], "expired");
    assert_eq!(by_id("push.no-kid").evidence["body"], "missing-kid");
    assert_eq!(
        by_id("push.no-authorization").evidence["body"],
        "no-authorization"
    );
    assert_eq!(
        mock.identity().read().unwrap().published().len(),
        2,
        "the executor rotated the mock once for the rotation cases"
    );
    assert!(
        mock.requests(Endpoint::Jwks) >= 2,
        "the verifier refetched after the rotation"
    );
    verifier.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_unwrapped_case_arrives_unwrapped_with_its_metadata() {
    let mock = GoogleMock::generate(now(), GoogleMockConfig::default())
        .await
        .unwrap();
    let (verifier, mut deliveries) = verifier::start(VerifierConfig::new(mock.jwks_url(), SERVICE_ACCOUNT))
        .await
        .unwrap();
    let target = PushTarget::new(verifier.url(), SERVICE_ACCOUNT);
    let config = ExecutorConfig::default();
    let selection = [PushCase::Valid, PushCase::UnwrappedBody];
    let outcomes = cases::run(&mock, &target, &config, &selection).await.unwrap();
    assert!(outcomes.iter().all(|o| o.passed), "{outcomes:?}");
    let wrapped = deliveries.try_recv().unwrap();
    let unwrapped = deliveries.try_recv().unwrap();
    assert_eq!(wrapped.verdict, Verdict::Accepted);
    let (w, u) = (wrapped.message.unwrap(), unwrapped.message.unwrap());
    assert!(w.wrapped && !u.wrapped);
    assert_eq!(w.subscription.as_deref(), Some(config.subscription.as_str()));
    assert_eq!(u.subscription.as_deref(), Some(config.subscription.as_str()));
    assert_eq!(u.attributes.get("deviceid").map(String::as_str), Some("pi-0001"));
    assert_eq!(w.attributes.get("deviceId").map(String::as_str), Some("pi-0001"));
    assert!(w.publish_time.is_some() && u.message_id.is_some());
    let data: serde_json::Value = serde_json::from_slice(&u.data).unwrap();
    assert_eq!(data["case"], "push.unwrapped-body");
    assert_eq!(
        mock.identity().read().unwrap().published().len(),
        1,
        "no rotation without a case needing it"
    );
    verifier.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_endpoint_answering_404_fails_the_accepting_cases_and_judges_no_refusal() {
    let mock = GoogleMock::generate(now(), GoogleMockConfig::default())
        .await
        .unwrap();
    // The mock's own URL answers 404 to a POST: neither a 2xx nor a refusal status. The control
    // case push.valid fails, so no refusal case is sent: each comes back not judged.
    let target = PushTarget::new(format!("{}/push", mock.uri()), SERVICE_ACCOUNT);
    let outcomes = cases::run(&mock, &target, &ExecutorConfig::default(), PushCase::ALL)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), PushCase::ALL.len());
    for outcome in &outcomes {
        assert!(!outcome.passed, "{}", outcome.id);
        let message = outcome.message.as_deref().unwrap();
        assert!(message.starts_with(&format!("{}: ", outcome.id)), "{message}");
        if outcome.case.expectation() == Expectation::Accept {
            assert!(outcome.judged, "{}", outcome.id);
            assert_eq!(outcome.evidence["status"], "404", "{}", outcome.id);
        } else {
            assert!(!outcome.judged, "{}", outcome.id);
            assert!(message.ends_with(cases::NOT_JUDGED), "{message}");
            assert!(
                !outcome.evidence.contains_key("status"),
                "not sent: {}",
                outcome.id
            );
        }
    }
}
