//! The control case, `auth.valid`: a valid token of a registered device, which the bridge must
//! accept. A bridge that refuses everything (wrong keys registered, a broken verifier) "passes"
//! every refusal case, so refusals are judged only when the control passed; otherwise each case
//! expecting one is not judged, and the run fails.

use fleetgate_report::CaseResult;

use super::catalogue::{BridgeCase, Outcome};
use super::checks::Ctx;
use super::executor::{expectation, one};
use crate::cases::CaseContext;

/// The control case's id.
const CONTROL: &str = "auth.valid";

/// The message of a refusal case when the control failed.
pub(super) const NOT_JUDGED: &str = "not judged: the bridge refused a valid token too (the control case auth.valid failed), so a refusal here means nothing";

/// What the control said.
pub(super) enum Control {
    /// The control case is selected: its result, at its index among the cases.
    Reported(usize, CaseResult),
    /// Not selected: run only for its verdict when a selected case expects a refusal (else
    /// `passed` without running).
    Unreported {
        /// Whether a valid token was accepted.
        passed: bool,
    },
}

/// Runs the control case before the others.
pub(super) async fn run(
    ctx: &CaseContext<'_>,
    checks_ctx: &Ctx<'_>,
    cases: &[&'static BridgeCase],
) -> Control {
    if let Some(i) = cases.iter().position(|c| c.id == CONTROL) {
        return Control::Reported(i, one(ctx, checks_ctx, cases[i]).await);
    }
    let refusals = cases
        .iter()
        .any(|case| matches!(expectation(ctx, checks_ctx, case), Ok((Outcome::Refuse, _))));
    let Some(control) = super::catalogue::find(CONTROL).filter(|_| refusals) else {
        return Control::Unreported { passed: true };
    };
    Control::Unreported {
        passed: !one(ctx, checks_ctx, control).await.verdict.fails_run(),
    }
}
