//! What the cases do, group by group. Each check drives probes against the [`Target`] and
//! returns an [`Observation`]; the executor judges it against the case's expected outcome.
//!
//! - `connect`: tokens, clocks, key formats, credentials and the CONNECT rules.
//! - `session`: topics, QoS and gateways on an open connection.
//! - `delivery`: config and commands.
//! - `lifecycle`: disconnects at expiry, idle limit and connection age (the moved clock).
//! - `pipeline`: what reaches Pub/Sub, and the PUBACK's timing.
//! - `mqtt`: MQTT 3.1.1 MUSTs on raw bytes, and the CONNECT options PROTOCOL.md calls
//!   unsupported.

mod connect;
mod delivery;
mod lifecycle;
mod mqtt;
mod pipeline;
mod session;

use std::time::Duration;

use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::safety::SafetyCheck;
use fleetgate_identity::rules::Refusal;

pub(crate) use pipeline::Pubsub;

use super::catalogue::{Check, Outcome, RefusalDetail};
use super::evidence::Observation;
use super::probe::Endpoint;
use super::target::Target;

/// Declares a check enum with ids, rules and safety switches.
macro_rules! checks {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $id:literal, $safety:expr, $rule:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $name {
            $(#[doc = $rule] $variant,)*
        }

        impl $name {
            /// Every check of the group.
            pub(crate) const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// Stable kebab-case id within the group.
            pub(crate) fn id(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }

            /// The rule it checks.
            pub(crate) fn rule(self) -> &'static str {
                match self { $(Self::$variant => $rule,)* }
            }

            /// The safety check whose absence it detects.
            pub(crate) fn safety(self) -> Option<SafetyCheck> {
                match self { $(Self::$variant => $safety,)* }
            }
        }
    };
}

use SafetyCheck as S;

checks! {
    /// Tokens from a badly set device clock.
    ClockToken {
        Unsynced1970 => "unsynced-1970", Some(S::Jwt(Refusal::Expired)), "a device whose clock starts at 1970 (no NTP yet) is refused";
        ExpBeforeIat => "exp-before-iat", Some(S::Jwt(Refusal::ExpBeforeIat)), "exp before iat is refused";
    }
}

impl ClockToken {
    /// The refusal a correct bridge gives.
    pub(crate) fn refusal(self) -> Refusal {
        match self {
            Self::Unsynced1970 => Refusal::Expired,
            Self::ExpBeforeIat => Refusal::ExpBeforeIat,
        }
    }
}

checks! {
    /// Credential expiry and the credential limit.
    CredentialCheck {
        Expired => "expired", Some(S::Jwt(Refusal::CredentialExpired)), "a credential past its expirationTime no longer authenticates";
        NotYetExpired => "not-yet-expired", None, "a credential before its expirationTime authenticates";
        OtherKeyAfterExpiry => "other-key-after-expiry", None, "with one credential expired, another registered key still authenticates";
        AnyOfThree => "any-of-three", None, "a token verified by the third of three credentials is accepted";
        LimitThree => "limit-3", Some(S::CredentialLimit), "a device holds at most 3 credentials: a 4th is refused";
    }
}

impl CredentialCheck {
    pub(crate) fn expected(self, profile: &Profile) -> (Outcome, RefusalDetail) {
        match self {
            Self::Expired => refuse(Some(profile.connack_auth_failure), "credential-expired"),
            Self::LimitThree => refuse(None, "credential-limit"),
            _ => accept(),
        }
    }
}

checks! {
    /// The CONNECT rules.
    ConnectCheck {
        OneConnectionPerDevice => "one-connection-per-device", Some(S::OneConnectionPerDevice), "a second CONNECT of a device closes its older connection";
        NoUsername => "no-username", None, "username must be present (and a JWT as password)";
        AnyUsername => "any-username", None, "the username is ignored";
        OtherRegistry => "other-registry", Some(S::ClientIdRegistry), "the client id must name this project, region and registry";
        MalformedClientId => "malformed-client-id", None, "the client id is projects/{p}/locations/{r}/registries/{reg}/devices/{d}";
        UnknownDevice => "unknown-device", None, "a device the registry does not know is refused";
        DeviceIdCase => "device-id-case-sensitive", None, "device ids are case-sensitive";
        BlockedDevice => "blocked-device", Some(S::BlockedDevices), "a blocked device is refused";
        PersistentSession => "persistent-session", None, "clean session = 0: refused or treated as clean, per profile";
    }
}

