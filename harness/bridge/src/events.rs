//! Bridge events: every connection attempt with the claims presented and the verdict, and every
//! disconnect with its cause. The runner, reports and hardware-in-loop runs are built on them.

use std::fmt;
use std::net::SocketAddr;

use fleetgate_identity::jwt::PresentedClaims;
use rumqttc::mqttbytes::v4::Packet;

use crate::session::UnixMillis;

/// An event with where and when it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The bridge's clock.
    pub at: UnixMillis,
    /// The peer's address.
    pub peer: SocketAddr,
    /// What happened.
    pub event: Event,
}

/// Something the bridge observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A CONNECT was answered.
    ConnectAttempt(ConnectAttempt),
    /// A connection ended before any CONNECT verdict: TLS failure, bytes that are not MQTT,
    /// no CONNECT in time.
    Dropped {
        /// Why.
        reason: String,
    },
    /// An authenticated connection closed.
    Disconnected {
        /// The device.
        device: String,
        /// Why.
        cause: Cause,
    },
    /// A packet of an observed device's connection (hardware-in-loop: the bridge is told which
    /// devices to observe; virtual devices are not), in the order the session handled it.
    Packet {
        /// The device the connection speaks for.
        device: String,
        /// From the device (`true`) or to it.
        inbound: bool,
        /// The packet.
        packet: Packet,
    },
    /// Telemetry of an observed device that Pub/Sub accepted (`true`) or refused.
    Forwarded {
        /// The device.
        device: String,
        /// Whether Pub/Sub accepted it.
        accepted: bool,
    },
}

/// One CONNECT and the bridge's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectAttempt {
    /// The client id as sent.
    pub client_id: String,
    /// The device id, when the client id named one of this registry.
    pub device: Option<String>,
    /// The JWT's claims as presented, when it could be decoded.
    pub claims: Option<PresentedClaims>,
    /// The bridge's clock when it decided.
    pub server_time: UnixMillis,
    /// The keep-alive the CONNECT asked for, seconds (0: none).
    pub keep_alive: u16,
    /// The first 16 hex digits of the SHA-256 of the password (the JWT), so that a reused
    /// token can be told from a fresh one without keeping the token; `None` without password.
    pub token_fingerprint: Option<String>,
    /// Accepted, or refused with the CONNACK code and the reason.
    pub verdict: Verdict,
}

/// The answer to a CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// CONNACK 0.
    Accepted,
    /// Refused with this CONNACK code, for this reason.
    Refused {
        /// The CONNACK return code sent.
        connack: u8,
        /// A stable kebab-case reason, such as `jwt-expired` or `unknown-device`.
        reason: String,
    },
    /// No CONNACK was sent (an injected fault): the connection stays open, unanswered, until
    /// the device gives up.
    Withheld,
}

/// Why a connection closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The device sent DISCONNECT or closed the socket.
    ClientDisconnect,
    /// `exp` + skew passed while connected.
    TokenExpired,
    /// Nothing arrived within the idle limit.
    Idle,
    /// Nothing arrived within 1.5 × the keep-alive the device asked for (MQTT 3.1.1 §3.1.2.10).
    KeepAlive,
    /// The connection reached the longest allowed age.
    MaxConnectionTime,
    /// A newer connection of the same device took over.
    Replaced,
    /// A PUBLISH with QoS 2.
    PublishQos2,
    /// A PUBLISH to a topic the device may not use.
    TopicNotAllowed(String),
    /// A payload above the profile's limit.
    PayloadTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// More messages per second than the profile allows.
    RateLimited,
    /// Pub/Sub did not accept telemetry (no PUBACK was sent).
    ForwardFailed(String),
    /// A packet the protocol does not allow here.
    Protocol(String),
    /// Bytes that are not MQTT 3.1.1.
    Malformed(String),
    /// Closed through the admin API or a fault.
    Admin(String),
    /// The socket failed.
    Io(String),
    /// The bridge shut down.
    Shutdown,
}

impl Cause {
    /// A stable kebab-case id, for counters and reports.
    pub fn id(&self) -> &'static str {
        match self {
            Self::ClientDisconnect => "client-disconnect",
            Self::TokenExpired => "token-expired",
            Self::Idle => "idle",
            Self::KeepAlive => "keep-alive",
            Self::MaxConnectionTime => "max-connection-time",
            Self::Replaced => "replaced",
            Self::PublishQos2 => "publish-qos2",
            Self::TopicNotAllowed(_) => "topic-not-allowed",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::RateLimited => "rate-limited",
            Self::ForwardFailed(_) => "forward-failed",
            Self::Protocol(_) => "protocol",
            Self::Malformed(_) => "malformed",
            Self::Admin(_) => "admin",
            Self::Io(_) => "io",
            Self::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TopicNotAllowed(topic) => write!(f, "topic-not-allowed: {topic}"),
            Self::PayloadTooLarge { bytes, limit } => {
                write!(f, "payload-too-large: {bytes} bytes, limit {limit}")
            }
            Self::ForwardFailed(detail)
            | Self::Protocol(detail)
            | Self::Malformed(detail)
            | Self::Admin(detail)
            | Self::Io(detail) => {
                write!(f, "{}: {detail}", self.id())
            }
            other => f.write_str(other.id()),
        }
    }
}
