//! The bridge judged by a real MQTT client (rumqttc) over real TLS on loopback: CONNACK codes,
//! PUBACK only after Pub/Sub accepted, topic rules, one connection per device, and bad bytes.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::{client, error, next_event, start, tls_stream, until};
use fleetgate_bridge::events::{Cause, Event, Verdict};
use rumqttc::{ConnectReturnCode, ConnectionError, Event as MqttEvent, Packet, QoS};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn qos1_telemetry_reaches_pubsub_with_its_attributes_before_the_puback() {
    let h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    client
        .publish("/devices/pi-1/events", QoS::AtLeastOnce, false, b"21.5C".to_vec())
        .await
        .unwrap();
    until(&mut events, |p| matches!(p, Packet::PubAck(_))).await;
    let stored = h.pubsub.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "stored before the PUBACK arrived");
    assert_eq!(stored[0].data.as_ref(), b"21.5C");
    assert_eq!(stored[0].topic, "projects/demo-project/topics/telemetry");
    let num_id = h.store.get("pi-1").unwrap().num_id.to_string();
    let expected: BTreeMap<String, String> = [
        ("deviceId", "pi-1"),
        ("deviceNumId", num_id.as_str()),
        ("deviceRegistryId", "pi-fleet"),
        ("deviceRegistryLocation", "us-central1"),
        ("projectId", "demo-project"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(stored[0].attributes, expected);
    assert_eq!(h.bridge.connected_devices(), ["pi-1"]);
}

#[tokio::test]
async fn a_refused_token_gets_connack_5_and_the_reason_is_recorded() {
    let mut h = start().await;
    let forged = common::jwt(&common::key());
    let (_client, mut events) = client(&h, "pi-1", &forged);
    let error = error(&mut events).await;
    assert!(
        matches!(
            error,
            ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)
        ),
        "{error:?}"
    );
    let event = next_event(&mut h, |e| matches!(e, Event::ConnectAttempt(_))).await;
    let Event::ConnectAttempt(attempt) = event else {
        unreachable!()
    };
    assert_eq!(
        attempt.verdict,
        Verdict::Refused {
            connack: 5,
            reason: "bad-signature".into()
        }
    );
    let claims = attempt.claims.unwrap();
    assert_eq!(
        (claims.alg.as_deref(), claims.aud.as_deref()),
        (Some("ES256"), Some("demo-project"))
    );
    assert_eq!(
        claims.exp.unwrap() - claims.iat.unwrap(),
        3600,
        "the claims presented are recorded"
    );
}

