//! REST v1 on the same listener as gRPC: resources, publish, pull, ack, and Google's JSON
//! error bodies for unknown resources, bad names and malformed JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleetgate_pubsub::{EmulatorConfig, start};
use serde_json::{Value, json};

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_publish_pull_ack_and_errors() {
    use reqwest::Method;
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let base = format!("http://{}/v1/projects/rest", handle.local_addr());
    let c = reqwest::Client::new();

    let (status, topic) = call(&c, Method::PUT, &format!("{base}/topics/readings"), None).await;
    assert_eq!(
        (status, topic["name"].as_str()),
        (200, Some("projects/rest/topics/readings"))
    );
    let (status, err) = call(&c, Method::PUT, &format!("{base}/topics/readings"), None).await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (409, Some("ALREADY_EXISTS"))
    );
    let (status, err) = call(&c, Method::PUT, &format!("{base}/topics/r"), None).await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("projects/rest/topics/r")
    );

    let sub = json!({"topic": "projects/rest/topics/readings", "ackDeadlineSeconds": "20"}).to_string();
    let (status, created) = call(
        &c,
        Method::PUT,
        &format!("{base}/subscriptions/reader"),
        Some(&sub),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["ackDeadlineSeconds"], 20);
    assert_eq!(created["messageRetentionDuration"], "604800s");

    let publish = json!({"messages": [{"data": "aGVsbG8=", "attributes": {"k": "v"}}]}).to_string();
    let (status, ids) = call(
        &c,
        Method::POST,
        &format!("{base}/topics/readings:publish"),
        Some(&publish),
    )
    .await;
    assert_eq!(status, 200, "{ids}");
    let id = ids["messageIds"][0].as_str().unwrap().to_owned();

    let (status, pulled) = call(
        &c,
        Method::POST,
        &format!("{base}/subscriptions/reader:pull"),
        Some(r#"{"maxMessages": 10}"#),
    )
    .await;
    assert_eq!(status, 200, "{pulled}");
    let received = &pulled["receivedMessages"][0];
    assert_eq!(received["message"]["messageId"], id.as_str());
    assert_eq!(received["message"]["data"], "aGVsbG8=");
    assert_eq!(received["message"]["attributes"]["k"], "v");
    assert!(
        received["message"]["publishTime"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let ack = json!({"ackIds": [received["ackId"]]}).to_string();
    let (status, _) = call(
        &c,
        Method::POST,
        &format!("{base}/subscriptions/reader:acknowledge"),
        Some(&ack),
    )
    .await;
    assert_eq!(status, 200);
    let (_, empty) = call(
        &c,
        Method::POST,
        &format!("{base}/subscriptions/reader:pull"),
        Some(r#"{"maxMessages": 10, "returnImmediately": true}"#),
    )
    .await;
    assert_eq!(
        empty["receivedMessages"],
        json!([]),
        "acked message is not redelivered"
    );

    let (status, err) = call(&c, Method::GET, &format!("{base}/subscriptions/missing"), None).await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, err) = call(
        &c,
        Method::POST,
        &format!("{base}/topics/readings:publish"),
        Some("{not json"),
    )
    .await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let bad = json!({"messages": [{"data": "***"}]}).to_string();
    let (status, err) = call(
        &c,
        Method::POST,
        &format!("{base}/topics/readings:publish"),
        Some(&bad),
    )
    .await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let (status, err) = call(
        &c,
        Method::POST,
        &format!("{base}/subscriptions/reader:acknowledge"),
        Some(r#"{"ackIds": ["zz"]}"#),
    )
    .await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let (status, listed) = call(&c, Method::GET, &format!("{base}/topics?pageSize=1"), None).await;
    assert_eq!((status, listed["topics"].as_array().unwrap().len()), (200, 1));
    let (status, _) = call(&c, Method::DELETE, &format!("{base}/topics/readings"), None).await;
    assert_eq!(status, 200);
    let (_, orphan) = call(&c, Method::GET, &format!("{base}/subscriptions/reader"), None).await;
    assert_eq!(orphan["topic"], "_deleted-topic_");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_grpc_message_gets_a_grpc_status_not_a_panic() {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // A gRPC frame (uncompressed, 3 bytes) holding bytes that are not a valid Topic.
    let frame: &[u8] = &[0, 0, 0, 0, 3, 0x0a, 0xff, 0xff];
    let response = client
        .post(format!(
            "http://{}/google.pubsub.v1.Publisher/CreateTopic",
            handle.local_addr()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        status.is_some_and(|s| s != "0"),
        "an error status, got {:?}",
        response.headers()
    );
    assert!(
        handle
            .emulator()
            .list_topics("projects/p", Default::default())
            .unwrap()
            .0
            .is_empty()
    );
}
