//! The session's rules, driven without sockets: time is an input.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Login, Packet, PubAck, Publish, SubAck, Subscribe, SubscribeFilter,
    SubscribeReasonCode,
};

use fleetgate_identity::jwt::PresentedClaims;

use super::*;
use crate::events::{Cause, Event, Verdict};
use crate::profile::PersistentSession;
use crate::safety::{SafetyCheck, SafetyChecks};

const T0: UnixMillis = 1_700_000_000_000;
const GOOD: &str = "good-jwt";

/// A registry with devices `pi-1` (num 101), `gw` (a gateway) and `blocked`; the JWT `good-jwt`
/// is accepted with exp = T0 + 1 h, anything else refused as `jwt-signature`.
#[derive(Default)]
struct FakeRegistry {
    configs: HashMap<String, ConfigVersion>,
}

impl Registry for FakeRegistry {
    fn device(&self, id: &str) -> Option<DeviceInfo> {
        match id {
            "pi-1" => Some(DeviceInfo {
                num_id: 101,
                blocked: false,
                gateway: false,
            }),
            "gw" => Some(DeviceInfo {
                num_id: 7,
                blocked: false,
                gateway: true,
            }),
            "blocked" => Some(DeviceInfo {
                num_id: 9,
                blocked: true,
                gateway: false,
            }),
            _ => None,
        }
    }
    fn is_bound(&self, gateway: &str, device: &str) -> bool {
        gateway == "gw" && device == "pi-1"
    }
    fn authenticate(&self, _device: &str, jwt: &str, now_secs: i64) -> AuthVerdict {
        let claims = Some(PresentedClaims {
            alg: Some("ES256".into()),
            kid: None,
            iat: Some(now_secs),
            exp: None,
            aud: None,
        });
        let result = if jwt == GOOD {
            Ok(T0 / 1000 + 3600)
        } else {
            Err("jwt-signature".into())
        };
        AuthVerdict { claims, result }
    }
    fn latest_config(&self, device: &str) -> Option<ConfigVersion> {
        self.configs.get(device).cloned()
    }
}

fn path() -> RegistryPath {
    RegistryPath {
        project: "demo-project".into(),
        region: "us-central1".into(),
        registry: "pi-fleet".into(),
    }
}

fn client_id(device: &str) -> String {
    format!("projects/demo-project/locations/us-central1/registries/pi-fleet/devices/{device}")
}

/// A CONNECT with a one-hour keep-alive, so that only the tests of the keep-alive meet it.
fn connect_packet(client: &str, password: &str) -> Packet {
    connect_with_keep_alive(client, password, 3600)
}

fn connect_with_keep_alive(client: &str, password: &str, keep_alive: u16) -> Packet {
    let mut connect = Connect::new(client);
    connect.login = Some(Login::new("unused", password));
    connect.keep_alive = keep_alive;
    Packet::Connect(connect)
}

fn session(profile: Profile) -> Session {
    Session::new(path(), Arc::new(profile))
}

fn connected(registry: &FakeRegistry) -> Session {
    let mut s = session(Profile::google());
    let actions = s.packet(connect_packet(&client_id("pi-1"), GOOD), T0, registry);
    assert!(actions.contains(&Action::Send(Packet::ConnAck(ConnAck::new(
        ConnectReturnCode::Success,
        false
    )))));
    s
}

fn publish(topic: &str, qos: QoS, pkid: u16, payload: &[u8]) -> Packet {
    let mut p = Publish::new(topic, qos, payload.to_vec());
    p.pkid = pkid;
    Packet::Publish(p)
}

fn close_cause(actions: &[Action]) -> Option<&Cause> {
    actions.iter().find_map(|a| match a {
        Action::Close(cause) => Some(cause),
        _ => None,
    })
}

fn refusal(actions: &[Action]) -> (u8, String) {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Event(Event::ConnectAttempt(attempt)) => match &attempt.verdict {
                Verdict::Refused { connack, reason } => Some((*connack, reason.clone())),
                Verdict::Accepted | Verdict::Withheld => None,
            },
            _ => None,
        })
        .expect("a refused connect attempt")
}

