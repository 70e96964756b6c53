//! Safety checks that a test can switch off, one at a time, to show that the conformance cases
//! of a rule fail when the bridge breaks that rule. Every check is on in every profile; nothing
//! in a scenario file reaches this module. It is test machinery, hidden from the docs.

use fleetgate_identity::rules::Refusal;

/// One rule of docs/protocol.md the embedded bridge enforces and a test may switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SafetyCheck {
    /// A JWT rule of the identity crate's `rules::check`, named by its refusal.
    Jwt(Refusal),
    /// Client ids must name this bridge's project, region and registry.
    ClientIdRegistry,
    /// Blocked devices may not connect.
    BlockedDevices,
    /// A second connection of a device closes the first.
    OneConnectionPerDevice,
    /// A device publishes and subscribes on its own topics only.
    TopicOwnership,
    /// A PUBLISH with QoS 2 closes the connection.
    PublishQos2,
    /// A SUBSCRIBE asking QoS 2 is granted QoS 1.
    SubscribeQosCap,
    /// The connection closes after `exp` + skew.
    ExpiryDisconnect,
    /// The connection closes after the idle limit.
    IdleLimit,
    /// The connection closes when nothing arrives within 1.5 × its keep-alive.
    KeepAlive,
    /// The connection closes at the longest connection time.
    MaxConnectionTime,
    /// Only the newest config version is redelivered.
    ConfigNewestOnly,
    /// An unacknowledged QoS 1 config is redelivered.
    ConfigRedelivery,
    /// The QoS 1 PUBACK waits for Pub/Sub to accept the telemetry.
    PubackAfterPubsub,
    /// A gateway attaches only devices bound to it.
    GatewayBinding,
    /// A device holds at most 3 credentials.
    CredentialLimit,
    /// A CONNECT of a protocol level other than 4 gets CONNACK 0x01 and a close.
    ProtocolLevel,
    /// A CONNECT with its reserved flag set closes the connection.
    ConnectReservedFlag,
    /// Fixed-header flags other than specified close the connection.
    FixedHeaderFlags,
    /// A password without a user name closes the connection.
    PasswordWithoutUsername,
    /// A CONNECT with a Last Will is refused (when the profile refuses it).
    WillRefused,
    /// A CONNECT with keep-alive 0 is refused (when the profile refuses it).
    KeepAliveRequired,
}

impl SafetyCheck {
    /// Every check a test can switch off.
    pub const ALL: &'static [Self] = &[
        Self::Jwt(Refusal::AlgNone),
        Self::Jwt(Refusal::CredentialExpired),
        Self::Jwt(Refusal::Es256SignatureForm),
        Self::Jwt(Refusal::BadSignature),
        Self::Jwt(Refusal::MissingAud),
        Self::Jwt(Refusal::AudNotString),
        Self::Jwt(Refusal::AudMismatch),
        Self::Jwt(Refusal::MissingIat),
        Self::Jwt(Refusal::MissingExp),
        Self::Jwt(Refusal::IatInFuture),
        Self::Jwt(Refusal::Expired),
        Self::Jwt(Refusal::ExpBeforeIat),
        Self::Jwt(Refusal::LifetimeTooLong),
        Self::ClientIdRegistry,
        Self::BlockedDevices,
        Self::OneConnectionPerDevice,
        Self::TopicOwnership,
        Self::PublishQos2,
        Self::SubscribeQosCap,
        Self::ExpiryDisconnect,
        Self::IdleLimit,
        Self::KeepAlive,
        Self::MaxConnectionTime,
        Self::ConfigNewestOnly,
        Self::ConfigRedelivery,
        Self::PubackAfterPubsub,
        Self::GatewayBinding,
        Self::CredentialLimit,
        Self::ProtocolLevel,
        Self::ConnectReservedFlag,
        Self::FixedHeaderFlags,
        Self::PasswordWithoutUsername,
        Self::WillRefused,
        Self::KeepAliveRequired,
    ];

    /// A stable kebab-case id: `jwt.<refusal id>` for JWT rules.
    pub fn id(self) -> String {
        let id = match self {
            Self::Jwt(refusal) => return format!("jwt.{}", refusal.id()),
            Self::ClientIdRegistry => "client-id-registry",
            Self::BlockedDevices => "blocked-devices",
            Self::OneConnectionPerDevice => "one-connection-per-device",
            Self::TopicOwnership => "topic-ownership",
            Self::PublishQos2 => "publish-qos2",
            Self::SubscribeQosCap => "subscribe-qos-cap",
            Self::ExpiryDisconnect => "expiry-disconnect",
            Self::IdleLimit => "idle-limit",
            Self::KeepAlive => "keep-alive",
            Self::MaxConnectionTime => "max-connection-time",
            Self::ConfigNewestOnly => "config-newest-only",
            Self::ConfigRedelivery => "config-redelivery",
            Self::PubackAfterPubsub => "puback-after-pubsub",
            Self::GatewayBinding => "gateway-binding",
            Self::CredentialLimit => "credential-limit",
            Self::ProtocolLevel => "protocol-level",
            Self::ConnectReservedFlag => "connect-reserved-flag",
            Self::FixedHeaderFlags => "fixed-header-flags",
            Self::PasswordWithoutUsername => "password-without-username",
            Self::WillRefused => "will-refused",
            Self::KeepAliveRequired => "keep-alive-required",
        };
        id.to_owned()
    }
}

/// The checks switched off; empty (everything enforced) by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SafetyChecks {
    off: Vec<SafetyCheck>,
}

impl SafetyChecks {
    /// Every check on, but `check`.
    pub fn without(check: SafetyCheck) -> Self {
        Self { off: vec![check] }
    }

    /// Whether `check` is enforced.
    pub fn on(&self, check: SafetyCheck) -> bool {
        !self.off.contains(&check)
    }

    /// The JWT rules switched off, for the identity crate's `BridgeSettings::relaxed`.
    pub fn relaxed_jwt_rules(&self) -> Vec<Refusal> {
        self.off
            .iter()
            .filter_map(|c| match c {
                SafetyCheck::Jwt(refusal) => Some(*refusal),
                _ => None,
            })
            .collect()
    }
}
