//! The bridge case catalogue (docs/protocol.md §1–§4, §8): every case with its id, the rule it
//! checks, what it does, the outcome a bridge of each profile must give, and the safety check
//! whose absence makes it fail. Ids are `group.name`; `fleetgate cases` lists them.

use std::sync::OnceLock;

use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::safety::SafetyCheck;
use fleetgate_identity::jwt::mutations::TokenMutation;
use fleetgate_identity::rules::Refusal;
use fleetgate_identity::variants::{KEY_FORMAT_VARIANTS, KeyFormatVariant};

use super::checks::{
    ClockToken, ConfigCheck, ConnectCheck, CredentialCheck, GatewayCheck, LifecycleCheck, MqttCheck,
    PipelineCheck, TopicCheck,
};

/// What a case does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Check {
    /// CONNECT with a token of the identity crate's mutation catalogue.
    Token(TokenMutation),
    /// CONNECT with a token from a badly set device clock.
    Clock(ClockToken),
    /// Register a credential of the key-format catalogue, then connect with its key.
    KeyFormat(&'static KeyFormatVariant),
    /// Credential expiry and the 3-credential limit.
    Credentials(CredentialCheck),
    /// Client id, username, device lookup, sessions, one connection per device.
    Connect(ConnectCheck),
    /// Disconnects at expiry, idle limit and connection age; refresh by reconnecting.
    Lifecycle(LifecycleCheck),
    /// Topic and QoS rules.
    Topic(TopicCheck),
    /// Config and commands.
    Config(ConfigCheck),
    /// Gateways.
    Gateway(GatewayCheck),
    /// What reaches Pub/Sub, and when the PUBACK comes.
    Pipeline(PipelineCheck),
    /// MQTT 3.1.1 MUSTs on raw bytes, and unsupported CONNECT options.
    Mqtt(MqttCheck),
}

/// The outcome a case expects: the bridge accepts (CONNACK 0, PUBACK, SUBACK granted, the
/// behaviour observed) or refuses (a refusing CONNACK, a close, SUBACK 0x80, a refused
/// registration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Accepted, or the behaviour held.
    Accept,
    /// Refused.
    Refuse,
}

impl Outcome {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Refuse => "refuse",
        }
    }
}

/// What a refusal must look like, beyond being one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RefusalDetail {
    /// The CONNACK code, for refused CONNECTs.
    pub connack: Option<u8>,
    /// The embedded bridge's reason (refusal id or disconnect cause), checked when known.
    pub reason: Option<String>,
}

/// One case.
#[derive(Clone, Debug)]
pub(crate) struct BridgeCase {
    /// `group.name`.
    pub id: String,
    /// The docs/protocol.md rule.
    pub rule: String,
    /// What it does.
    pub check: Check,
}

impl BridgeCase {
    /// The safety checks of the embedded bridge whose absence this case detects.
    pub(crate) fn safety(&self) -> Vec<SafetyCheck> {
        let mut checks: Vec<SafetyCheck> = self.primary_safety().into_iter().collect();
        match self.check {
            // It also presents the expired token again.
            Check::Lifecycle(LifecycleCheck::RefreshByReconnect) => {
                checks.push(SafetyCheck::Jwt(Refusal::Expired))
            }
            // Only the newest is redelivered: without redelivery nothing is.
            Check::Config(ConfigCheck::RedeliverNewest) => checks.push(SafetyCheck::ConfigRedelivery),
            _ => {}
        }
        checks
    }

    fn primary_safety(&self) -> Option<SafetyCheck> {
        match self.check {
            Check::Token(m) => m.expected(&Profile::google().jwt).and_then(jwt_switch),
            Check::Clock(c) => c.safety(),
            Check::KeyFormat(_) => None,
            Check::Credentials(c) => c.safety(),
            Check::Connect(c) => c.safety(),
            Check::Lifecycle(c) => c.safety(),
            Check::Topic(c) => c.safety(),
            Check::Config(c) => c.safety(),
            Check::Gateway(c) => c.safety(),
            Check::Pipeline(c) => c.safety(),
            Check::Mqtt(c) => c.safety(),
        }
    }

