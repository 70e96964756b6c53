//! Dead-lettering end to end on the emulator: a message nacked `maxDeliveryAttempts` times moves
//! to the dead-letter topic with Google's `CloudPubSubDeadLetter*` attributes, carries its
//! `delivery_attempt` on every delivery, and leaves the source subscription.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::HashMap;

use fleetgate_pubsub::{Emulator, EmulatorConfig};
use gcloud_googleapis::pubsub::v1::{DeadLetterPolicy, PubsubMessage, Subscription, Topic};

const TOPIC: &str = "projects/fleet/topics/events";
const DEAD: &str = "projects/fleet/topics/events-dead";
const SUB: &str = "projects/fleet/subscriptions/events";
const DEAD_SUB: &str = "projects/fleet/subscriptions/events-dead";

fn topic(name: &str) -> Topic {
    Topic {
        name: name.into(),
        ..Topic::default()
    }
}

#[tokio::test]
async fn a_message_nacked_max_attempts_times_is_dead_lettered_with_its_source() {
    let emulator = Emulator::new(EmulatorConfig::default());
    emulator.create_topic(topic(TOPIC)).unwrap();
    emulator.create_topic(topic(DEAD)).unwrap();
    let policy = DeadLetterPolicy {
        dead_letter_topic: DEAD.into(),
        max_delivery_attempts: 5,
    };
    let source = Subscription {
        name: SUB.into(),
        topic: TOPIC.into(),
        dead_letter_policy: Some(policy),
        ..Subscription::default()
    };
    emulator.create_subscription(source).unwrap();
    emulator
        .create_subscription(Subscription {
            name: DEAD_SUB.into(),
            topic: DEAD.into(),
            ..Subscription::default()
        })
        .unwrap();
    let message = PubsubMessage {
        data: b"poison".to_vec(),
        attributes: HashMap::from([("deviceId".into(), "pi-9".into())]),
        ..PubsubMessage::default()
    };
    emulator.publish(TOPIC, vec![message]).unwrap();

    let mut attempts = Vec::new();
    for _ in 0..10 {
        let received = emulator.pull(SUB, 10, true).await.unwrap();
        let Some(first) = received.first() else { break };
        attempts.push(first.delivery_attempt);
        emulator
            .modify_ack_deadline(SUB, std::slice::from_ref(&first.ack_id), 0)
            .unwrap();
    }
    assert_eq!(
        attempts,
        [1, 2, 3, 4, 5],
        "delivered exactly maxDeliveryAttempts times"
    );
    assert!(
        emulator.pull(SUB, 10, true).await.unwrap().is_empty(),
        "gone from the source"
    );

    let dead = emulator.pull(DEAD_SUB, 10, true).await.unwrap();
    assert_eq!(dead.len(), 1);
    let moved = dead[0].message.clone().unwrap();
    assert_eq!(moved.data, b"poison");
    assert_eq!(moved.attributes["deviceId"], "pi-9");
    assert_eq!(
        moved.attributes["CloudPubSubDeadLetterSourceSubscription"],
        "events"
    );
    assert_eq!(moved.attributes["CloudPubSubDeadLetterSourceDeliveryCount"], "5");
}