#[test]
fn an_accepted_connect_claims_the_device_and_records_the_claims() {
    let registry = FakeRegistry::default();
    let mut s = session(Profile::google());
    let actions = s.packet(connect_packet(&client_id("pi-1"), GOOD), T0, &registry);
    assert_eq!(actions[0], Action::Claim("pi-1".into()));
    let Action::Event(Event::ConnectAttempt(attempt)) = &actions[2] else {
        panic!("{actions:?}")
    };
    assert_eq!(attempt.verdict, Verdict::Accepted);
    assert_eq!(attempt.server_time, T0);
    assert_eq!(attempt.claims.as_ref().and_then(|c| c.iat), Some(T0 / 1000));
    assert_eq!(s.device(), Some("pi-1"));
}

#[test]
fn refusals_use_the_profiles_connack_codes() {
    let registry = FakeRegistry::default();
    for (profile, code) in [(Profile::google(), 5), (Profile::clearblade(), 4)] {
        let mut s = session(profile);
        let actions = s.packet(connect_packet(&client_id("pi-1"), "forged"), T0, &registry);
        assert_eq!(refusal(&actions), (code, "jwt-signature".into()));
        let code_sent = actions.iter().find_map(|a| match a {
            Action::Send(Packet::ConnAck(ack)) => Some(ack.code as u8),
            _ => None,
        });
        assert_eq!(code_sent, Some(code));
        assert!(s.is_closed());
    }
}

#[test]
fn client_id_username_device_and_session_rules_are_enforced() {
    let registry = FakeRegistry::default();
    let cases: Vec<(Packet, (u8, &str))> = vec![
        (connect_packet("pi-1", GOOD), (2, "malformed-client-id")),
        (
            connect_packet(
                "projects/other/locations/us-central1/registries/pi-fleet/devices/pi-1",
                GOOD,
            ),
            (5, "other-registry"),
        ),
        (connect_packet(&client_id("ghost"), GOOD), (5, "unknown-device")),
        (connect_packet(&client_id("blocked"), GOOD), (5, "blocked-device")),
        (
            Packet::Connect(Connect::new(client_id("pi-1"))),
            (5, "no-username"),
        ),
    ];
    for (packet, (code, reason)) in cases {
        let actions = session(Profile::google()).packet(packet, T0, &registry);
        assert_eq!(refusal(&actions), (code, reason.to_owned()));
    }
    let mut strict = Profile::google();
    strict.persistent_session = PersistentSession::Reject(2);
    let Packet::Connect(mut persistent) = connect_packet(&client_id("pi-1"), GOOD) else {
        unreachable!()
    };
    persistent.clean_session = false;
    let actions = session(strict).packet(Packet::Connect(persistent.clone()), T0, &registry);
    assert_eq!(refusal(&actions), (2, "persistent-session".into()));
    let lenient = session(Profile::google()).packet(Packet::Connect(persistent), T0, &registry);
    assert_eq!(
        lenient[0],
        Action::Claim("pi-1".into()),
        "google treats clean session 0 as clean"
    );
}

#[test]
fn packets_before_connect_close_the_connection() {
    let mut s = session(Profile::google());
    let actions = s.packet(Packet::PingReq, T0, &FakeRegistry::default());
    assert_eq!(
        close_cause(&actions),
        Some(&Cause::Protocol("PINGREQ before CONNECT".into()))
    );
}

#[test]
fn qos1_telemetry_is_acked_only_after_pubsub_accepts_it() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    let actions = s.packet(
        publish("/devices/pi-1/events/alerts", QoS::AtLeastOnce, 7, b"hot"),
        T0 + 10,
        &registry,
    );
    assert_eq!(
        actions,
        [Action::Forward(Telemetry {
            pkid: Some(7),
            device: "pi-1".into(),
            device_num_id: 101,
            subfolder: Some("alerts".into()),
            payload: Bytes::from_static(b"hot"),
        })],
        "no PUBACK yet"
    );
    assert_eq!(
        s.forwarded(Some(7), Ok(())),
        [Action::Send(Packet::PubAck(PubAck::new(7)))]
    );
    let failed = s.forwarded(Some(8), Err("topic missing".into()));
    assert_eq!(
        close_cause(&failed),
        Some(&Cause::ForwardFailed("topic missing".into()))
    );
    assert!(
        !failed
            .iter()
            .any(|a| matches!(a, Action::Send(Packet::PubAck(_)))),
        "never ack what was not stored"
    );
}

