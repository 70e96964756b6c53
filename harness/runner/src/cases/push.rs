//! The push family (docs/protocol.md §6): the selected `push.*` cases run against the push endpoint
//! under test (the embedded reference verifier or the user's URL), which trusts the run's Google
//! mock; each outcome becomes a case result with its evidence (expected, status, body excerpt,
//! request).

use fleetgate_push::cases::{self, CaseOutcome, ExecutorConfig, Expectation, PushCase};
use fleetgate_report::{CaseResult, Verdict};
use fleetgate_scenario::model::CaseExpectation;

use super::{CaseContext, failed, not_run};
use crate::catalogue::CaseInfo;

/// Runs `selected` (push cases, in catalogue order) against the environment's push endpoint.
pub(super) async fn run(ctx: &CaseContext<'_>, selected: &[CaseInfo]) -> Vec<CaseResult> {
    let Some(push) = ctx.env.push.as_ref() else {
        return not_run(selected, "the environment has no push endpoint");
    };
    // `[cases.expect]` holds for push cases too: skip, or accept/refuse instead of the catalogue.
    let settings = &ctx.scenario.case_settings;
    let (skip, run): (Vec<CaseInfo>, Vec<CaseInfo>) = selected
        .iter()
        .partition(|c| settings.expectation(c.id) == Some(CaseExpectation::Skip));
    let cases: Vec<PushCase> = run.iter().filter_map(|c| PushCase::by_id(c.id)).collect();
    let overrides = cases
        .iter()
        .filter_map(|&case| match settings.expectation(case.id())? {
            CaseExpectation::Accept => Some((case, Expectation::Accept)),
            CaseExpectation::Refuse => Some((case, Expectation::Refuse)),
            CaseExpectation::Skip => None,
        })
        .collect();
    let config = ExecutorConfig {
        refusal_statuses: ctx.scenario.push.refusal_statuses.clone(),
        overrides,
        ..ExecutorConfig::default()
    };
    let mut results = not_run(&skip, "skipped: the scenario's [cases.expect] says skip");
    match cases::run(&push.mock, &push.target, &config, &cases).await {
        Ok(outcomes) => results.extend(outcomes.into_iter().map(result)),
        Err(error) => results.extend(failed(&run, &format!("the push cases could not run: {error}"))),
    }
    let order = |id: &str| selected.iter().position(|c| c.id == id);
    results.sort_by_key(|r| order(&r.id));
    results
}

fn result(outcome: CaseOutcome) -> CaseResult {
    CaseResult {
        id: outcome.id,
        device: None,
        rule: outcome.rule,
        verdict: if outcome.passed {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        duration_secs: outcome.duration.as_secs_f64(),
        message: outcome.message,
        evidence: outcome.evidence,
    }
}
