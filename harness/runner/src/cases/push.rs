//! The push family (docs/protocol.md §6): the selected `push.*` cases run against the push endpoint
//! under test (the embedded reference verifier or the user's URL), which trusts the run's Google
//! mock; each outcome becomes a case result with its evidence (expected, status, body excerpt,
//! request).

use fleetgate_push::cases::{self, CaseOutcome, ExecutorConfig, Expectation, PushCase};
use fleetgate_report::{CaseResult, Verdict};
use fleetgate_scenario::model::{CaseExpectation, HttpStatus, PushBody};

use super::{CaseContext, failed, not_run};
use crate::catalogue::CaseInfo;

/// Why `push.unwrapped-body` is skipped on an endpoint configured for wrapped bodies only.
const WRAPPED_ONLY: &str = "skipped: [push] body = \"wrapped\" (the default): the endpoint takes Pub/Sub's wrapped bodies only, as a subscription without noWrapper sends them; set body = \"unwrapped\" or \"both\" when it takes unwrapped bodies";

/// Runs `selected` (push cases, in catalogue order) against the environment's push endpoint.
pub(super) async fn run(ctx: &CaseContext<'_>, selected: &[CaseInfo]) -> Vec<CaseResult> {
    let Some(push) = ctx.env.push.as_ref() else {
        return not_run(selected, "the environment has no push endpoint");
    };
    // `[cases.expect]` holds for push cases too: skip, or an outcome instead of the catalogue's.
    let settings = &ctx.scenario.case_settings;
    let body = ctx.scenario.push.body;
    let (skip, rest): (Vec<CaseInfo>, Vec<CaseInfo>) = selected
        .iter()
        .partition(|c| settings.expectation(c.id) == Some(CaseExpectation::Skip));
    let (wrapped_only, run): (Vec<CaseInfo>, Vec<CaseInfo>) = rest
        .iter()
        .partition(|c| c.id == PushCase::UnwrappedBody.id() && !body.unwrapped());
    let cases: Vec<PushCase> = run.iter().filter_map(|c| PushCase::by_id(c.id)).collect();
    let overrides = cases
        .iter()
        .filter_map(|&case| Some((case, expectation(settings.expectation(case.id())?)?)))
        .collect();
    let config = ExecutorConfig {
        refusal_statuses: ctx.scenario.push.refusal_statuses.clone(),
        overrides,
        unwrapped: body == PushBody::Unwrapped,
        ..ExecutorConfig::default()
    };
    let mut results = not_run(&skip, "skipped: the scenario's [cases.expect] says skip");
    results.extend(not_run(&wrapped_only, WRAPPED_ONLY));
    match cases::run(&push.mock, &push.target, &config, &cases).await {
        Ok(outcomes) => results.extend(outcomes.into_iter().map(result)),
        Err(error) => results.extend(failed(&run, &format!("the push cases could not run: {error}"))),
    }
    let order = |id: &str| selected.iter().position(|c| c.id == id);
    results.sort_by_key(|r| order(&r.id));
    results
}

/// The push executor's expectation for a scenario's `[cases.expect]` (none for skip, which
/// does not run, or for a CONNACK code, which validation refuses for push cases).
fn expectation(stated: CaseExpectation) -> Option<Expectation> {
    match stated {
        CaseExpectation::Accept => Some(Expectation::Accept),
        CaseExpectation::Refuse => Some(Expectation::Refuse),
        CaseExpectation::Status(HttpStatus::Exact(code)) => Some(Expectation::Status(code)),
        CaseExpectation::Status(HttpStatus::Class(class)) => Some(Expectation::StatusClass(class)),
        CaseExpectation::Skip | CaseExpectation::Connack(_) => None,
    }
}

fn result(outcome: CaseOutcome) -> CaseResult {
    CaseResult {
        id: outcome.id,
        device: None,
        rule: outcome.rule,
        verdict: match (outcome.judged, outcome.passed) {
            (false, _) => Verdict::NotJudged,
            (true, true) => Verdict::Passed,
            (true, false) => Verdict::Failed,
        },
        duration_secs: outcome.duration.as_secs_f64(),
        message: outcome.message,
        evidence: outcome.evidence,
    }
}