#[test]
fn qos2_other_devices_and_unknown_topics_close_the_connection() {
    let registry = FakeRegistry::default();
    for (packet, cause) in [
        (
            publish("/devices/pi-1/events", QoS::ExactlyOnce, 1, b"x"),
            Cause::PublishQos2,
        ),
        (
            publish("/devices/pi-2/events", QoS::AtLeastOnce, 1, b"x"),
            Cause::TopicNotAllowed("/devices/pi-2/events".into()),
        ),
        (
            publish("/sensors/pi-1", QoS::AtMostOnce, 0, b"x"),
            Cause::TopicNotAllowed("/sensors/pi-1".into()),
        ),
        (
            publish("/devices/pi-1/attach", QoS::AtLeastOnce, 1, b"{}"),
            Cause::TopicNotAllowed("/devices/pi-1/attach".into()),
        ),
    ] {
        let mut s = connected(&registry);
        let actions = s.packet(packet, T0 + 1, &registry);
        assert_eq!(close_cause(&actions), Some(&cause));
        assert!(actions.contains(&Action::Event(Event::Disconnected {
            device: "pi-1".into(),
            cause
        })));
        assert!(s.is_closed());
    }
}

#[test]
fn oversize_payloads_and_fast_state_updates_close_the_connection() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    let big = vec![0u8; 256 * 1024 + 1];
    let actions = s.packet(
        publish("/devices/pi-1/events", QoS::AtMostOnce, 0, &big),
        T0,
        &registry,
    );
    assert_eq!(
        close_cause(&actions),
        Some(&Cause::PayloadTooLarge {
            bytes: big.len(),
            limit: 256 * 1024
        })
    );

    let mut s = connected(&registry);
    let first = s.packet(
        publish("/devices/pi-1/state", QoS::AtLeastOnce, 3, b"on"),
        T0,
        &registry,
    );
    assert_eq!(
        first[0],
        Action::StoreState {
            device: "pi-1".into(),
            payload: Bytes::from_static(b"on")
        }
    );
    assert_eq!(first[1], Action::Send(Packet::PubAck(PubAck::new(3))));
    let second = s.packet(
        publish("/devices/pi-1/state", QoS::AtMostOnce, 0, b"off"),
        T0 + 500,
        &registry,
    );
    assert_eq!(close_cause(&second), Some(&Cause::RateLimited));
}

#[test]
fn more_than_the_message_rate_closes_the_connection() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    for i in 0..100 {
        let actions = s.packet(
            publish("/devices/pi-1/events", QoS::AtMostOnce, 0, b"x"),
            T0 + i,
            &registry,
        );
        assert!(close_cause(&actions).is_none(), "message {i}");
    }
    let actions = s.packet(
        publish("/devices/pi-1/events", QoS::AtMostOnce, 0, b"x"),
        T0 + 999,
        &registry,
    );
    assert_eq!(close_cause(&actions), Some(&Cause::RateLimited));
}

fn subscribe(filters: &[(&str, QoS)]) -> Packet {
    let filters = filters
        .iter()
        .map(|(path, qos)| SubscribeFilter::new((*path).to_owned(), *qos))
        .collect();
    Packet::Subscribe(Subscribe { pkid: 4, filters })
}

#[test]
fn subscriptions_grant_at_most_qos1_and_refuse_other_devices() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    let actions = s.packet(
        subscribe(&[
            ("/devices/pi-1/config", QoS::ExactlyOnce),
            ("/devices/pi-1/commands/#", QoS::AtMostOnce),
            ("/devices/pi-2/config", QoS::AtLeastOnce),
            ("/devices/pi-1/errors", QoS::AtMostOnce),
        ]),
        T0,
        &registry,
    );
    assert_eq!(
        actions,
        [Action::Send(Packet::SubAck(SubAck::new(
            4,
            vec![
                SubscribeReasonCode::Success(QoS::AtLeastOnce),
                SubscribeReasonCode::Success(QoS::AtMostOnce),
                SubscribeReasonCode::Failure,
                SubscribeReasonCode::Failure,
            ]
        )))]
    );
    assert!(
        !s.is_closed(),
        "a refused subscription does not close the connection"
    );
}

