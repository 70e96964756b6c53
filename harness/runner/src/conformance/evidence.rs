//! What a case observed, and the verdict against what it expected.

use std::collections::BTreeMap;

use super::catalogue::{Outcome, RefusalDetail};

/// What a check saw.
#[derive(Clone, Debug)]
pub(crate) struct Observation {
    /// Accepted (or the behaviour held), or refused.
    pub outcome: Outcome,
    /// What the refusal looked like, as far as it could be seen.
    pub detail: RefusalDetail,
    /// Why the behaviour did not hold, for behaviour checks.
    pub problem: Option<String>,
    /// The precondition that did not hold, when the case could not be judged at all.
    pub unmet: Option<String>,
    /// Everything worth reporting: CONNACK codes, causes, timings, messages found.
    pub evidence: BTreeMap<String, String>,
}

impl Observation {
    /// An accepted outcome.
    pub(crate) fn accepted() -> Self {
        Self {
            outcome: Outcome::Accept,
            detail: RefusalDetail::default(),
            problem: None,
            unmet: None,
            evidence: BTreeMap::new(),
        }
    }

    /// A refused outcome with its reason (when the bridge told it).
    pub(crate) fn refused(connack: Option<u8>, reason: Option<String>) -> Self {
        Self {
            outcome: Outcome::Refuse,
            detail: RefusalDetail {
                connack,
                reason,
                connack_required: false,
            },
            ..Self::accepted()
        }
    }

    /// A behaviour that did not hold, and why.
    pub(crate) fn broken(problem: impl Into<String>) -> Self {
        Self {
            problem: Some(problem.into()),
            ..Self::refused(None, None)
        }
    }

    /// A case that could not be judged: `precondition` names what did not happen.
    pub(crate) fn not_judged(precondition: impl Into<String>) -> Self {
        Self {
            unmet: Some(precondition.into()),
            ..Self::accepted()
        }
    }

    /// Adds one piece of evidence.
    pub(crate) fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.evidence.insert(key.to_owned(), value.to_string());
        self
    }

    /// Adds one piece of evidence in place.
    pub(crate) fn note(&mut self, key: &str, value: impl ToString) {
        self.evidence.insert(key.to_owned(), value.to_string());
    }
}

/// `Ok` when the observation matches the expectation, else what differs.
pub(crate) fn judge(expected: Outcome, detail: &RefusalDetail, seen: &Observation) -> Result<(), String> {
    if let Some(problem) = &seen.problem {
        return Err(problem.clone());
    }
    match (expected, seen.outcome) {
        (Outcome::Accept, Outcome::Accept) => Ok(()),
        (Outcome::Refuse, Outcome::Refuse) => {
            match (detail.connack, seen.detail.connack) {
                (Some(want), Some(got)) if want != got => {
                    return Err(format!("refused with CONNACK {got}, expected CONNACK {want}"));
                }
                (Some(want), None) if detail.connack_required => {
                    return Err(format!(
                        "refused without a CONNACK, expected CONNACK {want} ([cases.expect])"
                    ));
                }
                _ => {}
            }
            if let (Some(want), Some(got)) = (&detail.reason, &seen.detail.reason)
                && want != got
            {
                return Err(format!("refused for `{got}`, expected `{want}`"));
            }
            Ok(())
        }
        (Outcome::Accept, Outcome::Refuse) => Err(format!(
            "expected accept, but the bridge refused{}",
            describe(&seen.detail)
        )),
        (Outcome::Refuse, Outcome::Accept) => Err(format!(
            "expected refuse{}, but the bridge accepted",
            describe(detail)
        )),
    }
}

fn describe(detail: &RefusalDetail) -> String {
    match (&detail.connack, &detail.reason) {
        (Some(code), Some(reason)) => format!(" (CONNACK {code}, `{reason}`)"),
        (Some(code), None) => format!(" (CONNACK {code})"),
        (None, Some(reason)) => format!(" (`{reason}`)"),
        (None, None) => String::new(),
    }
}