    /// The outcome a bridge of `profile` must give, and what its refusal must look like.
    pub(crate) fn expected(&self, profile: &Profile) -> (Outcome, RefusalDetail) {
        let auth = |refusal: Option<Refusal>| match refusal {
            None => (Outcome::Accept, RefusalDetail::default()),
            Some(r) => (
                Outcome::Refuse,
                RefusalDetail {
                    connack: Some(profile.connack_auth_failure),
                    reason: Some(r.id().to_owned()),
                },
            ),
        };
        match self.check {
            Check::Token(m) => auth(m.expected(&profile.jwt)),
            Check::Clock(c) => auth(Some(c.refusal())),
            Check::KeyFormat(v) => match v.expected {
                None => (Outcome::Accept, RefusalDetail::default()),
                Some(r) => (
                    Outcome::Refuse,
                    RefusalDetail {
                        connack: None,
                        reason: Some(r.id().to_owned()),
                    },
                ),
            },
            Check::Credentials(c) => c.expected(profile),
            Check::Connect(c) => c.expected(profile),
            Check::Lifecycle(c) => c.expected(),
            Check::Topic(c) => c.expected(),
            Check::Config(_) | Check::Pipeline(_) => (Outcome::Accept, RefusalDetail::default()),
            Check::Gateway(c) => c.expected(),
            Check::Mqtt(c) => c.expected(profile),
        }
    }

    /// Whether the case moves the embedded bridge's clock or changes bridge-wide faults, and
    /// so must run alone.
    pub(crate) fn exclusive(&self) -> bool {
        matches!(
            self.check,
            Check::Lifecycle(_)
                | Check::Config(
                    ConfigCheck::RedeliverNewest | ConfigCheck::Qos1UntilPuback | ConfigCheck::Qos0Once
                )
                | Check::Pipeline(PipelineCheck::PubackAfterPubsub)
        )
    }
}

/// A JWT rule's safety switch, when it has one.
fn jwt_switch(refusal: Refusal) -> Option<SafetyCheck> {
    let check = SafetyCheck::Jwt(refusal);
    SafetyCheck::ALL.contains(&check).then_some(check)
}

fn case(id: String, section: &str, rule: &str, check: Check) -> BridgeCase {
    BridgeCase {
        id,
        rule: format!("docs/protocol.md {section}: {rule}"),
        check,
    }
}

/// Every bridge case, in report order.
pub(crate) fn all() -> &'static [BridgeCase] {
    static CASES: OnceLock<Vec<BridgeCase>> = OnceLock::new();
    CASES.get_or_init(|| {
        let tokens = TokenMutation::ALL.iter().map(|&m| {
            let id = m.case_id();
            (id, "§2", m.rule(), Check::Token(m))
        });
        let clocks = ClockToken::ALL
            .iter()
            .map(|&c| (format!("clock.{}", c.id()), "§2, §8.1", c.rule(), Check::Clock(c)));
        let formats = KEY_FORMAT_VARIANTS
            .iter()
            .map(|v| (format!("key-format.{}", v.id), "§2", v.rule, Check::KeyFormat(v)));
        let credentials = CredentialCheck::ALL.iter().map(|&c| {
            let id = format!("credentials.{}", c.id());
            (id, "§2", c.rule(), Check::Credentials(c))
        });
        let connects = ConnectCheck::ALL
            .iter()
            .map(|&c| (format!("connect.{}", c.id()), "§1", c.rule(), Check::Connect(c)));
        let lifecycles = LifecycleCheck::ALL.iter().map(|&c| {
            let id = format!("lifecycle.{}", c.id());
            (id, "§1, §4", c.rule(), Check::Lifecycle(c))
        });
        let topics = TopicCheck::ALL.iter().map(|&c| {
            let id = format!("{}.{}", c.group(), c.id());
            (id, "§3", c.rule(), Check::Topic(c))
        });
        let configs = ConfigCheck::ALL.iter().map(|&c| {
            let id = format!("{}.{}", c.group(), c.id());
            (id, "§3", c.rule(), Check::Config(c))
        });
        let gateways = GatewayCheck::ALL
            .iter()
            .map(|&c| (format!("gateway.{}", c.id()), "§3", c.rule(), Check::Gateway(c)));
        let pipelines = PipelineCheck::ALL
            .iter()
            .map(|&c| (format!("pipeline.{}", c.id()), "§3", c.rule(), Check::Pipeline(c)));
        let mqtt = MqttCheck::ALL
            .iter()
            .map(|&c| (format!("mqtt.{}", c.id()), "§1, §11", c.rule(), Check::Mqtt(c)));
        tokens
            .chain(clocks)
            .chain(formats)
            .chain(credentials)
            .chain(connects)
            .chain(lifecycles)
            .chain(topics)
            .chain(configs)
            .chain(gateways)
            .chain(pipelines)
            .chain(mqtt)
            .map(|(id, section, rule, check)| case(id, section, rule, check))
            .collect()
    })
}

/// The case with this id.
pub(crate) fn find(id: &str) -> Option<&'static BridgeCase> {
    all().iter().find(|c| c.id == id)
}