#[tokio::test]
async fn telemetry_pubsub_refuses_is_never_acknowledged() {
    let mut h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    client
        .publish(
            "/devices/pi-1/events",
            QoS::AtLeastOnce,
            false,
            b"reject".to_vec(),
        )
        .await
        .unwrap();
    loop {
        match events.poll().await {
            Ok(MqttEvent::Incoming(Packet::PubAck(_))) => panic!("acknowledged a message Pub/Sub refused"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let event = next_event(&mut h, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        event,
        Event::Disconnected {
            device: "pi-1".into(),
            cause: Cause::ForwardFailed("pubsub refused".into())
        }
    );
}

#[tokio::test]
async fn publishing_for_another_device_closes_the_connection() {
    let mut h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    client
        .publish("/devices/pi-2/events", QoS::AtLeastOnce, false, b"x".to_vec())
        .await
        .unwrap();
    error(&mut events).await;
    let event = next_event(&mut h, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        event,
        Event::Disconnected {
            device: "pi-1".into(),
            cause: Cause::TopicNotAllowed("/devices/pi-2/events".into())
        }
    );
}

#[tokio::test]
async fn a_second_connection_of_a_device_replaces_the_first() {
    let mut h = start().await;
    let (_first, mut first_events) = client(&h, "pi-1", "good");
    until(&mut first_events, |p| matches!(p, Packet::ConnAck(_))).await;
    let (_second, mut second_events) = client(&h, "pi-1", "good");
    until(&mut second_events, |p| matches!(p, Packet::ConnAck(_))).await;
    error(&mut first_events).await;
    let event = next_event(&mut h, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        event,
        Event::Disconnected {
            device: "pi-1".into(),
            cause: Cause::Replaced
        }
    );
    assert_eq!(h.bridge.connected_devices(), ["pi-1"]);
}

#[tokio::test]
async fn the_config_follows_the_suback_and_commands_need_a_subscription() {
    let h = start().await;
    let (client, mut events) = client(&h, "pi-1", "good");
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    assert!(
        h.bridge
            .send_command("pi-1", None, Bytes::from_static(b"reboot"))
            .await
            .is_err()
    );
    client
        .subscribe("/devices/pi-1/config", QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .subscribe("/devices/pi-1/commands/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let Packet::Publish(config) = until(&mut events, |p| matches!(p, Packet::Publish(_))).await else {
        unreachable!()
    };
    assert_eq!(
        (config.topic.as_str(), config.payload.as_ref()),
        ("/devices/pi-1/config", b"{\"led\":true}".as_ref())
    );
    until(&mut events, |p| matches!(p, Packet::SubAck(s) if s.pkid == 2)).await;
    let bridge = &h.bridge;
    let (sent, received) = tokio::join!(
        bridge.send_command("pi-1", Some("ops"), Bytes::from_static(b"reboot")),
        until(
            &mut events,
            |p| matches!(p, Packet::Publish(p) if p.topic.contains("commands"))
        )
    );
    sent.unwrap();
    let Packet::Publish(command) = received else {
        unreachable!()
    };
    assert_eq!(
        (command.topic.as_str(), command.payload.as_ref()),
        ("/devices/pi-1/commands/ops", b"reboot".as_ref())
    );
}

#[tokio::test]
async fn tls_junk_and_mqtt_junk_are_dropped_with_a_recorded_reason() {
    let mut h = start().await;
    let mut raw = TcpStream::connect(h.bridge.local_addr()).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let Event::Dropped { reason } = next_event(&mut h, |e| matches!(e, Event::Dropped { .. })).await else {
        unreachable!()
    };
    assert!(reason.starts_with("tls:"), "{reason}");

    for (bytes, expected) in [
        (&[0xC0u8, 0x00][..], "protocol: PINGREQ before CONNECT"),
        (&[0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01][..], "malformed: "),
        (&[0xF0, 0x00][..], "protocol: a reserved packet type"),
    ] {
        let mut tls = tls_stream(&h).await;
        tls.write_all(bytes).await.unwrap();
        tls.flush().await.unwrap();
        let Event::Dropped { reason } = next_event(&mut h, |e| matches!(e, Event::Dropped { .. })).await
        else {
            unreachable!()
        };
        assert!(reason.starts_with(expected), "{reason}");
    }
    h.bridge.shutdown().await;
}

#[tokio::test]
async fn a_gateway_attaches_a_bound_device_with_its_jwt_and_publishes_for_it() {
    let h = start().await;
    let gateway_key = common::key();
    h.store
        .create("gw-1", vec![common::credential(&gateway_key)], true, 0)
        .unwrap();
    h.store.bind("gw-1", "pi-1", true).unwrap();
    let (client, mut events) = client(&h, "gw-1", &common::jwt(&gateway_key));
    until(&mut events, |p| matches!(p, Packet::ConnAck(_))).await;
    let attach = format!(
        "{{\"device_id\":\"pi-1\",\"authorization\":\"{}\"}}",
        h.token("pi-1")
    );
    client
        .publish(
            "/devices/gw-1/attach",
            QoS::AtLeastOnce,
            false,
            attach.into_bytes(),
        )
        .await
        .unwrap();
    until(&mut events, |p| matches!(p, Packet::PubAck(_))).await;
    client
        .publish(
            "/devices/pi-1/events",
            QoS::AtLeastOnce,
            false,
            b"via gateway".to_vec(),
        )
        .await
        .unwrap();
    until(&mut events, |p| matches!(p, Packet::PubAck(_))).await;
    let stored = h.pubsub.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].attributes["deviceId"], "pi-1");
    assert_eq!(stored[0].data.as_ref(), b"via gateway");
}
