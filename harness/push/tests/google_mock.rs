//! The Google mock over HTTP: the three documents with `Cache-Control: max-age`, rotation and
//! retirement changing what they serve, request counts per endpoint.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_identity::google::ISSUER;
use fleetgate_push::{Endpoint, GoogleMock, GoogleMockConfig};
use serde_json::Value;

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

async fn mock(max_age_secs: u64) -> GoogleMock {
    let config = GoogleMockConfig {
        max_age: Duration::from_secs(max_age_secs),
    };
    GoogleMock::generate(now(), config).await.unwrap()
}

/// GETs `endpoint`, checks the status and the content type, returns `Cache-Control` and the JSON.
async fn get(mock: &GoogleMock, endpoint: Endpoint) -> (String, Value) {
    let response = reqwest::get(mock.url(endpoint)).await.unwrap();
    assert_eq!(response.status(), 200, "{}", endpoint.path());
    let header = |name| response.headers().get(name).unwrap().to_str().unwrap().to_owned();
    let cache_control = header("cache-control");
    assert!(header("content-type").starts_with("application/json"));
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (cache_control, body)
}

fn jwks_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn cert_kids(certs: &Value) -> Vec<String> {
    certs.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn serves_the_three_documents_with_max_age() {
    let mock = mock(1234).await;
    let kid = mock.active_kid();

    let (cache, jwks) = get(&mock, Endpoint::Jwks).await;
    assert_eq!(cache, "public, max-age=1234");
    assert_eq!(jwks_kids(&jwks), [kid.as_str()]);
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["alg"], "RS256");

    let (cache, certs) = get(&mock, Endpoint::PemCerts).await;
    assert_eq!(cache, "public, max-age=1234");
    assert!(
        certs[&kid]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let (cache, config) = get(&mock, Endpoint::OpenIdConfiguration).await;
    assert_eq!(cache, "public, max-age=1234");
    assert_eq!(config["issuer"], ISSUER);
    assert_eq!(config["jwks_uri"], mock.jwks_url().as_str());
}

#[tokio::test]
async fn rotation_publishes_the_new_kid_and_retirement_removes_the_old() {
    let mock = mock(60).await;
    let first = mock.active_kid();
    let second = mock.rotate(now()).unwrap();
    assert_ne!(first, second);
    assert_eq!(mock.active_kid(), second);

    let (_, jwks) = get(&mock, Endpoint::Jwks).await;
    assert_eq!(jwks_kids(&jwks), [first.clone(), second.clone()]);
    let (_, certs) = get(&mock, Endpoint::PemCerts).await;
    let mut kids = cert_kids(&certs);
    kids.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(kids, expected);

    assert!(mock.retire(&first));
    assert!(!mock.retire(&second), "the active key is never retired");
    let (_, jwks) = get(&mock, Endpoint::Jwks).await;
    assert_eq!(jwks_kids(&jwks), [second.as_str()]);
    let (_, certs) = get(&mock, Endpoint::PemCerts).await;
    assert_eq!(cert_kids(&certs), [second]);
}

#[tokio::test]
async fn requests_are_counted_per_endpoint() {
    let mock = mock(60).await;
    for endpoint in Endpoint::ALL {
        assert_eq!(mock.requests(endpoint), 0);
    }
    for _ in 0..3 {
        get(&mock, Endpoint::Jwks).await;
    }
    get(&mock, Endpoint::OpenIdConfiguration).await;
    assert_eq!(mock.requests(Endpoint::Jwks), 3);
    assert_eq!(mock.requests(Endpoint::PemCerts), 0);
    assert_eq!(mock.requests(Endpoint::OpenIdConfiguration), 1);

    let status = reqwest::get(format!("{}/oauth2/v2/certs", mock.uri()))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "only Google's paths are served");
    let status = reqwest::Client::new()
        .post(mock.jwks_url())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "documents are served to GET only");
    assert_eq!(mock.requests(Endpoint::Jwks), 3);
}
