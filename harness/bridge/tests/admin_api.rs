//! The admin API over HTTP on loopback, with a real MQTT client connected: device and
//! credential management, configs delivered at once, commands, sessions, and Google-shaped
//! errors for bad requests.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::sync::Arc;

use common::{client, start, until};
use fleetgate_bridge::admin::{Admin, router};
use reqwest::StatusCode;
use rumqttc::{Packet, QoS};
use serde_json::{Value, json};

async fn serve_admin(h: &common::Harness) -> String {
    let admin = Admin {
        store: Arc::clone(&h.store),
        bridge: h.bridge.clone(),
        key: Arc::from(KEY),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(admin)).await });
    url
}

const KEY: &str = "test-admin-key";

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (StatusCode, Value) {
    call_with(method, url, body, Some(KEY)).await
}

async fn call_with(
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn credential() -> Value {
    json!({ "publicKey": { "format": "ES256_PEM", "key": common::key().spki_pem() } })
}

#[tokio::test]
async fn devices_and_credentials_are_managed_with_google_shaped_errors() {
    let h = start().await;
    let api = serve_admin(&h).await;
    let (status, device) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices"),
        Some(json!({ "id": "pi-9", "credentials": [credential()] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["id"], "pi-9");
    assert!(device["numId"].as_str().unwrap().parse::<u64>().is_ok());

    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices"),
        Some(json!({ "id": "pi-9" })),
    )
    .await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::CONFLICT, Some("ALREADY_EXISTS"))
    );

    for _ in 0..2 {
        let (status, _) = call(
            reqwest::Method::POST,
            format!("{api}/v1/devices/pi-9/credentials"),
            Some(credential()),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-9/credentials"),
        Some(credential()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["error"]["message"],
        "device `pi-9` already holds 3 credentials"
    );

    let bad_format = json!({ "publicKey": { "format": "PGP", "key": "x" } });
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-9/credentials"),
        Some(bad_format),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected RSA_PEM, RSA_X509_PEM, ES256_PEM or ES256_X509_PEM")
    );

    let private = json!({ "publicKey": { "format": "ES256_PEM", "key": common::key().pkcs8_pem() } });
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-1/credentials"),
        Some(private),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("device `pi-1`") && message.contains("private key"),
        "{message}"
    );

    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices"),
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );

    let (status, error) = call(reqwest::Method::GET, format!("{api}/v1/devices/ghost"), None).await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );

    let (status, _) = call(reqwest::Method::DELETE, format!("{api}/v1/devices/pi-9"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = call(reqwest::Method::GET, format!("{api}/v1/devices"), None).await;
    let ids: Vec<&str> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pi-1", "pi-2"]);
}

#[tokio::test]
async fn configs_reach_the_connected_device_and_commands_need_its_subscription() {
    let h = start().await;
    let api = serve_admin(&h).await;
    let (mqtt, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    let (_, sessions) = call(reqwest::Method::GET, format!("{api}/v1/sessions"), None).await;
    assert_eq!(sessions["devices"], json!(["pi-1"]));

    let command = json!({ "binaryData": "cmVib290" });
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-1/commands"),
        Some(command.clone()),
    )
    .await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("FAILED_PRECONDITION"))
    );

    mqtt.subscribe("/devices/pi-1/config", QoS::AtLeastOnce)
        .await
        .unwrap();
    until(
        &mut events,
        |p| matches!(p, Packet::Publish(p) if p.payload.as_ref() == b"{\"led\":true}"),
    )
    .await;
    let update = json!({ "binaryData": "eyJsZWQiOmZhbHNlfQ==", "versionToUpdate": "1" });
    let (api_result, packet) = tokio::join!(
        call(
            reqwest::Method::POST,
            format!("{api}/v1/devices/pi-1/config"),
            Some(update)
        ),
        until(
            &mut events,
            |p| matches!(p, Packet::Publish(p) if p.payload.as_ref() == b"{\"led\":false}")
        )
    );
    assert_eq!(api_result.1["version"], "2");
    let Packet::Publish(config) = packet else {
        unreachable!()
    };
    assert_eq!(config.topic, "/devices/pi-1/config");

    let stale = json!({ "binaryData": "e30=", "versionToUpdate": "1" });
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-1/config"),
        Some(stale),
    )
    .await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (StatusCode::CONFLICT, Some("ABORTED"))
    );

    let (status, _) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-1/disconnect"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    common::error(&mut events).await;
}

#[tokio::test]
async fn gateways_bind_and_unbind_devices() {
    let h = start().await;
    let api = serve_admin(&h).await;
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices"),
        Some(json!({ "id": "gw-1", "gateway": true })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, gateway) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/gw-1/bind"),
        Some(json!({ "deviceId": "pi-1" })),
    )
    .await;
    assert_eq!(
        (status, &gateway["boundDevices"]),
        (StatusCode::OK, &json!(["pi-1"]))
    );
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-2/bind"),
        Some(json!({ "deviceId": "pi-1" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["message"], "device `pi-2` is not a gateway");
    let (_, gateway) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/gw-1/unbind"),
        Some(json!({ "deviceId": "pi-1" })),
    )
    .await;
    assert_eq!(gateway["boundDevices"], json!([]));
}

#[tokio::test]
async fn every_call_needs_the_key_and_limits_are_named() {
    let h = start().await;
    let api = serve_admin(&h).await;
    let add = json!({ "publicKey": { "format": "ES256_PEM", "key": common::key().spki_pem() } });
    for key in [None, Some("wrong"), Some("test-admin-ke")] {
        let url = format!("{api}/v1/devices/pi-1/credentials");
        let (status, error) = call_with(reqwest::Method::POST, url, Some(add.clone()), key).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}: {error}");
        assert_eq!(error["error"]["status"], "UNAUTHENTICATED");
    }
    let (status, _) = call_with(reqwest::Method::GET, format!("{api}/v1/faults"), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    use base64::Engine as _;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 100_000]);
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/devices/pi-1/config"),
        Some(json!({ "binaryData": big })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("100000 bytes: the limit is 65536 bytes"),
        "{message}"
    );
    let (status, error) = call(
        reqwest::Method::POST,
        format!("{api}/v1/faults"),
        Some(json!({ "listenerDownMs": u64::MAX })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]["message"].as_str().unwrap().contains("one hour"),
        "{error}"
    );
}
