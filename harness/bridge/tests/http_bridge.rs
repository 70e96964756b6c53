//! The HTTP device bridge over real TLS on loopback: publishEvent reaches Pub/Sub with the
//! telemetry attributes, setState is stored, getConfig answers with the latest version and
//! OUT_OF_RANGE above it, and the bearer JWT is checked like an MQTT password.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::http_bridge::{HttpBridge, router};
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::tls::TlsMaterial;
use fleetgate_bridge::tls_listener::TlsListener;
use fleetgate_bridge::{DeviceRegistry, Forwarder};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn serve(h: &common::Harness) -> (String, reqwest::Client) {
    let tls = TlsMaterial::generate().unwrap();
    let bridge = HttpBridge {
        path: RegistryPath {
            project: "demo-project".into(),
            region: "us-central1".into(),
            registry: "pi-fleet".into(),
        },
        profile: Arc::new(Profile::google()),
        registry: h.store.clone() as Arc<dyn DeviceRegistry>,
        forwarder: h.pubsub.clone() as Arc<dyn Forwarder>,
        clock: Arc::new(Clock::default()),
    };
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = TlsListener::new(tcp, tls.server_config().unwrap()).unwrap();
    let port = axum::serve::Listener::local_addr(&listener).unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router(bridge)).await });
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*common::client_tls(&tls.ca_pem)).clone())
        .build()
        .unwrap();
    (
        format!(
            "https://localhost:{port}/v1/projects/demo-project/locations/us-central1/registries/pi-fleet/devices"
        ),
        client,
    )
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn publish_event_reaches_pubsub_with_the_device_attributes() {
    let h = common::start().await;
    let (base, client) = serve(&h).await;
    let body = json!({ "binaryData": "MjEuNUM=", "subFolder": "kitchen" });
    let (status, answer) = send(
        client
            .post(format!("{base}/pi-1:publishEvent"))
            .bearer_auth(h.token("pi-1"))
            .json(&body),
    )
    .await;
    assert_eq!((status, &answer), (StatusCode::OK, &json!({})));
    let stored = h.pubsub.0.lock().unwrap().clone();
    assert_eq!(stored[0].data.as_ref(), b"21.5C");
    assert_eq!(stored[0].attributes["deviceId"], "pi-1");
    assert_eq!(stored[0].attributes["subFolder"], "kitchen");
}

#[tokio::test]
async fn set_state_and_get_config_use_the_registry() {
    let h = common::start().await;
    let (base, client) = serve(&h).await;
    let state = json!({ "state": { "binary_data": "b24=" } });
    let (status, _) = send(
        client
            .post(format!("{base}/pi-2:setState"))
            .bearer_auth(h.token("pi-2"))
            .json(&state),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.store.get("pi-2").unwrap().state.unwrap().0.as_ref(), b"on");

    let (status, config) = send(
        client
            .get(format!("{base}/pi-2/config?local_version=0"))
            .bearer_auth(h.token("pi-2")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config,
        json!({ "version": "1", "binaryData": "eyJsZWQiOnRydWV9" })
    );
    let (status, error) = send(
        client
            .get(format!("{base}/pi-2/config?localVersion=5"))
            .bearer_auth(h.token("pi-2")),
    )
    .await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("OUT_OF_RANGE"))
    );
}

#[tokio::test]
async fn the_bearer_jwt_is_checked_and_errors_name_the_problem() {
    let h = common::start().await;
    let (base, client) = serve(&h).await;
    let body = json!({ "binaryData": "eA==" });
    let (status, error) = send(
        client
            .post(format!("{base}/pi-1:publishEvent"))
            .bearer_auth(common::jwt(&common::key()))
            .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error["error"]["message"],
        "the device JWT was refused: bad-signature"
    );
    let (status, _) = send(client.post(format!("{base}/pi-1:publishEvent")).json(&body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        client
            .post(format!("{base}/ghost:publishEvent"))
            .bearer_auth(h.token("pi-1"))
            .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, error) = send(
        client
            .post(format!("{base}/pi-1:publishEvent"))
            .bearer_auth(h.token("pi-1"))
            .json(&json!({ "binaryData": "%%%" })),
    )
    .await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    assert!(h.pubsub.0.lock().unwrap().is_empty(), "nothing reached Pub/Sub");
}
