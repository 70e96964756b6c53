//! The verifier caches Google's keys by `max-age` and refetches on an unknown `kid`, once; the
//! mock's request counter proves each fetch.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use common::{Setup, now};
use fleetgate_push::Endpoint;
use tokio::task::JoinSet;

#[tokio::test]
async fn valid_pushes_share_one_jwks_fetch() {
    let s = Setup::start(300).await;
    for _ in 0..5 {
        assert_eq!(s.push(&s.token()).await.0, 204);
    }
    assert_eq!(s.mock.requests(Endpoint::Jwks), 1);
    assert_eq!(s.mock.requests(Endpoint::PemCerts), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_pushes_share_one_jwks_fetch() {
    let s = Setup::start(300).await;
    let mut pushes = JoinSet::new();
    for _ in 0..8 {
        let request = s
            .client
            .post(s.verifier.url())
            .bearer_auth(s.token())
            .body(common::WRAPPED);
        pushes.spawn(async move { request.send().await.unwrap().status() });
    }
    for status in pushes.join_all().await {
        assert_eq!(status, 204);
    }
    assert_eq!(
        s.mock.requests(Endpoint::Jwks),
        1,
        "the cache lock is held across the fetch"
    );
}

#[tokio::test]
async fn a_newly_rotated_key_causes_exactly_one_refetch() {
    let s = Setup::start(300).await;
    assert_eq!(s.push(&s.token()).await.0, 204);
    assert_eq!(s.mock.requests(Endpoint::Jwks), 1);
    s.mock.rotate(now()).unwrap();
    for _ in 0..3 {
        assert_eq!(s.push(&s.token()).await.0, 204, "signed by the new key");
    }
    assert_eq!(s.mock.requests(Endpoint::Jwks), 2);
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_is_refused_without_fetching() {
    let s = Setup::start(300).await;
    assert_eq!(s.push(&s.token()).await.0, 204);
    // `foreign` is signed by a key published and retired while the verifier held its cache.
    let retired = s.mock.rotate(now()).unwrap();
    let foreign = s.token();
    s.mock.rotate(now()).unwrap();
    assert!(s.mock.retire(&retired));

    assert_eq!(s.push(&foreign).await, (401, "unknown-kid\n".into()));
    assert_eq!(s.mock.requests(Endpoint::Jwks), 2, "refetched on the unknown kid");
    assert_eq!(s.push(&foreign).await, (401, "unknown-kid\n".into()));
    assert_eq!(
        s.mock.requests(Endpoint::Jwks),
        2,
        "not refetched for a kid already missed"
    );
    assert_eq!(
        s.push(&s.token()).await.0,
        204,
        "the key published by the refetch verifies"
    );
    assert_eq!(s.mock.requests(Endpoint::Jwks), 2);
}

#[tokio::test]
async fn max_age_zero_means_a_fetch_per_push() {
    let s = Setup::start(0).await;
    for _ in 0..3 {
        assert_eq!(s.push(&s.token()).await.0, 204);
    }
    assert_eq!(s.mock.requests(Endpoint::Jwks), 3);
}