fn config(version: i64, data: &'static [u8]) -> ConfigVersion {
    ConfigVersion {
        version,
        data: Bytes::from_static(data),
    }
}

fn sent_publishes(actions: &[Action]) -> Vec<(String, Vec<u8>, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(Packet::Publish(p)) => Some((p.topic.clone(), p.payload.to_vec(), p.dup)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_latest_config_follows_suback_and_qos1_redelivers_only_the_newest() {
    let mut registry = FakeRegistry::default();
    registry.configs.insert("pi-1".into(), config(3, b"v3"));
    let mut s = connected(&registry);
    let actions = s.packet(
        subscribe(&[("/devices/pi-1/config", QoS::AtLeastOnce)]),
        T0,
        &registry,
    );
    assert!(
        matches!(actions[0], Action::Send(Packet::SubAck(_))),
        "SUBACK first"
    );
    assert_eq!(
        sent_publishes(&actions),
        [("/devices/pi-1/config".to_owned(), b"v3".to_vec(), false)]
    );

    let newer = s.config("pi-1", config(4, b"v4"), T0 + 100);
    assert_eq!(
        sent_publishes(&newer),
        [("/devices/pi-1/config".to_owned(), b"v4".to_vec(), false)]
    );
    assert!(
        s.config("pi-1", config(3, b"v3"), T0 + 200).is_empty(),
        "an older version is never sent again"
    );

    let deadline = s.next_deadline().unwrap();
    assert_eq!(deadline, T0 + 100 + 10_000, "redelivery is the nearest deadline");
    let redelivered = s.tick(deadline);
    assert_eq!(
        sent_publishes(&redelivered),
        [("/devices/pi-1/config".to_owned(), b"v4".to_vec(), true)]
    );

    let Some(Action::Send(Packet::Publish(p))) = redelivered.first() else {
        panic!()
    };
    assert!(
        s.packet(Packet::PubAck(PubAck::new(p.pkid)), deadline + 1, &registry)
            .is_empty()
    );
    assert!(
        s.tick(deadline + 20_000).is_empty(),
        "acknowledged: no more redelivery"
    );
}

#[test]
fn qos0_config_is_sent_once_per_version() {
    let mut registry = FakeRegistry::default();
    registry.configs.insert("pi-1".into(), config(1, b"v1"));
    let mut s = connected(&registry);
    let actions = s.packet(
        subscribe(&[("/devices/pi-1/config", QoS::AtMostOnce)]),
        T0,
        &registry,
    );
    assert_eq!(sent_publishes(&actions).len(), 1);
    assert!(s.config("pi-1", config(1, b"v1"), T0 + 1).is_empty());
    assert_eq!(
        sent_publishes(&s.config("pi-1", config(2, b"v2"), T0 + 2)).len(),
        1
    );
    assert!(s.tick(T0 + 60_000).is_empty(), "no redelivery at QoS 0");
}

#[test]
fn commands_need_a_subscription() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    assert_eq!(
        s.command("pi-1", None, Bytes::from_static(b"reboot")),
        Err(CommandError::NotSubscribed)
    );
    s.packet(
        subscribe(&[("/devices/pi-1/commands/#", QoS::AtLeastOnce)]),
        T0,
        &registry,
    );
    let actions = s
        .command("pi-1", Some("ops"), Bytes::from_static(b"reboot"))
        .unwrap();
    assert_eq!(
        sent_publishes(&actions),
        [("/devices/pi-1/commands/ops".to_owned(), b"reboot".to_vec(), false)]
    );
    assert_eq!(
        session(Profile::google()).command("pi-1", None, Bytes::new()),
        Err(CommandError::NotConnected)
    );
}

#[test]
fn the_connection_closes_after_exp_plus_skew_and_grace() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    let expiry = T0 + 3_600_000 + 600_000 + 5_000;
    // Keep the connection busy so the idle limit never comes first.
    for minute in 1..=65 {
        assert!(
            s.packet(Packet::PingReq, T0 + minute * 60_000, &registry)
                .iter()
                .all(|a| !matches!(a, Action::Close(_)))
        );
    }
    assert_eq!(s.next_deadline(), Some(expiry));
    assert!(s.tick(expiry - 1).is_empty());
    assert_eq!(close_cause(&s.tick(expiry)), Some(&Cause::TokenExpired));
}

