//! Running the scenario's selected conformance cases, family by family, against the started
//! environment.

use fleetgate_report::{CaseResult, Verdict};
use fleetgate_scenario::Scenario;

use crate::catalogue::{self, CaseInfo, Family};
use crate::environment::Environment;
use crate::events::RunEvent;

mod push;

/// Why `run` skips device-side cases.
const DEVICE_CASES_SKIPPED: &str =
    "skipped: device-side cases judge real devices and run with `fleetgate qualify`";

/// What every case executor may use.
pub(crate) struct CaseContext<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The started environment.
    pub env: &'a Environment,
    /// The scenario file's folder: relative paths in the scenario start here.
    pub scenario_dir: &'a std::path::Path,
}

/// Runs the selected cases in catalogue order and tells `watch` of each verdict.
pub(crate) async fn run(ctx: &CaseContext<'_>, watch: &mut dyn FnMut(&RunEvent)) -> Vec<CaseResult> {
    let selected: Vec<CaseInfo> = ctx
        .scenario
        .cases
        .iter()
        .filter_map(|id| catalogue::find(id))
        .collect();
    let mut results = Vec::with_capacity(selected.len());
    for family in [Family::Bridge, Family::Push, Family::Device] {
        let cases: Vec<CaseInfo> = selected.iter().filter(|c| c.family == family).copied().collect();
        if cases.is_empty() {
            continue;
        }
        if family == Family::Bridge {
            let bridge: Vec<_> = cases
                .iter()
                .filter_map(|c| crate::conformance::catalogue::find(c.id))
                .collect();
            results.extend(crate::conformance::run(ctx, &bridge, watch).await);
            continue;
        }
        let family_results = match family {
            Family::Push => push::run(ctx, &cases).await,
            _ => not_run(&cases, DEVICE_CASES_SKIPPED),
        };
        for result in &family_results {
            watch(&RunEvent::CaseFinished(result.clone()));
        }
        results.extend(family_results);
    }
    results
}

/// Failed results for cases whose executor could not go on, with the reason.
fn failed(cases: &[CaseInfo], reason: &str) -> Vec<CaseResult> {
    let mut results = not_run(cases, reason);
    for result in &mut results {
        result.verdict = Verdict::Failed;
    }
    results
}

/// Skipped results for cases that cannot run, with the reason.
fn not_run(cases: &[CaseInfo], reason: &str) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|case| CaseResult {
            id: case.id.to_owned(),
            device: None,
            rule: case.rule.to_owned(),
            verdict: Verdict::Skipped,
            duration_secs: 0.0,
            message: Some(reason.to_owned()),
            evidence: Default::default(),
        })
        .collect()
}
