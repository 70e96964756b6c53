//! Faulty devices and what is expected of every device: a catalogue token mutation as a
//! device's token source, and a judge that applies the reference JWT rules with the profile's
//! settings to each token a device sends (or the cohort's stated expectation).

use std::sync::Arc;

use fleetgate_bridge::profile::Profile;
use fleetgate_fleet::driver::conduct::{Expected, Judge, TokenSource};
use fleetgate_identity::clock::{ClockStart, DeviceClock};
use fleetgate_identity::credentials::{
    Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::jwt::MintedToken;
use fleetgate_identity::jwt::mutations::{MutationContext, TokenMutation};
use fleetgate_identity::rules::{BridgeSettings, check};
use fleetgate_identity::{DeviceKey, KeyError};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{BridgeTarget, CohortExpectation, Profile as ScenarioProfile};

/// How far from a time boundary a token must be for its verdict to be judged: the bridge reads
/// its clock a little after the device minted, and claims are whole seconds.
const MARGIN_SECS: i64 = 5;

/// The profile of the bridge under test.
pub(super) fn profile_under_test(scenario: &Scenario) -> Profile {
    let profile = match &scenario.target.bridge {
        BridgeTarget::External { profile, .. } => *profile,
        BridgeTarget::Embedded => scenario.bridge.profile,
    };
    match profile {
        ScenarioProfile::Google => Profile::google(),
        ScenarioProfile::ClearBlade => Profile::clearblade(),
    }
}

/// A faulty device's tokens: the catalogue mutation, built at the device clock's time.
#[derive(Debug)]
pub(super) struct MutatedTokens {
    pub(super) mutation: TokenMutation,
    pub(super) key: Arc<DeviceKey>,
    pub(super) other_key: Arc<DeviceKey>,
    pub(super) audience: String,
    pub(super) clock: DeviceClock,
    pub(super) skew_secs: i64,
}

impl TokenSource for MutatedTokens {
    fn token(&self, true_ms: i64) -> Result<MintedToken, KeyError> {
        let now = self.clock.now_secs(true_ms);
        let token = self.mutation.build(&MutationContext {
            key: &self.key,
            other_key: &self.other_key,
            audience: &self.audience,
            now,
            skew_secs: self.skew_secs,
        })?;
        Ok(MintedToken {
            token,
            iat: now,
            exp: now,
        })
    }
}

/// Judges each token by the reference rules, or by the cohort's stated expectation.
#[derive(Debug)]
pub(super) struct RulesJudge {
    audience: String,
    credentials: Vec<RegisteredCredential>,
    settings: BridgeSettings,
    connack: u8,
    stated: Option<CohortExpectation>,
}

impl RulesJudge {
    /// A judge for a device holding `key` (registered as its public key, or not at all when
    /// `registered` is false), under `profile`, with the cohort's `stated` expectation.
    pub(super) fn new(
        audience: &str,
        key: &DeviceKey,
        registered: bool,
        profile: &Profile,
        stated: Option<CohortExpectation>,
    ) -> Self {
        let credential = Credential {
            format: CredentialFormat::of(key.alg(), false),
            pem: key.spki_pem(),
            expiration: None,
        };
        let policy = RegistrationPolicy {
            now: 0,
            min_rsa_bits: 0,
            registry_cas: Vec::new(),
        };
        let credentials = registered
            .then(|| RegisteredCredential::register(&credential, "device key", &policy).ok())
            .flatten()
            .into_iter()
            .collect();
        Self {
            audience: audience.to_owned(),
            credentials,
            settings: profile.jwt.clone(),
            connack: profile.connack_auth_failure,
            stated,
        }
    }
}

impl Judge for RulesJudge {
    fn expect(&self, token: &str, true_ms: i64) -> Expected {
        match &self.stated {
            Some(CohortExpectation::Accept) => return Expected::Accept,
            Some(CohortExpectation::Refuse { reason, connack }) => {
                return Expected::Refuse {
                    reason: reason.clone(),
                    connack: Some(connack.unwrap_or(self.connack)),
                };
            }
            None => {}
        }
        let now = true_ms.div_euclid(1000);
        let verdict = |at| check(token, &self.audience, &self.credentials, &self.settings, at).result;
        match (verdict(now - MARGIN_SECS), verdict(now + MARGIN_SECS)) {
            (Ok(_), Ok(_)) => Expected::Accept,
            (Err(early), Err(late)) if early == late => Expected::Refuse {
                reason: Some(early.id().to_owned()),
                connack: Some(self.connack),
            },
            _ => Expected::Unjudged,
        }
    }
}

/// Whether a clock can carry a well-formed token out of the profile's window, so that even
/// well-behaved devices of the cohort need judging.
pub(super) fn clock_needs_judging(clock: &DeviceClock) -> bool {
    let model = clock.model();
    model.start != ClockStart::Synced || model.skew_ms.abs() >= 1000 || model.drift_ppm.abs() >= 100.0
}
