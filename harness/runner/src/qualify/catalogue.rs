//! The device-side case catalogue (`device.*`): what a good device does against any bridge of
//! the IoT Core contract, each with the misbehaviour fleetgate shows the device to see it.

use std::time::Duration;

use fleetgate_scenario::model::CaseParams;

/// One device-side case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceCase {
    Connect,
    ClockOffset,
    TlsUntrustedCa,
    TlsWrongHost,
    TlsExpired,
    BackoffRefused,
    BackoffNoConnack,
    FreshToken,
    Qos1Republish,
    ConfigAck,
    Commands,
    Keepalive,
    Topics,
    RefreshBeforeExpiry,
    LongOutage,
}

impl DeviceCase {
    /// Every case, in the order one device runs them: the cases that judge what the device
    /// did on its own (keep-alive, topics) come after the ones that provoke it, and the two
    /// long cases (refresh, outage) last.
    pub(crate) const ALL: [Self; 15] = [
        Self::Connect,
        Self::ClockOffset,
        Self::TlsUntrustedCa,
        Self::TlsWrongHost,
        Self::TlsExpired,
        Self::BackoffRefused,
        Self::BackoffNoConnack,
        Self::FreshToken,
        Self::Qos1Republish,
        Self::ConfigAck,
        Self::Commands,
        Self::Keepalive,
        Self::Topics,
        Self::RefreshBeforeExpiry,
        Self::LongOutage,
    ];

    /// The case id.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::Connect => "device.connect",
            Self::ClockOffset => "device.clock-offset",
            Self::TlsUntrustedCa => "device.tls-untrusted-ca",
            Self::TlsWrongHost => "device.tls-wrong-host",
            Self::TlsExpired => "device.tls-expired",
            Self::BackoffRefused => "device.backoff-refused",
            Self::BackoffNoConnack => "device.backoff-no-connack",
            Self::FreshToken => "device.fresh-token",
            Self::Qos1Republish => "device.qos1-republish",
            Self::ConfigAck => "device.config-ack",
            Self::Commands => "device.commands",
            Self::Keepalive => "device.keepalive",
            Self::Topics => "device.topics",
            Self::RefreshBeforeExpiry => "device.refresh-before-expiry",
            Self::LongOutage => "device.long-outage",
        }
    }

    /// The rule it checks.
    pub(crate) fn rule(self) -> &'static str {
        match self {
            Self::Connect => {
                "docs/protocol.md §1, §2: connects over TLS with its registry client id and a JWT whose alg matches a registered key, aud = project, exp − iat ≤ 24 h"
            }
            Self::ClockOffset => {
                "docs/protocol.md §2: the device's iat is within the skew (10 min) of true time"
            }
            Self::TlsUntrustedCa => {
                "docs/protocol.md §10: a server certificate from a CA the device was not given aborts the handshake; no CONNECT is sent"
            }
            Self::TlsWrongHost => {
                "docs/protocol.md §10: a server certificate for another host name aborts the handshake; no CONNECT is sent"
            }
            Self::TlsExpired => {
                "docs/protocol.md §10: an expired server certificate aborts the handshake; no CONNECT is sent"
            }
            Self::BackoffRefused => {
                "docs/protocol.md §10: after refused connects the device waits ≥ 1 s, longer after each, with jitter"
            }
            Self::BackoffNoConnack => {
                "docs/protocol.md §10: a CONNECT that gets no CONNACK is given up by the device, which retries with growing waits of ≥ 1 s"
            }
            Self::FreshToken => {
                "docs/protocol.md §1, §10: after a close as for an expired token the next CONNECT carries a new JWT"
            }
            Self::Qos1Republish => {
                "docs/protocol.md §10: QoS 1 telemetry without a PUBACK when the connection ended is published again"
            }
            Self::ConfigAck => {
                "docs/protocol.md §3, §10: the device subscribes to its config at QoS 1 and acknowledges a new config"
            }
            Self::Commands => {
                "docs/protocol.md §3, §10: the device subscribes to /devices/{id}/commands/# and receives a command"
            }
            Self::Keepalive => {
                "docs/protocol.md §1, §10: a keep-alive between 1 s and 20 min is set and kept: a packet within every 1.5 × keep-alive"
            }
            Self::Topics => {
                "docs/protocol.md §3, §10: only its own events and state topics, QoS ≤ 1, state at most once a second"
            }
            Self::RefreshBeforeExpiry => {
                "docs/protocol.md §1, §10: the device reconnects with a new JWT before exp + skew (lasts as long as the device's token)"
            }
            Self::LongOutage => {
                "docs/protocol.md §10: after a long outage (60 s) the device comes back by itself, its backoff capped"
            }
        }
    }

    /// The case of an id.
    pub(crate) fn find(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }
}

/// A case's parameters with its defaults applied.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// How long the case waits for the device to do what it must.
    pub timeout: Duration,
    /// Refused or unanswered connects (backoff cases).
    pub count: u32,
    /// How long the listener is down (long outage).
    pub outage: Duration,
    /// How long past `exp` a refresh still counts (refresh): the skew by default.
    pub grace: Duration,
}

impl Settings {
    /// The defaults of `case`, overridden by what the scenario sets.
    pub(crate) fn of(case: DeviceCase, params: &CaseParams, skew: Duration) -> Self {
        let timeout = match case {
            DeviceCase::Connect => Duration::from_secs(600),
            DeviceCase::BackoffRefused | DeviceCase::BackoffNoConnack => Duration::from_secs(180),
            DeviceCase::LongOutage => Duration::from_secs(90),
            _ => Duration::from_secs(60),
        };
        let count = match case {
            DeviceCase::BackoffNoConnack => 3,
            _ => 4,
        };
        Self {
            timeout: params.timeout.unwrap_or(timeout),
            count: params.count.unwrap_or(count),
            outage: params.outage.unwrap_or(Duration::from_secs(60)),
            grace: params.grace.unwrap_or(skew),
        }
    }
}
