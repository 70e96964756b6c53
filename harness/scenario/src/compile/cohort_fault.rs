//! A cohort's clock start, fault and expectation: `clock.start`, `fault`, `fault_share`,
//! `expect`, `expect_reason`, `expect_connack`.

use std::time::UNIX_EPOCH;

use fleetgate_identity::Alg;
use fleetgate_identity::jwt::mutations::TokenMutation;
use fleetgate_identity::rules::Refusal;
use fleetgate_identity::variants::{KEY_FORMAT_VARIANTS, KeyFormatVariant};

use crate::model::{
    Algorithm, BridgeTarget, Cohort, CohortExpectation, CohortFault, EmbeddedBridge, FaultKind, Profile,
    Target,
};
use crate::read::{Fields, Item, Val};

use super::Cx;

/// Refusal reasons of the embedded bridge beyond the JWT rules' own.
pub(crate) const BRIDGE_REASONS: &[&str] = &[
    "unknown-device",
    "other-registry",
    "malformed-client-id",
    "persistent-session",
    "blocked-device",
    "no-username",
];

/// Key-format variants a cohort fault can carry: refused at registration, and needing no
/// registry CA (the cohort's devices register without one).
fn credential_faults() -> impl Iterator<Item = &'static KeyFormatVariant> {
    KEY_FORMAT_VARIANTS.iter().filter(|v| {
        v.expected.is_some() && !matches!(v.id, "certificate-wrong-ca" | "bare-key-with-registry-ca")
    })
}

/// Every fault id a cohort accepts, for messages and the reference.
pub(crate) fn fault_ids() -> Vec<String> {
    TokenMutation::ALL
        .iter()
        .filter(|m| **m != TokenMutation::Valid)
        .map(|m| m.case_id())
        .chain(credential_faults().map(|v| format!("key-format.{}", v.id)))
        .collect()
}

/// `clock.start`: `None` for a synchronised clock, else the Unix time it starts from.
pub(super) fn clock_start(clock: &Fields, cx: &mut Cx) -> Option<Option<i64>> {
    let (Some(item), Some(text)) = (clock.get("start"), clock.str("start")) else {
        return Some(None);
    };
    if text == "synced" {
        return Some(None);
    }
    match humantime::parse_rfc3339(text) {
        Ok(time) => Some(Some(
            time.duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )),
        Err(_) => {
            cx.error(
                item,
                format!("clock start \"{text}\" is neither \"synced\" nor an RFC 3339 UTC time"),
                "\"synced\", or a time such as \"1970-01-01T00:00:00Z\"",
            );
            None
        }
    }
}

/// `fault` and `fault_share` of a cohort whose keys are `alg`.
pub(super) fn fault(fields: &Fields, name: &str, alg: Algorithm, cx: &mut Cx) -> Option<Option<CohortFault>> {
    let share = fields.float("fault_share").unwrap_or(1.0);
    let Some(item) = fields.get("fault") else {
        if let Some(share_item) = fields.get("fault_share") {
            cx.error(
                share_item,
                format!("cohort `{name}` sets fault_share but no fault"),
                "a fault = \"…\" for the share to carry, or no fault_share",
            );
            return None;
        }
        return Some(None);
    };
    let id = fields.str("fault").unwrap_or_default();
    let kind = if let Some(mutation) = TokenMutation::by_case_id(id).filter(|m| *m != TokenMutation::Valid) {
        let key_alg = match alg {
            Algorithm::Rs256 => Alg::Rs256,
            Algorithm::Es256 => Alg::Es256,
        };
        if !mutation.applies_to(key_alg) {
            cx.error(
                item,
                format!("fault `{id}` of cohort `{name}` needs ES256 keys, and the cohort signs with RS256"),
                "key = { alg = \"ES256\" }, or a fault for any key such as auth.tampered-payload (see `fleetgate cases`)",
            );
            return None;
        }
        FaultKind::Token(mutation)
    } else if let Some(variant) = id
        .strip_prefix("key-format.")
        .and_then(|v| credential_faults().find(|c| c.id == v))
    {
        FaultKind::Credential(variant)
    } else {
        cx.error(
            item,
            format!("cohort `{name}`: `{id}` is not a fault a cohort can carry"),
            format!("one of {}", fault_ids().join(", ")),
        );
        return None;
    };
    Some(Some(CohortFault {
        id: id.to_owned(),
        kind,
        share,
    }))
}