impl ConnectCheck {
    pub(crate) fn expected(self, profile: &Profile) -> (Outcome, RefusalDetail) {
        use fleetgate_bridge::profile::PersistentSession;
        match self {
            Self::OneConnectionPerDevice => refuse(None, "replaced"),
            Self::NoUsername => refuse(Some(profile.connack_auth_failure), "no-username"),
            Self::AnyUsername => accept(),
            Self::OtherRegistry => refuse(Some(profile.connack_unknown_device), "other-registry"),
            Self::MalformedClientId => refuse(Some(2), "malformed-client-id"),
            Self::UnknownDevice | Self::DeviceIdCase => {
                refuse(Some(profile.connack_unknown_device), "unknown-device")
            }
            Self::BlockedDevice => refuse(Some(profile.connack_unknown_device), "blocked-device"),
            Self::PersistentSession => match profile.persistent_session {
                PersistentSession::TreatAsClean => accept(),
                PersistentSession::Reject(code) => refuse(Some(code), "persistent-session"),
            },
        }
    }
}

checks! {
    /// Disconnects at expiry and limits, and refresh.
    LifecycleCheck {
        DisconnectAtExpPlusSkew => "disconnect-at-exp-plus-skew", Some(S::ExpiryDisconnect), "the bridge closes a connection a few seconds after exp + skew, not before";
        RefreshByReconnect => "refresh-by-reconnect", Some(S::ExpiryDisconnect), "after the expiry disconnect the old JWT is refused and a new one is accepted";
        IdleLimit => "idle-limit-20m", Some(S::IdleLimit), "a connection idle for 20 min is closed, whatever the keep-alive";
        KeepAlive => "keepalive-1.5x", Some(S::KeepAlive), "a connection silent for 1.5 × its keep-alive is closed (MQTT 3.1.1 §3.1.2.10), not before the keep-alive";
        MaxConnection => "max-connection-24h", Some(S::MaxConnectionTime), "a connection is closed after 24 h, even when busy";
    }
}

impl LifecycleCheck {
    pub(crate) fn expected(self) -> (Outcome, RefusalDetail) {
        match self {
            Self::DisconnectAtExpPlusSkew | Self::RefreshByReconnect => refuse(None, "token-expired"),
            Self::IdleLimit => refuse(None, "idle"),
            Self::KeepAlive => refuse(None, "keep-alive"),
            Self::MaxConnection => refuse(None, "max-connection-time"),
        }
    }
}

checks! {
    /// Topic and QoS rules.
    TopicCheck {
        OwnEvents => "own-events", None, "a device publishes telemetry on /devices/{id}/events";
        EventsSubfolder => "events-subfolder", None, "telemetry on /devices/{id}/events/{subfolder} is accepted";
        OwnState => "own-state", None, "a device publishes state on /devices/{id}/state";
        OtherDeviceEvents => "other-device-events", Some(S::TopicOwnership), "publishing on another device's topic closes the connection";
        OutsideContract => "outside-contract", None, "publishing on a topic outside /devices/{id}/… closes the connection";
        SubscribeOtherConfig => "subscribe-other-device-config", Some(S::TopicOwnership), "subscribing to another device's config is refused (SUBACK 0x80)";
        SubscribeWildcard => "subscribe-wildcard", None, "subscribing to # is refused (SUBACK 0x80)";
        CommandsFilter => "commands-filter", None, "commands are subscribed with /devices/{id}/commands/# only";
        PublishQos0 => "publish-qos0", None, "QoS 0 telemetry is accepted";
        PublishQos1 => "publish-qos1", None, "QoS 1 telemetry is acknowledged";
        PublishQos2 => "publish-qos2", Some(S::PublishQos2), "a PUBLISH with QoS 2 closes the connection";
        SubscribeQos2 => "subscribe-qos2", Some(S::SubscribeQosCap), "a SUBSCRIBE asking QoS 2 is granted QoS 1";
    }
}

impl TopicCheck {
    pub(crate) fn group(self) -> &'static str {
        match self {
            Self::PublishQos0 | Self::PublishQos1 | Self::PublishQos2 | Self::SubscribeQos2 => "qos",
            _ => "topic",
        }
    }

    pub(crate) fn expected(self) -> (Outcome, RefusalDetail) {
        match self {
            Self::OtherDeviceEvents | Self::OutsideContract => refuse(None, "topic-not-allowed"),
            Self::PublishQos2 => refuse(None, "publish-qos2"),
            Self::SubscribeOtherConfig | Self::SubscribeWildcard | Self::CommandsFilter => {
                refuse(None, "suback-0x80")
            }
            _ => accept(),
        }
    }
}

