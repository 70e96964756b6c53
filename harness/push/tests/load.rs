//! Push load with goose against the reference verifier: every push carries a fresh valid token
//! and is accepted, the verifier's delivery count equals the pushes sent, and every answered
//! push has a latency sample; against a verifier expecting another service account every push
//! is an error, counted by status. A share of invalid pushes is counted apart: all refused by
//! the reference verifier, and the ones a lenient endpoint lets through are named.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::time::Duration;

use common::{SERVICE_ACCOUNT, Setup};
use fleetgate_identity::google::mutations::PushMutation;
use fleetgate_push::load::{self, LoadConfig};
use fleetgate_push::verifier::{self, VerifierConfig};
use fleetgate_push::{PushTarget, Verdict};

fn config() -> LoadConfig {
    LoadConfig {
        rate: 40,
        duration: Duration::from_secs(1),
        users: 2,
        timeout: Duration::from_secs(10),
        invalid_share: 0.0,
        invalid: Vec::new(),
        refusal_statuses: vec![401, 403],
        endpoint_skew: Duration::from_secs(300),
    }
}

fn mixed(invalid: Vec<PushMutation>) -> LoadConfig {
    LoadConfig {
        rate: 60,
        duration: Duration::from_secs(2),
        invalid_share: 0.25,
        invalid,
        ..config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_pushes_are_mixed_in_refused_and_counted_apart() {
    let setup = Setup::start(3600).await;
    let target = PushTarget::new(setup.verifier.url(), SERVICE_ACCOUNT);
    let outcome = load::run(&setup.mock, &target, &mixed(PushMutation::invalid().collect()))
        .await
        .unwrap();
    let m = &outcome.metrics;
    let invalid = m.counter(load::INVALID_SENT);
    assert!(
        invalid >= 4,
        "a quarter of {} pushes: {invalid}",
        outcome.requests
    );
    assert!(invalid * 5 <= outcome.requests * 2, "about a quarter, not more");
    assert_eq!(
        m.counter(load::INVALID_REFUSED),
        invalid,
        "the reference verifier refuses all"
    );
    assert_eq!(
        (m.counter(load::INVALID_ACCEPTED), m.counter(load::INVALID_OTHER)),
        (0, 0)
    );
    assert!(outcome.invalid_accepted.is_empty());
    assert_eq!(outcome.errors, Default::default(), "valid pushes all accepted");
    assert_eq!(
        m.histogram(load::REQUEST).unwrap().len(),
        outcome.requests - invalid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_lets_invalid_pushes_through_is_caught_by_case() {
    let setup = Setup::start(3600).await;
    let mut lenient = VerifierConfig::new(setup.mock.jwks_url(), SERVICE_ACCOUNT);
    lenient.skew = Duration::from_secs(3600);
    let (endpoint, _deliveries) = verifier::start(lenient).await.unwrap();
    let target = PushTarget::new(endpoint.url(), SERVICE_ACCOUNT);
    let invalid = vec![PushMutation::Expired, PushMutation::WrongAud];
    let outcome = load::run(&setup.mock, &target, &mixed(invalid)).await.unwrap();
    let accepted = outcome.metrics.counter(load::INVALID_ACCEPTED);
    assert!(accepted > 0);
    assert_eq!(
        outcome.invalid_accepted.keys().collect::<Vec<_>>(),
        ["push.expired"],
        "an hour of skew lets expired tokens in, never a wrong audience"
    );
    assert_eq!(outcome.invalid_accepted["push.expired"], accepted);
    assert_eq!(
        outcome.metrics.counter(load::INVALID_REFUSED) + accepted,
        outcome.metrics.counter(load::INVALID_SENT)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_of_a_load_is_accepted_and_recorded() {
    let mut setup = Setup::start(3600).await;
    let target = PushTarget::new(setup.verifier.url(), SERVICE_ACCOUNT);
    let outcome = load::run(&setup.mock, &target, &config()).await.unwrap();
    assert!(outcome.requests > 0, "goose sent pushes");
    assert_eq!(outcome.errors, Default::default(), "{:?}", outcome.errors);
    let latency = outcome.metrics.histogram(load::REQUEST).unwrap();
    assert_eq!(latency.len(), outcome.requests, "one latency sample per push");
    assert_eq!(outcome.metrics.counter(load::ERRORS), 0);
    let mut accepted = 0;
    let mut sequence = Vec::new();
    while let Ok(delivery) = setup.deliveries.try_recv() {
        assert_eq!(delivery.verdict, Verdict::Accepted);
        let data = delivery.message.unwrap().data;
        let value: serde_json::Value = serde_json::from_slice(&data).unwrap();
        sequence.push(value["load"].as_u64().unwrap());
        accepted += 1;
    }
    assert_eq!(accepted, outcome.requests, "the verifier saw every push once");
    sequence.sort_unstable();
    sequence.dedup();
    assert_eq!(
        sequence.len() as u64,
        outcome.requests,
        "each push carried its own sequence number"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_pushes_are_errors_by_status() {
    let setup = Setup::start(3600).await;
    let (other, _deliveries) = verifier::start(VerifierConfig::new(
        setup.mock.jwks_url(),
        "someone-else@demo-project.iam.gserviceaccount.com",
    ))
    .await
    .unwrap();
    let target = PushTarget::new(other.url(), SERVICE_ACCOUNT);
    let outcome = load::run(&setup.mock, &target, &config()).await.unwrap();
    assert!(outcome.requests > 0);
    assert_eq!(outcome.errors.keys().collect::<Vec<_>>(), ["403"]);
    assert_eq!(outcome.error_count(), outcome.requests);
    assert_eq!(outcome.metrics.counter(load::ERRORS), outcome.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_not_there_gives_transport_errors() {
    let setup = Setup::start(3600).await;
    let url = setup.verifier.url();
    setup.verifier.shutdown().await.unwrap();
    let target = PushTarget::new(url, SERVICE_ACCOUNT);
    let outcome = load::run(&setup.mock, &target, &config()).await.unwrap();
    assert!(outcome.requests > 0);
    assert_eq!(outcome.errors.get("transport"), Some(&outcome.requests));
    assert!(
        outcome.metrics.histogram(load::REQUEST).is_none(),
        "no answer, no latency"
    );
}
