//! The strict MQTT 3.1.1 checks as a session applies them to raw bytes ([`Session::read`]), and
//! the profile's refusal of a Last Will and of keep-alive 0.

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, LastWill, Packet, Subscribe};

use super::*;
use crate::profile::Unsupported;

fn bytes(packet: Packet) -> BytesMut {
    let mut out = BytesMut::new();
    packet.write(&mut out, usize::MAX).unwrap();
    out
}

/// Reads `input` to the end, handing packets to the session; every action, in order.
fn feed(session: &mut Session, mut input: BytesMut, registry: &FakeRegistry) -> Vec<Action> {
    let mut actions = Vec::new();
    loop {
        match session.read(&mut input, 1 << 20) {
            Read::Packet(packet) => actions.extend(session.packet(packet, T0, registry)),
            Read::NeedMore => return actions,
            Read::Closed(closing) => actions.extend(closing),
        }
    }
}

fn good_connect() -> BytesMut {
    bytes(connect_packet(&client_id("pi-1"), GOOD))
}

fn connack(code: ConnectReturnCode) -> Action {
    Action::Send(Packet::ConnAck(ConnAck::new(code, false)))
}

#[test]
fn a_level_other_than_4_gets_connack_1_then_a_close() {
    for level in [3u8, 5, 6] {
        let mut input = good_connect();
        // Fixed header (2 bytes), name length (2), `MQTT` (4), then the level.
        input[8] = level;
        let mut s = session(Profile::google());
        let actions = feed(&mut s, input, &FakeRegistry::default());
        assert_eq!(
            actions[0],
            connack(ConnectReturnCode::RefusedProtocolVersion),
            "level {level}"
        );
        assert!(
            matches!(close_cause(&actions), Some(Cause::Protocol(m)) if m.contains(&format!("level {level}")))
        );
        assert!(s.is_closed());
    }
}

#[test]
fn reserved_and_password_only_flags_close_without_connack() {
    for (flags, what) in [(0xc3u8, "reserved flag"), (0x42, "without the user-name flag")] {
        let mut input = good_connect();
        input[9] = flags;
        let mut s = session(Profile::google());
        let actions = feed(&mut s, input, &FakeRegistry::default());
        assert!(
            !actions.iter().any(|a| matches!(a, Action::Send(_))),
            "{what}: {actions:?}"
        );
        assert!(
            matches!(close_cause(&actions), Some(Cause::Protocol(m)) if m.contains(what)),
            "{actions:?}"
        );
    }
}

#[test]
fn wrong_fixed_header_flags_close_a_live_connection() {
    let registry = FakeRegistry::default();
    let subscribe = bytes(Packet::Subscribe(Subscribe::new(
        "/devices/pi-1/config",
        QoS::AtLeastOnce,
    )));
    for (packet, first) in [
        (bytes(Packet::PingReq), 0xc1u8),
        (subscribe.clone(), 0x80),
        (subscribe, 0x83),
        (
            bytes(publish("/devices/pi-1/events", QoS::AtMostOnce, 0, b"x")),
            0x36,
        ),
    ] {
        let mut s = connected(&registry);
        let mut input = packet;
        input[0] = first;
        let actions = feed(&mut s, input, &registry);
        assert!(
            matches!(close_cause(&actions), Some(Cause::Protocol(m)) if m.contains("fixed-header flags")),
            "{first:#04x}: {actions:?}"
        );
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Event(Event::Disconnected { .. })))
        );
    }
}

#[test]
fn each_check_switched_off_lets_its_packet_through() {
    let registry = FakeRegistry::default();
    let mut input = good_connect();
    input[8] = 5;
    let lenient = Profile::google().with_safety(SafetyChecks::without(SafetyCheck::ProtocolLevel));
    let actions = feed(&mut session(lenient), input, &registry);
    assert!(
        !actions.contains(&connack(ConnectReturnCode::RefusedProtocolVersion)),
        "{actions:?}"
    );
    let mut input = good_connect();
    input[9] |= 0x01;
    let lenient = Profile::google().with_safety(SafetyChecks::without(SafetyCheck::ConnectReservedFlag));
    let actions = feed(&mut session(lenient), input, &registry);
    assert!(
        actions.contains(&connack(ConnectReturnCode::Success)),
        "{actions:?}"
    );
}

#[test]
fn a_last_will_and_keep_alive_0_are_refused_as_the_profile_says() {
    let registry = FakeRegistry::default();
    let with_will = || {
        let mut connect = Connect::new(client_id("pi-1"));
        connect.login = Some(Login::new("unused", GOOD));
        connect.keep_alive = 60;
        connect.last_will = Some(LastWill::new(
            "/devices/pi-1/state",
            "gone",
            QoS::AtMostOnce,
            false,
        ));
        Packet::Connect(connect)
    };
    let actions = session(Profile::google()).packet(with_will(), T0, &registry);
    assert_eq!(refusal(&actions), (5, "last-will-unsupported".to_owned()));
    let zero = connect_with_keep_alive(&client_id("pi-1"), GOOD, 0);
    let actions = session(Profile::google()).packet(zero.clone(), T0, &registry);
    assert_eq!(refusal(&actions), (5, "keep-alive-required".to_owned()));
    let accepting = Profile {
        last_will: Unsupported::Accept,
        keep_alive_zero: Unsupported::Accept,
        ..Profile::google()
    };
    for packet in [with_will(), zero] {
        let actions = session(accepting.clone()).packet(packet, T0, &registry);
        assert!(
            actions.contains(&connack(ConnectReturnCode::Success)),
            "{actions:?}"
        );
    }
}