checks! {
    /// Config and commands.
    ConfigCheck {
        LatestAfterSubscribe => "latest-after-subscribe", None, "the latest config is sent right after SUBSCRIBE";
        RedeliverNewest => "redeliver-newest", Some(S::ConfigNewestOnly), "QoS 1: only the newest unacknowledged version is redelivered";
        Qos1UntilPuback => "qos1-redelivered-until-puback", Some(S::ConfigRedelivery), "QoS 1: the config is redelivered until PUBACK, then no more";
        Qos0Once => "qos0-each-version-once", None, "QoS 0: each config version is sent once";
        CommandDelivered => "delivered-when-subscribed", None, "a command reaches a device subscribed to /devices/{id}/commands/#";
        CommandDropped => "dropped-when-not-subscribed", None, "commands are not stored: refused when the device is not subscribed";
    }
}

impl ConfigCheck {
    pub(crate) fn group(self) -> &'static str {
        match self {
            Self::CommandDelivered | Self::CommandDropped => "commands",
            _ => "config",
        }
    }
}

checks! {
    /// Gateways.
    GatewayCheck {
        AttachBound => "attach-bound-device", None, "a gateway attaches a bound device with its JWT and publishes for it";
        AttachUnbound => "attach-unbound-device", Some(S::GatewayBinding), "attaching a device not bound to the gateway fails with an error on /errors";
        PublishNotAttached => "publish-not-attached", None, "a gateway publishing for a device it has not attached gets GATEWAY_DEVICE_NOT_ATTACHED";
        NonGatewayAttach => "non-gateway-attach", None, "a device that is not a gateway publishing to /attach is disconnected";
    }
}

impl GatewayCheck {
    pub(crate) fn expected(self) -> (Outcome, RefusalDetail) {
        match self {
            Self::AttachBound => accept(),
            Self::AttachUnbound => refuse(None, "GATEWAY_ATTACHMENT_ERROR"),
            Self::PublishNotAttached => refuse(None, "GATEWAY_DEVICE_NOT_ATTACHED"),
            Self::NonGatewayAttach => refuse(None, "topic-not-allowed"),
        }
    }
}

checks! {
    /// What reaches Pub/Sub.
    PipelineCheck {
        Attributes => "attributes", None, "telemetry reaches Pub/Sub with the exact payload and the IoT Core attribute set";
        SubfolderAttribute => "subfolder-attribute", None, "telemetry on a subfolder carries subFolder";
        Qos0Forwarded => "qos0-forwarded", None, "QoS 0 telemetry reaches Pub/Sub too";
        PubackAfterPubsub => "puback-after-pubsub", Some(S::PubackAfterPubsub), "the QoS 1 PUBACK is sent only after Pub/Sub accepted the message";
    }
}

checks! {
    /// MQTT 3.1.1 MUSTs (PROTOCOL.md §11) and unsupported CONNECT options (§1).
    MqttCheck {
        ProtocolLevel3 => "protocol-level-3", Some(S::ProtocolLevel), "a CONNECT of protocol level 3 gets CONNACK 0x01, then a close (MQTT-3.1.2-2)";
        ProtocolLevel5 => "protocol-level-5", Some(S::ProtocolLevel), "a CONNECT saying level 5 with a 3.1.1 body gets CONNACK 0x01, then a close (MQTT-3.1.2-2)";
        Mqtt5Client => "mqtt5-client", Some(S::ProtocolLevel), "an MQTT 5 client's CONNECT gets CONNACK 0x01, then a close (MQTT-3.1.2-2)";
        ConnectReservedFlag => "connect-reserved-flag", Some(S::ConnectReservedFlag), "a CONNECT with its reserved flag set is closed (MQTT-3.1.2-3)";
        PasswordWithoutUsername => "password-without-username", Some(S::PasswordWithoutUsername), "a CONNECT with a password but no user-name flag is closed (MQTT-3.1.2-22)";
        PublishQos3 => "publish-qos3", None, "a PUBLISH with both QoS bits set closes the connection (MQTT-3.3.1-4)";
        SubscribeFlags => "subscribe-flags", Some(S::FixedHeaderFlags), "a SUBSCRIBE whose fixed-header flags are not 0010 closes the connection (MQTT-2.2.2-2, 3.8.1-1)";
        UnsubscribeFlags => "unsubscribe-flags", Some(S::FixedHeaderFlags), "an UNSUBSCRIBE whose fixed-header flags are not 0010 closes the connection (MQTT-2.2.2-2, 3.10.1-1)";
        PingreqFlags => "pingreq-flags", Some(S::FixedHeaderFlags), "a PINGREQ whose fixed-header flags are not 0000 closes the connection (MQTT-2.2.2-2)";
        LastWill => "last-will", Some(S::WillRefused), "a CONNECT with a Last Will is refused: Will is unsupported (PROTOCOL.md §1), per profile";
        KeepAliveZero => "keep-alive-zero", Some(S::KeepAliveRequired), "a CONNECT with keep-alive 0 is refused: a client must set one (PROTOCOL.md §1), per profile";
    }
}