#[test]
fn twenty_minutes_of_silence_closes_the_connection_whatever_the_keep_alive() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    let idle = T0 + 20 * 60_000;
    assert_eq!(s.next_deadline(), Some(idle));
    assert!(s.tick(idle - 1).is_empty());
    assert_eq!(close_cause(&s.tick(idle)), Some(&Cause::Idle));
}

#[test]
fn silence_for_one_and_a_half_keep_alives_closes_the_connection() {
    let registry = FakeRegistry::default();
    let mut s = session(Profile::google());
    s.packet(
        connect_with_keep_alive(&client_id("pi-1"), GOOD, 10),
        T0,
        &registry,
    );
    assert_eq!(s.next_deadline(), Some(T0 + 15_000));
    s.packet(Packet::PingReq, T0 + 14_000, &registry);
    assert_eq!(
        s.next_deadline(),
        Some(T0 + 29_000),
        "every packet restarts the wait"
    );
    assert!(s.tick(T0 + 28_999).is_empty());
    assert_eq!(close_cause(&s.tick(T0 + 29_000)), Some(&Cause::KeepAlive));
}

#[test]
fn a_zero_keep_alive_leaves_only_the_idle_limit() {
    // Where the profile accepts keep-alive 0 at all (both reference profiles refuse it).
    let registry = FakeRegistry::default();
    let mut s = session(Profile {
        keep_alive_zero: crate::profile::Unsupported::Accept,
        ..Profile::google()
    });
    s.packet(
        connect_with_keep_alive(&client_id("pi-1"), GOOD, 0),
        T0,
        &registry,
    );
    assert_eq!(s.next_deadline(), Some(T0 + 20 * 60_000));
}

#[test]
fn the_keep_alive_is_not_enforced_with_its_check_off() {
    let registry = FakeRegistry::default();
    let profile = Profile::google().with_safety(SafetyChecks::without(SafetyCheck::KeepAlive));
    let mut s = session(profile);
    s.packet(
        connect_with_keep_alive(&client_id("pi-1"), GOOD, 10),
        T0,
        &registry,
    );
    assert!(s.tick(T0 + 60_000).is_empty());
}

/// A registry that withholds every CONNACK.
struct Withholding(FakeRegistry);

impl Registry for Withholding {
    fn device(&self, id: &str) -> Option<DeviceInfo> {
        self.0.device(id)
    }
    fn is_bound(&self, gateway: &str, device: &str) -> bool {
        self.0.is_bound(gateway, device)
    }
    fn authenticate(&self, device: &str, jwt: &str, now_secs: i64) -> AuthVerdict {
        self.0.authenticate(device, jwt, now_secs)
    }
    fn latest_config(&self, device: &str) -> Option<ConfigVersion> {
        self.0.latest_config(device)
    }
    fn withhold_connack(&self, _device: &str) -> bool {
        true
    }
}

#[test]
fn a_withheld_connack_sends_nothing_ignores_packets_and_ends_after_two_minutes() {
    let registry = Withholding(FakeRegistry::default());
    let mut s = session(Profile::google());
    let actions = s.packet(connect_packet(&client_id("pi-1"), GOOD), T0, &registry);
    assert!(matches!(
        actions.as_slice(),
        [Action::Event(Event::ConnectAttempt(a))] if a.verdict == Verdict::Withheld && a.keep_alive == 3600
    ));
    assert!(s.packet(Packet::PingReq, T0 + 1, &registry).is_empty());
    assert_eq!(s.next_deadline(), Some(T0 + WITHHELD_FOR));
    assert!(s.tick(T0 + WITHHELD_FOR - 1).is_empty());
    assert!(close_cause(&s.tick(T0 + WITHHELD_FOR)).is_some());
    assert!(s.is_closed());
}

#[test]
fn an_outside_close_records_one_disconnect_event() {
    let registry = FakeRegistry::default();
    let mut s = connected(&registry);
    let actions = s.close(Cause::Replaced);
    assert_eq!(
        actions,
        [
            Action::Close(Cause::Replaced),
            Action::Event(Event::Disconnected {
                device: "pi-1".into(),
                cause: Cause::Replaced
            })
        ]
    );
    assert!(s.close(Cause::Shutdown).is_empty(), "closing twice does nothing");
}

mod gateway;
mod strict;
