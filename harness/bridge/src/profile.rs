//! Bridge profiles: the answers a bridge gives where docs/protocol.md leaves the rule configurable,
//! and the limits it enforces. `google` and `clearblade` are the two references.

use std::time::Duration;

use fleetgate_identity::rules::{BridgeSettings, Refusal};

use crate::safety::{SafetyCheck, SafetyChecks};

/// What to do with a CONNECT that asks for a persistent session (clean session = 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistentSession {
    /// Refuse it with this CONNACK code.
    Reject(u8),
    /// Accept it as if clean session were 1.
    TreatAsClean,
}

/// What to do with a CONNECT that asks for something PROTOCOL.md §1 says is unsupported: a Last
/// Will, or keep-alive 0 (a client must set one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// Refuse it with this CONNACK code, then close.
    Refuse(u8),
    /// Accept it (the Will is never published; keep-alive 0 leaves only the idle limit).
    Accept,
}

/// Whether telemetry without a subfolder carries a `subFolder` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubfolderAttribute {
    /// The attribute is left out.
    Absent,
    /// The attribute is present and empty.
    Empty,
}

/// One bridge's behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// `google` or `clearblade`.
    pub name: &'static str,
    /// CONNACK code when the JWT is refused.
    pub connack_auth_failure: u8,
    /// CONNACK code for an unknown or blocked device, or a client id of another registry.
    pub connack_unknown_device: u8,
    /// Persistent sessions.
    pub persistent_session: PersistentSession,
    /// A CONNECT carrying a Last Will.
    pub last_will: Unsupported,
    /// A CONNECT with keep-alive 0.
    pub keep_alive_zero: Unsupported,
    /// `subFolder` on telemetry without a subfolder.
    pub subfolder_attribute: SubfolderAttribute,
    /// The JWT rules: skew, lifetime bound, base64 strictness, minimum RSA size, extra claims
    /// and `kid`.
    pub jwt: BridgeSettings,
    /// How long after `exp` + skew an open connection is closed.
    pub expiry_grace: Duration,
    /// Idle limit, whatever the keep-alive.
    pub idle_limit: Duration,
    /// Longest connection.
    pub max_connection: Duration,
    /// Largest telemetry payload.
    pub max_telemetry_bytes: usize,
    /// Largest state payload.
    pub max_state_bytes: usize,
    /// Fewest milliseconds between two state updates of one device.
    pub min_state_interval: Duration,
    /// Most incoming messages per second on one connection.
    pub max_messages_per_second: u32,
    /// How often an unacknowledged QoS 1 config is sent again.
    pub config_redelivery: Duration,
    /// Checks switched off for the conformance self-check; all on in every profile.
    #[doc(hidden)]
    pub safety: SafetyChecks,
}

/// The JWT rules that device qualification judges in cases of its own (`device.connect`,
/// `device.clock-offset`, `device.fresh-token`) instead of refusing the CONNECT: a device with
/// a wrong `aud` or a skewed clock then fails those cases, not every case after them. The
/// signature is always checked: a token the device's registered key did not sign is refused.
pub const JUDGED_BY_QUALIFICATION: &[Refusal] = &[
    Refusal::MissingAud,
    Refusal::AudNotString,
    Refusal::AudMismatch,
    Refusal::IatInFuture,
    Refusal::Expired,
    Refusal::ExpBeforeIat,
    Refusal::LifetimeTooLong,
];

impl Profile {
    /// The profile as device qualification plays it: [`JUDGED_BY_QUALIFICATION`] accepted, and
    /// keep-alive 0 and a Last Will accepted too, so that a device without a keep-alive fails
    /// `device.keepalive` rather than every case after its refused CONNECT.
    pub fn judging_devices(mut self) -> Self {
        self.jwt.relaxed.extend_from_slice(JUDGED_BY_QUALIFICATION);
        self.keep_alive_zero = Unsupported::Accept;
        self.last_will = Unsupported::Accept;
        self
    }

    /// Google Cloud IoT Core as devices observed it.
    pub fn google() -> Self {
        Self {
            name: "google",
            connack_auth_failure: 5,
            connack_unknown_device: 5,
            persistent_session: PersistentSession::TreatAsClean,
            last_will: Unsupported::Refuse(5),
            keep_alive_zero: Unsupported::Refuse(5),
            subfolder_attribute: SubfolderAttribute::Absent,
            jwt: BridgeSettings::google(),
            expiry_grace: Duration::from_secs(5),
            idle_limit: Duration::from_secs(20 * 60),
            max_connection: Duration::from_secs(24 * 3600),
            max_telemetry_bytes: 256 * 1024,
            max_state_bytes: 64 * 1024,
            min_state_interval: Duration::from_secs(1),
            max_messages_per_second: 100,
            config_redelivery: Duration::from_secs(10),
            safety: SafetyChecks::default(),
        }
    }

    /// ClearBlade IoT Core as documented.
    pub fn clearblade() -> Self {
        Self {
            name: "clearblade",
            connack_auth_failure: 4,
            connack_unknown_device: 4,
            jwt: BridgeSettings::clearblade(),
            ..Self::google()
        }
    }

    /// This profile with `safety` in force (test-only: see [`SafetyChecks`]).
    #[doc(hidden)]
    pub fn with_safety(mut self, safety: SafetyChecks) -> Self {
        self.jwt.relaxed = safety.relaxed_jwt_rules();
        self.safety = safety;
        self
    }

    /// Whether `check` is enforced.
    pub fn enforces(&self, check: SafetyCheck) -> bool {
        self.safety.on(check)
    }

    /// The skew allowed around `exp`.
    pub fn skew(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.jwt.skew_secs).unwrap_or(0))
    }

    /// The profile of that name, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "google" => Some(Self::google()),
            "clearblade" => Some(Self::clearblade()),
            _ => None,
        }
    }
}