impl MqttCheck {
    pub(crate) fn expected(self, profile: &Profile) -> (Outcome, RefusalDetail) {
        use fleetgate_bridge::profile::Unsupported;
        let unsupported = |setting, reason| match setting {
            Unsupported::Refuse(code) => refuse(Some(code), reason),
            Unsupported::Accept => accept(),
        };
        let closed = |connack| {
            let detail = RefusalDetail {
                connack,
                reason: None,
            };
            (Outcome::Refuse, detail)
        };
        match self {
            Self::ProtocolLevel3 | Self::ProtocolLevel5 | Self::Mqtt5Client => closed(Some(1)),
            Self::LastWill => unsupported(profile.last_will, "last-will-unsupported"),
            Self::KeepAliveZero => unsupported(profile.keep_alive_zero, "keep-alive-required"),
            _ => closed(None),
        }
    }
}

fn accept() -> (Outcome, RefusalDetail) {
    (Outcome::Accept, RefusalDetail::default())
}

fn refuse(connack: Option<u8>, reason: &str) -> (Outcome, RefusalDetail) {
    (
        Outcome::Refuse,
        RefusalDetail {
            connack,
            reason: Some(reason.to_owned()),
        },
    )
}

/// What checks may use.
#[derive(Clone)]
pub(crate) struct Ctx<'a> {
    /// The bridge under test.
    pub target: &'a Target,
    /// Where probes connect, with the case's answer timeout.
    pub endpoint: Endpoint,
    /// Pub/Sub, when the run can read it.
    pub pubsub: Option<&'a Pubsub>,
    /// How far past `exp` + skew's start an expiry case waits on an external bridge.
    pub wait: Duration,
}

/// Runs one check. `Err` when it could not be carried out (not a verdict on the bridge).
pub(crate) async fn run(check: Check, ctx: &Ctx<'_>) -> Result<Observation, String> {
    match check {
        Check::Token(m) => connect::mutated(m, ctx).await,
        Check::Clock(c) => connect::clock(c, ctx).await,
        Check::KeyFormat(v) => connect::key_format(v, ctx).await,
        Check::Credentials(c) => connect::credentials(c, ctx).await,
        Check::Connect(c) => connect::connect(c, ctx).await,
        Check::Lifecycle(c) => lifecycle::run(c, ctx).await,
        Check::Topic(c) => session::topic(c, ctx).await,
        Check::Config(c) => delivery::run(c, ctx).await,
        Check::Gateway(c) => session::gateway(c, ctx).await,
        Check::Pipeline(c) => pipeline::run(c, ctx).await,
        Check::Mqtt(c) => mqtt::run(c, ctx).await,
    }
}

/// Why a check cannot run against this target, if it cannot.
pub(crate) fn unsupported(check: Check, target: &Target) -> Option<String> {
    if target.embedded.is_some() {
        return None;
    }
    let why = match check {
        Check::KeyFormat(_) | Check::Credentials(_) => {
            "registers credentials, which an external bridge does through its own admin API"
        }
        Check::Connect(ConnectCheck::BlockedDevice) => "blocks a device through the embedded registry",
        Check::Lifecycle(LifecycleCheck::IdleLimit | LifecycleCheck::MaxConnection) => {
            "waits 20 min or 24 h on an external bridge, whose clock fleetgate cannot move"
        }
        Check::Config(_) => "sets configs and sends commands through the embedded bridge's admin side",
        Check::Gateway(_) => "needs a gateway with bound devices in the embedded registry",
        Check::Pipeline(PipelineCheck::PubackAfterPubsub) => "stalls the embedded bridge's forwarding",
        _ => return None,
    };
    Some(format!("skipped: {why}"))
}