/// `expect`, `expect_reason` and `expect_connack` of a cohort.
pub(super) fn expectation(fields: &Fields, name: &str, cx: &mut Cx) -> Option<Option<CohortExpectation>> {
    let reason = fields.str("expect_reason");
    let connack = fields.int("expect_connack").and_then(|c| u8::try_from(c).ok());
    let refusal_detail = || {
        fields
            .get("expect_reason")
            .or_else(|| fields.get("expect_connack"))
    };
    match fields.str("expect") {
        None | Some("accept") => {
            if let Some(detail) = refusal_detail() {
                misplaced(detail, name, fields.get("expect").is_some(), cx);
                return None;
            }
            Some(fields.get("expect").map(|_| CohortExpectation::Accept))
        }
        _ => {
            if let (Some(reason), Some(item)) = (reason, fields.get("expect_reason"))
                && !known_reason(reason)
            {
                let known: Vec<&str> = Refusal::ALL
                    .iter()
                    .map(|r| r.id())
                    .chain(BRIDGE_REASONS.iter().copied())
                    .collect();
                cx.error(
                    item,
                    format!("cohort `{name}`: no bridge profile refuses for `{reason}`"),
                    format!("one of {}", known.join(", ")),
                );
                return None;
            }
            Some(Some(CohortExpectation::Refuse {
                reason: reason.map(str::to_owned),
                connack,
            }))
        }
    }
}

fn known_reason(reason: &str) -> bool {
    Refusal::ALL.iter().any(|r| r.id() == reason) || BRIDGE_REASONS.contains(&reason)
}

fn misplaced(item: &Item, name: &str, accept: bool, cx: &mut Cx) {
    let why = if accept {
        "expect = \"accept\""
    } else {
        "no expect"
    };
    cx.error(
        item,
        format!("cohort `{name}` states a refusal's reason or CONNACK code with {why}"),
        "expect = \"refuse\" beside expect_reason / expect_connack",
    );
}

/// A stated expectation must be one the profile under test can give: its CONNACK codes for a
/// refused connect, and reasons its JWT rules can refuse for.
pub(super) fn expectations_the_profile_gives(
    items: &[Item],
    cohorts: &[Cohort],
    target: &Target,
    bridge: &EmbeddedBridge,
    cx: &mut Cx,
) {
    let profile = match &target.bridge {
        BridgeTarget::External { profile, .. } => *profile,
        BridgeTarget::Embedded => bridge.profile,
    };
    let (name, auth_code, base64) = match profile {
        Profile::Google => ("google", 5, false),
        Profile::ClearBlade => ("clearblade", 4, true),
    };
    for cohort in cohorts {
        let Some(CohortExpectation::Refuse { reason, connack }) = &cohort.expect else {
            continue;
        };
        let fields = items.iter().find_map(|item| match &item.val {
            Val::Table(t) if t.str("name") == Some(cohort.name.as_str()) => Some(t),
            _ => None,
        });
        if let (Some(code), Some(item)) = (connack, fields.and_then(|f| f.get("expect_connack")))
            && ![2, auth_code].contains(code)
        {
            cx.error(
                item,
                format!(
                    "cohort `{}`: the {name} profile never refuses a connect with CONNACK {code}",
                    cohort.name
                ),
                format!("{auth_code} (a refused JWT, credential or device) or 2 (a malformed client id)"),
            );
        }
        let never = match reason.as_deref() {
            Some(r @ ("extra-claims" | "kid-not-allowed")) => Some(r),
            Some(r @ "bad-base64") if !base64 => Some(r),
            _ => None,
        };
        if let (Some(reason), Some(item)) = (never, fields.and_then(|f| f.get("expect_reason"))) {
            cx.error(
                item,
                format!(
                    "cohort `{}`: the {name} profile never refuses for `{reason}` (it ignores what this reason is about)",
                    cohort.name
                ),
                "a reason the profile's rules refuse for, or the clearblade profile for bad-base64",
            );
        }
    }
}
