//! Issue 16's features over REST (Google's JSON shapes: snapshots, seek, limits answered with
//! `INVALID_ARGUMENT` bodies rather than transport errors, exactly-once `ErrorInfo` details,
//! `UNIMPLEMENTED` sentences), and exactly-once confirmations on a gRPC streaming pull.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use fleetgate_pubsub::{EmulatorConfig, EmulatorHandle, start};
use gcloud_googleapis::pubsub::v1::StreamingPullRequest;
use gcloud_googleapis::pubsub::v1::subscriber_client::SubscriberClient;
use reqwest::Method;
use serde_json::{Value, json};

async fn emulator() -> (EmulatorHandle, String, reqwest::Client) {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let base = format!("http://{}/v1/projects/rest", handle.local_addr());
    (handle, base, reqwest::Client::new())
}

async fn call(client: &reqwest::Client, method: Method, url: &str, body: Option<Value>) -> (u16, Value) {
    call_raw(client, method, url, body.map(|b| b.to_string())).await
}

async fn call_raw(client: &reqwest::Client, method: Method, url: &str, body: Option<String>) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text);
    assert!(value.is_ok(), "{status}: not JSON: {text:.200}");
    (status, value.unwrap())
}

fn publish_body(data: &[u8]) -> Value {
    json!({"messages": [{"data": base64::engine::general_purpose::STANDARD.encode(data)}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_limits_answer_invalid_argument_in_googles_json_shape() {
    let (_handle, base, c) = emulator().await;
    call(&c, Method::PUT, &format!("{base}/topics/big"), None).await;
    let publish = format!("{base}/topics/big:publish");
    let (status, ok) = call(
        &c,
        Method::POST,
        &publish,
        Some(publish_body(&vec![1; 5_000_000])),
    )
    .await;
    assert_eq!(status, 200, "5 MB (6.7 MB of base64) passes: {ok}");
    let (status, err) = call(
        &c,
        Method::POST,
        &publish,
        Some(publish_body(&vec![1; 10_000_001])),
    )
    .await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10000000 bytes"),
        "{err}"
    );
    let huge = format!("{{\"messages\":[{{\"data\":\"{}\"}}]}}", "A".repeat(65 << 20));
    let (status, err) = call_raw(&c, Method::POST, &publish, Some(huge)).await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT")),
        "beyond the transport limit too: JSON, not a plain-text 413"
    );
    let (status, err) = call(
        &c,
        Method::PUT,
        &format!("{base}/topics/long"),
        Some(json!({"messageRetentionDuration": "2678401s"})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    let (status, topic) = call(
        &c,
        Method::PUT,
        &format!("{base}/topics/long"),
        Some(json!({"messageRetentionDuration": "2678400s"})),
    )
    .await;
    assert_eq!(
        (status, topic["messageRetentionDuration"].as_str()),
        (200, Some("2678400s"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_snapshots_seek_and_left_out_methods() {
    let (_handle, base, c) = emulator().await;
    call(&c, Method::PUT, &format!("{base}/topics/topic1"), None).await;
    let sub = json!({"topic": "projects/rest/topics/topic1", "retainAckedMessages": true});
    call(&c, Method::PUT, &format!("{base}/subscriptions/sub1"), Some(sub)).await;
    call(
        &c,
        Method::POST,
        &format!("{base}/topics/topic1:publish"),
        Some(publish_body(b"one")),
    )
    .await;
    let create = json!({"subscription": "projects/rest/subscriptions/sub1", "labels": {"a": "b"}});
    let (status, snap) = call(&c, Method::PUT, &format!("{base}/snapshots/snap1x"), Some(create)).await;
    assert_eq!(status, 200, "{snap}");
    assert_eq!(snap["topic"], "projects/rest/topics/topic1");
    assert!(snap["expireTime"].as_str().unwrap().ends_with('Z'));
    let pull = |c: reqwest::Client, url: String| async move {
        let (_, pulled) = call(
            &c,
            Method::POST,
            &url,
            Some(json!({"maxMessages": 10, "returnImmediately": true})),
        )
        .await;
        let received = pulled["receivedMessages"].as_array().cloned().unwrap_or_default();
        let ids: Vec<Value> = received.iter().map(|r| r["ackId"].clone()).collect();
        call(
            &c,
            Method::POST,
            &url.replace(":pull", ":acknowledge"),
            Some(json!({"ackIds": ids})),
        )
        .await;
        received.len()
    };
    let pull_url = format!("{base}/subscriptions/sub1:pull");
    assert_eq!(pull(c.clone(), pull_url.clone()).await, 1);
    let seek = format!("{base}/subscriptions/sub1:seek");
    let (status, _) = call(
        &c,
        Method::POST,
        &seek,
        Some(json!({"snapshot": "projects/rest/snapshots/snap1x"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        pull(c.clone(), pull_url.clone()).await,
        1,
        "the snapshot held it unacked"
    );
    let (status, _) = call(
        &c,
        Method::POST,
        &seek,
        Some(json!({"time": "2000-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        pull(c.clone(), pull_url.clone()).await,
        1,
        "retained acked message comes back"
    );
    let (status, err) = call(&c, Method::POST, &seek, Some(json!({}))).await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let patch = json!({"snapshot": {"labels": {"a": "c"}}, "updateMask": "labels"});
    let (status, patched) = call(
        &c,
        Method::PATCH,
        &format!("{base}/snapshots/snap1x"),
        Some(patch),
    )
    .await;
    assert_eq!((status, patched["labels"]["a"].as_str()), (200, Some("c")));
    let (_, listed) = call(&c, Method::GET, &format!("{base}/snapshots"), None).await;
    assert_eq!(listed["snapshots"][0]["name"], "projects/rest/snapshots/snap1x");
    let (_, by_topic) = call(&c, Method::GET, &format!("{base}/topics/topic1/snapshots"), None).await;
    assert_eq!(by_topic["snapshots"], json!(["projects/rest/snapshots/snap1x"]));
    let (status, _) = call(&c, Method::DELETE, &format!("{base}/snapshots/snap1x"), None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&c, Method::GET, &format!("{base}/snapshots/snap1x"), None).await;
    assert_eq!(status, 404);

    for (method, path, words) in [
        (
            Method::POST,
            "subscriptions/sub1:detach",
            "Detaching a subscription",
        ),
        (
            Method::POST,
            "topics/topic1:getIamPolicy",
            "IAM policies (getIamPolicy)",
        ),
        (Method::GET, "schemas", "Schemas (projects.schemas)"),
    ] {
        let (status, err) = call(&c, method, &format!("{base}/{path}"), None).await;
        assert_eq!(
            (status, err["error"]["status"].as_str()),
            (501, Some("UNIMPLEMENTED")),
            "{path}"
        );
        assert!(err["error"]["message"].as_str().unwrap().contains(words), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_failures_carry_error_info_over_rest_and_confirmations_on_the_stream() {
    let (handle, base, c) = emulator().await;
    call(&c, Method::PUT, &format!("{base}/topics/topic2"), None).await;
    let sub = json!({"topic": "projects/rest/topics/topic2", "enableExactlyOnceDelivery": true});
    let (_, created) = call(&c, Method::PUT, &format!("{base}/subscriptions/eod"), Some(sub)).await;
    assert_eq!(created["enableExactlyOnceDelivery"], true);
    let push = json!({"pushConfig": {"pushEndpoint": "http://127.0.0.1:9/push"}});
    let patch = json!({"subscription": push, "updateMask": "pushConfig"});
    let (status, err) = call(
        &c,
        Method::PATCH,
        &format!("{base}/subscriptions/eod"),
        Some(patch),
    )
    .await;
    assert_eq!(status, 400, "exactly-once is for pull subscriptions only: {err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pull subscriptions only")
    );
    let ack = json!({"ackIds": ["bogus"]});
    let (status, err) = call(
        &c,
        Method::POST,
        &format!("{base}/subscriptions/eod:acknowledge"),
        Some(ack),
    )
    .await;
    assert_eq!(status, 400);
    let detail = &err["error"]["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(detail["reason"], "EXACTLY_ONCE_ACKID_FAILURE");
    assert_eq!(
        detail["metadata"],
        json!({"bogus": "PERMANENT_FAILURE_INVALID_ACK_ID"})
    );

    call(
        &c,
        Method::POST,
        &format!("{base}/topics/topic2:publish"),
        Some(publish_body(b"x")),
    )
    .await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", handle.local_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (requests, outbound) = tokio::sync::mpsc::channel(4);
    requests
        .send(StreamingPullRequest {
            subscription: "projects/rest/subscriptions/eod".into(),
            stream_ack_deadline_seconds: 60,
            ..StreamingPullRequest::default()
        })
        .await
        .unwrap();
    let mut inbound = SubscriberClient::new(channel)
        .streaming_pull(tokio_stream::wrappers::ReceiverStream::new(outbound))
        .await
        .unwrap()
        .into_inner();
    let first = inbound.message().await.unwrap().unwrap();
    assert_eq!(
        first
            .subscription_properties
            .map(|p| p.exactly_once_delivery_enabled),
        Some(true)
    );
    let ack_id = first.received_messages[0].ack_id.clone();
    requests
        .send(StreamingPullRequest {
            ack_ids: vec![ack_id.clone(), "bogus".into()],
            ..StreamingPullRequest::default()
        })
        .await
        .unwrap();
    let confirmation = inbound.message().await.unwrap().unwrap();
    let acks = confirmation.acknowledge_confirmation.unwrap();
    assert_eq!(
        (acks.ack_ids, acks.invalid_ack_ids),
        (vec![ack_id], vec!["bogus".to_owned()])
    );
}
