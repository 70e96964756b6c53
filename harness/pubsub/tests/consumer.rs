//! The harness consumer against the embedded emulator in-process and over gRPC (as it would
//! consume from Google's emulator): every message counted once, latency from payload stamps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_pubsub::{Consumer, Delivery, EmulatorConfig, LatencyRecorder, Source, start};
use gcloud_googleapis::pubsub::v1::{PubsubMessage, Subscription, Topic};

/// The test payload format: the intended send time as 8 big-endian bytes of µs since the epoch.
fn stamp(delivery: &Delivery) -> Option<SystemTime> {
    let micros = u64::from_be_bytes(delivery.data.get(..8)?.try_into().ok()?);
    Some(UNIX_EPOCH + Duration::from_micros(micros))
}

fn stamped(at: SystemTime) -> PubsubMessage {
    let micros = u64::try_from(at.duration_since(UNIX_EPOCH).unwrap().as_micros()).unwrap();
    PubsubMessage {
        data: micros.to_be_bytes().to_vec(),
        ..PubsubMessage::default()
    }
}

async fn consume(external: bool) {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let emulator = handle.emulator().clone();
    emulator
        .create_topic(Topic {
            name: "projects/p/topics/telemetry".into(),
            ..Topic::default()
        })
        .unwrap();
    let sub = "projects/p/subscriptions/harness";
    let config = Subscription {
        name: sub.into(),
        topic: "projects/p/topics/telemetry".into(),
        ..Subscription::default()
    };
    emulator.create_subscription(config).unwrap();
    let source = if external {
        Source::External(handle.local_addr().to_string())
    } else {
        Source::Embedded(emulator.clone())
    };
    let consumer = Consumer::start(source, sub.into(), LatencyRecorder::new(stamp));

    let long_ago = SystemTime::now() - Duration::from_secs(5);
    let mut messages: Vec<PubsubMessage> = (0..49).map(|_| stamped(long_ago)).collect();
    messages.push(PubsubMessage {
        data: b"no".to_vec(),
        ..PubsubMessage::default()
    });
    emulator.publish("projects/p/topics/telemetry", messages).unwrap();

    let wait = async {
        loop {
            let wake = emulator.broker().subscription(sub).unwrap().wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if emulator.broker().subscription(sub).unwrap().queue.is_empty() {
                return;
            }
            notified.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("the consumer acks everything");
    let recorder = consumer.stop().await.unwrap();
    assert_eq!(recorder.delivered(), 50);
    assert_eq!(recorder.unstamped(), 1);
    assert_eq!(recorder.histogram().len(), 49);
    let min = recorder
        .histogram()
        .highest_equivalent(recorder.histogram().min());
    assert!(
        min >= 5_000_000,
        "latency counts from the stamp, not the publish: {min} µs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_consumer_counts_deliveries_and_latency_from_stamps() {
    consume(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_consumer_over_streaming_pull_counts_the_same() {
    consume(true).await;
}
