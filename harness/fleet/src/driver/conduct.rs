//! How a device's connects went against what the bridge should have done with each: the token
//! source, the judge that states the expectation per token, and the per-device tally.

use std::collections::BTreeSet;
use std::fmt::Debug;

use fleetgate_identity::KeyError;
use fleetgate_identity::jwt::{MintedToken, TokenMinter};

/// Makes a device's tokens (its MQTT passwords).
pub trait TokenSource: Send + Sync + Debug {
    /// The token the device sends at true time `true_ms` (Unix milliseconds).
    fn token(&self, true_ms: i64) -> Result<MintedToken, KeyError>;
}

impl TokenSource for TokenMinter {
    fn token(&self, true_ms: i64) -> Result<MintedToken, KeyError> {
        self.mint_at(true_ms)
    }
}

/// What the bridge should do with one connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Accept it.
    Accept,
    /// Refuse it.
    Refuse {
        /// The refusal reason (the embedded bridge reports it), when one is expected.
        reason: Option<String>,
        /// The CONNACK code, when one is expected.
        connack: Option<u8>,
    },
    /// Too close to a time boundary (a clock crossing the skew window) to judge.
    Unjudged,
}

/// States, per token, what the bridge should do.
pub trait Judge: Send + Sync + Debug {
    /// The expectation for `token`, sent at true time `true_ms`.
    fn expect(&self, token: &str, true_ms: i64) -> Expected;
}

/// How one connect ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// CONNACK 0.
    Accepted,
    /// A refusing CONNACK with this code.
    Refused(u8),
    /// The connection ended without a CONNACK.
    Dropped,
}

/// Differences kept per device; beyond it they are counted only.
const KEPT: usize = 3;

/// One device's connects: counts by outcome, and where they differed from the expectation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conduct {
    /// Connects attempted (a token handed to the client).
    pub attempts: u64,
    /// Connects accepted.
    pub accepted: u64,
    /// Connects refused, by CONNACK code (index 1–5; others at 0).
    pub refused: [u64; 6],
    /// Connects that ended without a CONNACK.
    pub dropped: u64,
    /// Connects too close to a time boundary to judge.
    pub unjudged: u64,
    /// Connects a refusal was expected for.
    pub expected_refusals: u64,
    /// The reasons expected of the refusals.
    pub expected_reasons: BTreeSet<String>,
    /// Connects whose outcome differed from the expectation.
    pub differing: u64,
    /// The first few differences, in words.
    pub differences: Vec<String>,
}

impl Conduct {
    /// Notes one connect's `outcome` against `expected`.
    pub fn record(&mut self, expected: &Expected, outcome: Outcome) {
        self.attempts += 1;
        match outcome {
            Outcome::Accepted => self.accepted += 1,
            Outcome::Refused(code) => self.refused[usize::from(code.min(5))] += 1,
            Outcome::Dropped => self.dropped += 1,
        }
        let difference = match (expected, outcome) {
            (Expected::Unjudged, _) => {
                self.unjudged += 1;
                None
            }
            (_, Outcome::Dropped) | (Expected::Accept, Outcome::Accepted) => None,
            (Expected::Accept, Outcome::Refused(code)) => {
                Some(format!("refused with CONNACK {code}, expected to be accepted"))
            }
            (Expected::Refuse { reason, .. }, Outcome::Accepted) => Some(format!(
                "accepted, expected a refusal{}",
                reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            )),
            (Expected::Refuse { connack, .. }, Outcome::Refused(code)) => connack
                .filter(|c| *c != code)
                .map(|c| format!("refused with CONNACK {code}, expected CONNACK {c}")),
        };
        if let Expected::Refuse { reason, .. } = expected {
            self.expected_refusals += 1;
            if let Some(reason) = reason {
                self.expected_reasons.insert(reason.clone());
            }
        }
        if let Some(difference) = difference {
            self.differ(difference);
        }
    }

    /// Notes a difference found elsewhere (the bridge's reason for a refusal).
    pub fn differ(&mut self, difference: String) {
        self.differing += 1;
        if self.differences.len() < KEPT {
            self.differences.push(difference);
        }
    }

    /// Connects refused, whatever the code.
    pub fn refusals(&self) -> u64 {
        self.refused.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuse(connack: Option<u8>) -> Expected {
        Expected::Refuse {
            reason: Some("alg-none".into()),
            connack,
        }
    }

    #[test]
    fn outcomes_are_judged_against_the_expectation() {
        let mut c = Conduct::default();
        c.record(&refuse(Some(5)), Outcome::Refused(5));
        c.record(&refuse(Some(5)), Outcome::Dropped);
        assert_eq!(c.differing, 0);
        c.record(&refuse(Some(5)), Outcome::Refused(4));
        c.record(&refuse(None), Outcome::Accepted);
        c.record(&Expected::Accept, Outcome::Refused(5));
        c.record(&Expected::Accept, Outcome::Accepted);
        c.record(&Expected::Unjudged, Outcome::Refused(5));
        assert_eq!(c.attempts, 7);
        assert_eq!((c.accepted, c.refusals(), c.dropped, c.unjudged), (2, 4, 1, 1));
        assert_eq!(c.differing, 3);
        assert_eq!(c.differences[0], "refused with CONNACK 4, expected CONNACK 5");
        assert_eq!(c.differences[1], "accepted, expected a refusal (alg-none)");
        assert_eq!(c.expected_refusals, 4);
        assert!(c.expected_reasons.contains("alg-none"));
        for _ in 0..10 {
            c.differ("again".into());
        }
        assert_eq!((c.differing, c.differences.len()), (13, KEPT));
    }
}
