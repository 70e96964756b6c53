//! The embedded emulator judged by an independent Rust Pub/Sub client (`gcloud-pubsub`) over
//! gRPC: topics and subscriptions, 100 messages with attributes through unary pull and
//! streaming pull, acks, nacks and redelivery, Google's status codes for bad requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};

use fleetgate_pubsub::{EmulatorConfig, EmulatorHandle, start};
use gcloud_gax::conn::Environment;
use gcloud_googleapis::pubsub::v1::PubsubMessage;
use gcloud_pubsub::client::{Client, ClientConfig};
use gcloud_pubsub::subscription::SubscriptionConfig;
use tokio_stream::StreamExt;

async fn emulator_and_client() -> (EmulatorHandle, Client) {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let config = ClientConfig {
        environment: Environment::Emulator(handle.local_addr().to_string()),
        project_id: Some("fleet".into()),
        ..ClientConfig::default()
    };
    (handle, Client::new(config).await.unwrap())
}

fn message(i: usize) -> PubsubMessage {
    PubsubMessage {
        data: format!("payload-{i}").into_bytes(),
        attributes: HashMap::from([
            ("deviceId".into(), format!("pi-{i:03}")),
            ("seq".into(), i.to_string()),
        ]),
        ..PubsubMessage::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_messages_by_unary_and_streaming_pull_with_no_redelivery_after_ack() {
    let (handle, client) = emulator_and_client().await;
    let topic = client.create_topic("telemetry", None, None).await.unwrap();
    let unary = client
        .create_subscription(
            "by-pull",
            topic.fully_qualified_name(),
            SubscriptionConfig::default(),
            None,
        )
        .await
        .unwrap();
    let streaming = client
        .create_subscription(
            "by-stream",
            topic.fully_qualified_name(),
            SubscriptionConfig::default(),
            None,
        )
        .await
        .unwrap();
    let publisher = topic.new_publisher(None);
    let mut expected = BTreeMap::new();
    for awaiter in publisher.publish_bulk((0..100).map(message).collect()).await {
        let id = awaiter.get().await.unwrap();
        let seq = expected.len();
        expected.insert(id, message(seq));
    }
    assert_eq!(expected.len(), 100, "message ids are unique");

    let mut by_pull = BTreeMap::new();
    while by_pull.len() < 100 {
        for received in unary.pull(100, None).await.unwrap() {
            by_pull.insert(received.message.message_id.clone(), received.message.clone());
            received.ack().await.unwrap();
        }
    }

    let mut stream = streaming.subscribe(None).await.unwrap();
    let mut by_stream = BTreeMap::new();
    while by_stream.len() < 100 {
        let received = stream.next().await.unwrap();
        assert!(
            by_stream
                .insert(received.message.message_id.clone(), received.message.clone())
                .is_none(),
            "no message is delivered twice"
        );
        received.ack().await.unwrap();
    }
    stream.dispose().await;

    for got in [&by_pull, &by_stream] {
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (id, message) in got {
            assert_eq!(message.data, expected[id].data);
            assert_eq!(message.attributes, expected[id].attributes);
            assert!(message.publish_time.is_some());
        }
    }
    let broker = handle.emulator().broker();
    for sub in [unary.fully_qualified_name(), streaming.fully_qualified_name()] {
        assert!(
            broker.subscription(sub).unwrap().queue.is_empty(),
            "{sub}: acked messages are gone"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_message_is_redelivered_with_the_next_attempt() {
    let (_handle, client) = emulator_and_client().await;
    let topic = client.create_topic("nacks", None, None).await.unwrap();
    let sub = client
        .create_subscription(
            "nacks-sub",
            topic.fully_qualified_name(),
            SubscriptionConfig::default(),
            None,
        )
        .await
        .unwrap();
    topic
        .new_publisher(None)
        .publish(message(1))
        .await
        .get()
        .await
        .unwrap();
    let first = sub.pull(10, None).await.unwrap();
    assert_eq!(first.len(), 1);
    first[0].nack().await.unwrap();
    let second = sub.pull(10, None).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message.message_id, first[0].message.message_id);
    assert_ne!(second[0].ack_id(), first[0].ack_id());
    second[0].ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_googles_status_codes() {
    let (_handle, client) = emulator_and_client().await;
    let missing = client.topic("missing").exists(None).await.unwrap();
    assert!(!missing, "GetTopic of an unknown topic is NOT_FOUND");
    client.create_topic("dup-topic", None, None).await.unwrap();
    let dup = client.create_topic("dup-topic", None, None).await.unwrap_err();
    assert_eq!(dup.code(), tonic::Code::AlreadyExists, "{dup:?}");
    let bad = client.create_topic("x", None, None).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    assert!(bad.message().contains("projects/fleet/topics/x"), "{bad:?}");
    let orphan = client
        .create_subscription(
            "orphan",
            "projects/fleet/topics/nope",
            SubscriptionConfig::default(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(orphan.code(), tonic::Code::NotFound, "{orphan:?}");
    let deadline = SubscriptionConfig {
        ack_deadline_seconds: 601,
        ..SubscriptionConfig::default()
    };
    let too_long = client
        .create_subscription("too-long", "projects/fleet/topics/dup-topic", deadline, None)
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), tonic::Code::InvalidArgument, "{too_long:?}");
}
