//! The conformance cases can fail: the catalogue runs against the embedded bridge once with
//! every safety check on (every bridge case passes), then once per safety check switched off,
//! and each such run fails exactly the cases of that check's rule and passes the rest. A case
//! whose precondition another rule provides is not judged, naming it, instead of failing too.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeSet;

use fleetgate_report::{ReportData, Verdict};
use fleetgate_runner::catalogue::{Family, case_ids, cases, safety_checks};
use fleetgate_runner::safety::{SafetyCheck, SafetyChecks};
use fleetgate_runner::{RunOptions, run};
use fleetgate_scenario::{SourceFile, compile};

const SCENARIO: &str = include_str!("../../../scenarios/conformance.toml");

/// How many runs go at once (each has its own runtime, bridge and emulator).
const PARALLEL: usize = 4;

fn run_with(safety: SafetyChecks) -> ReportData {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut scenario = compile(&SourceFile::new("conformance.toml", SCENARIO), &case_ids())
        .scenario
        .unwrap();
    // The gate also runs the push cases; the bridge's safety checks concern the bridge cases.
    let bridge = bridge_ids();
    scenario.cases.retain(|id| bridge.contains(&id.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        safety,
        ..RunOptions::new(dir.path().to_path_buf(), dir.path().to_path_buf())
    };
    run(&scenario, &options, &mut |_| {}).unwrap()
}

fn failed(report: &ReportData) -> BTreeSet<String> {
    report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| c.id.clone())
        .collect()
}

fn bridge_ids() -> Vec<&'static str> {
    cases()
        .into_iter()
        .filter(|c| c.family == Family::Bridge)
        .map(|c| c.id)
        .collect()
}

#[test]
fn with_every_safety_check_on_every_bridge_case_passes() {
    let report = run_with(SafetyChecks::default());
    let ran: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ran, bridge_ids(), "the scenario runs the whole bridge catalogue");
    let not_passed: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Passed)
        .map(|c| (c.id.clone(), c.message.clone()))
        .collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
}

#[test]
fn each_safety_check_switched_off_fails_exactly_its_cases() {
    let checks: Vec<SafetyCheck> = SafetyCheck::ALL.to_vec();
    let mut outcomes = Vec::new();
    for batch in checks.chunks(PARALLEL) {
        let handles: Vec<_> = batch
            .iter()
            .map(|check| {
                let check = *check;
                std::thread::spawn(move || (check, run_with(SafetyChecks::without(check))))
            })
            .collect();
        outcomes.extend(handles.into_iter().map(|h| h.join().unwrap()));
    }
    let mut wrong = Vec::new();
    for (check, report) in &outcomes {
        let expected: BTreeSet<String> = bridge_ids()
            .into_iter()
            .filter(|id| safety_checks(id).contains(check))
            .map(str::to_owned)
            .collect();
        if expected.is_empty() {
            wrong.push(format!("{}: no case detects it", check.id()));
        }
        let not_judged: Vec<(&str, &str)> = report
            .cases
            .iter()
            .filter(|c| c.verdict == Verdict::NotJudged)
            .map(|c| (c.id.as_str(), c.message.as_deref().unwrap_or_default()))
            .collect();
        let precondition = *check == SafetyCheck::ExpiryDisconnect;
        let refresh_not_judged = matches!(
            not_judged.as_slice(),
            [("lifecycle.refresh-by-reconnect", message)] if message.contains("the expiry disconnect")
        );
        if (precondition && !refresh_not_judged) || (!precondition && !not_judged.is_empty()) {
            wrong.push(format!("{}: not judged {not_judged:?}", check.id()));
        }
        let got = failed(report);
        if got != expected {
            wrong.push(format!(
                "{}: failed {:?}, expected {:?}",
                check.id(),
                got,
                expected
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
