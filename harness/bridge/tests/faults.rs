//! Injected faults, observed by a real MQTT client: refused connects, stalled forwarding that
//! holds PUBACKs back, PUBACK delays, and a listener restart, with the bridge's clock moved
//! instead of waiting.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::time::Duration;

use common::{client, error, next_event, start, until};
use fleetgate_bridge::events::{Event, Verdict};
use fleetgate_bridge::faults::REFUSED_BY_FAULT;
use rumqttc::{ConnectReturnCode, ConnectionError, Event as MqttEvent, Packet, QoS};

#[tokio::test]
async fn the_next_n_connects_of_a_device_are_refused() {
    let mut h = start().await;
    h.bridge.faults().refuse_next("pi-1", 2);
    for _ in 0..2 {
        let (_client, mut events) = client(&h, "pi-1", "good");
        let e = error(&mut events).await;
        assert!(
            matches!(
                e,
                ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)
            ),
            "{e:?}"
        );
        let Event::ConnectAttempt(attempt) =
            next_event(&mut h, |e| matches!(e, Event::ConnectAttempt(_))).await
        else {
            unreachable!()
        };
        assert_eq!(
            attempt.verdict,
            Verdict::Refused {
                connack: 5,
                reason: REFUSED_BY_FAULT.into()
            }
        );
    }
    let (_client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
}

#[tokio::test]
async fn stalled_forwarding_holds_the_puback_until_resumed() {
    let h = start().await;
    let (mqtt, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    h.bridge.faults().stall_forwarding(true);
    h.bridge.faults().delay_pubacks(Duration::from_millis(1));
    mqtt.publish("/devices/pi-1/events", QoS::AtLeastOnce, false, b"held".to_vec())
        .await
        .unwrap();
    // The bridge handles packets in order: once the SUBACK is back, the publish was handled.
    mqtt.subscribe("/devices/pi-1/config", QoS::AtMostOnce)
        .await
        .unwrap();
    loop {
        match events.poll().await.unwrap() {
            MqttEvent::Incoming(Packet::PubAck(_)) => panic!("acknowledged while forwarding is stalled"),
            MqttEvent::Incoming(Packet::SubAck(_)) => break,
            _ => {}
        }
    }
    assert!(
        h.pubsub.0.lock().unwrap().is_empty(),
        "nothing forwarded while stalled"
    );
    h.bridge.faults().stall_forwarding(false);
    until(&mut events, |p| matches!(p, Packet::PubAck(_))).await;
    assert_eq!(h.pubsub.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_listener_restart_drops_everyone_and_refuses_until_it_is_back() {
    let mut h = start().await;
    let (_first, mut first_events) = client(&h, "pi-1", "good");
    until(&mut first_events, |p| matches!(p, Packet::ConnAck(_))).await;
    h.bridge.restart_listener(Duration::from_secs(3600)).await;
    error(&mut first_events).await;
    let (_second, mut second_events) = client(&h, "pi-2", "good");
    error(&mut second_events).await;
    let Event::Dropped { reason } = next_event(&mut h, |e| matches!(e, Event::Dropped { .. })).await else {
        unreachable!()
    };
    assert_eq!(reason, "listener down (injected fault)");
    h.clock.advance(Duration::from_secs(3600));
    let (_third, mut third_events) = client(&h, "pi-2", "good");
    until(&mut third_events, |p| matches!(p, Packet::ConnAck(_))).await;
}
