//! The push family (docs/protocol.md §6): the selected `push.*` cases run against the push endpoint
//! under test (the embedded reference verifier or the user's URL), which trusts the run's Google
//! mock; each outcome becomes a case result with its evidence (expected, status, body excerpt,
//! request).

use fleetgate_push::cases::{self, CaseOutcome, ExecutorConfig, PushCase};
use fleetgate_report::{CaseResult, Verdict};

use super::{CaseContext, failed, not_run};
use crate::catalogue::CaseInfo;

/// Runs `selected` (push cases, in catalogue order) against the environment's push endpoint.
pub(super) async fn run(ctx: &CaseContext<'_>, selected: &[CaseInfo]) -> Vec<CaseResult> {
    let Some(push) = ctx.env.push.as_ref() else {
        return not_run(selected, "the environment has no push endpoint");
    };
    let cases: Vec<PushCase> = selected.iter().filter_map(|c| PushCase::by_id(c.id)).collect();
    let config = ExecutorConfig {
        refusal_statuses: ctx.scenario.push.refusal_statuses.clone(),
        ..ExecutorConfig::default()
    };
    match cases::run(&push.mock, &push.target, &config, &cases).await {
        Ok(outcomes) => outcomes.into_iter().map(result).collect(),
        Err(error) => failed(selected, &format!("the push cases could not run: {error}")),
    }
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
