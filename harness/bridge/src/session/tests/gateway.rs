//! Gateways: attaching a bound device with its JWT, speaking for it, detaching, and errors.

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck};

use super::*;

fn connected_gateway(registry: &FakeRegistry) -> Session {
    let mut s = session(Profile::google());
    let actions = s.packet(connect_packet(&client_id("gw"), GOOD), T0, registry);
    assert_eq!(actions[0], Action::Claim("gw".into()));
    s.packet(
        subscribe(&[("/devices/gw/errors", QoS::AtMostOnce)]),
        T0,
        registry,
    );
    s
}

fn attach(device: &str, jwt: &str) -> Packet {
    let body = format!("{{\"device_id\":\"{device}\",\"authorization\":\"{jwt}\"}}");
    publish("/devices/gw/attach", QoS::AtLeastOnce, 11, body.as_bytes())
}

fn errors(actions: &[Action]) -> Vec<String> {
    sent_publishes(actions)
        .into_iter()
        .filter(|(topic, _, _)| topic == "/devices/gw/errors")
        .map(|(_, body, _)| {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            value["error_type"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn a_gateway_speaks_for_a_bound_device_once_attached_with_its_jwt() {
    let registry = FakeRegistry::default();
    let mut s = connected_gateway(&registry);
    let before = s.packet(
        publish("/devices/pi-1/events", QoS::AtLeastOnce, 3, b"x"),
        T0,
        &registry,
    );
    assert_eq!(errors(&before), ["GATEWAY_DEVICE_NOT_ATTACHED"]);
    assert!(
        !before
            .iter()
            .any(|a| matches!(a, Action::Forward(_) | Action::Send(Packet::PubAck(_)))),
        "{before:?}"
    );

    let attached = s.packet(attach("pi-1", GOOD), T0 + 1, &registry);
    assert!(attached.contains(&Action::Send(Packet::PubAck(PubAck::new(11)))));
    assert!(attached.contains(&Action::Claim("pi-1".into())));
    assert!(errors(&attached).is_empty());

    let forwarded = s.packet(
        publish("/devices/pi-1/events", QoS::AtLeastOnce, 4, b"x"),
        T0 + 2,
        &registry,
    );
    assert!(
        matches!(&forwarded[0], Action::Forward(t) if t.device == "pi-1" && t.device_num_id == 101),
        "{forwarded:?}"
    );

    let detached = s.packet(
        publish(
            "/devices/gw/detach",
            QoS::AtLeastOnce,
            12,
            b"{\"device_id\":\"pi-1\"}",
        ),
        T0 + 3,
        &registry,
    );
    assert!(detached.contains(&Action::Release("pi-1".into())));
    let after = s.packet(
        publish("/devices/pi-1/events", QoS::AtMostOnce, 0, b"x"),
        T0 + 4,
        &registry,
    );
    assert_eq!(errors(&after), ["GATEWAY_DEVICE_NOT_ATTACHED"]);
}

#[test]
fn attach_errors_name_what_went_wrong() {
    let registry = FakeRegistry::default();
    let mut s = connected_gateway(&registry);
    assert_eq!(
        errors(&s.packet(attach("ghost", GOOD), T0, &registry)),
        ["GATEWAY_DEVICE_NOT_FOUND"]
    );
    assert_eq!(
        errors(&s.packet(attach("blocked", GOOD), T0, &registry)),
        ["GATEWAY_DEVICE_NOT_FOUND"]
    );
    assert_eq!(
        errors(&s.packet(attach("gw", GOOD), T0, &registry)),
        ["GATEWAY_ATTACHMENT_ERROR"],
        "not bound to itself"
    );
    assert_eq!(
        errors(&s.packet(attach("pi-1", "forged"), T0, &registry)),
        ["GATEWAY_ATTACHMENT_ERROR"]
    );
    let garbage = s.packet(
        publish("/devices/gw/attach", QoS::AtLeastOnce, 5, b"not json"),
        T0,
        &registry,
    );
    assert_eq!(errors(&garbage), ["GATEWAY_ATTACHMENT_ERROR"]);
    assert!(!s.is_closed(), "attach errors do not close the gateway");
}
