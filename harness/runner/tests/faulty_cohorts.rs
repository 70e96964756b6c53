//! Faulty cohorts: `scenarios/mixed-fleet.toml`, scaled down, passes on the embedded bridge
//! (every faulty cohort refused for its reason, every good device accepted, the gates on the
//! good devices held), and with one bridge safety check switched off exactly the cohort whose
//! fault that check catches fails, naming its accepted devices.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeSet;

use fleetgate_identity::rules::Refusal;
use fleetgate_report::{Outcome, ReportData, Verdict};
use fleetgate_runner::catalogue::case_ids;
use fleetgate_runner::safety::{SafetyCheck, SafetyChecks};
use fleetgate_runner::{RunOptions, run};
use fleetgate_scenario::{SourceFile, compile};

const SCENARIO: &str = include_str!("../../../scenarios/mixed-fleet.toml");

/// The scenario without its latency gates, with 20 good devices and 4 per other cohort, a 1 s
/// ramp and a `hold`; the
/// drifting cohort starts 596 s ahead so that it leaves the skew window within the hold, or is
/// left out.
fn scaled(hold: &str, drift: bool) -> String {
    let mut text = String::new();
    let mut skipping = false;
    for line in SCENARIO.lines() {
        if line == "[[cohort]]" || line == "[[phase]]" {
            skipping = false;
        }
        if line == "name = \"clock-drift\"" && !drift {
            skipping = true;
            text.truncate(text.trim_end().strip_suffix("[[cohort]]").unwrap().len());
            continue;
        }
        // Latency gates judge a machine's speed, which a test must not: the counters stay.
        if skipping
            || line.starts_with("\"cohort.good.connect.")
            || line.starts_with("\"cohort.good.publish.")
        {
            continue;
        }
        let line = match line {
            "devices = 4000" => "devices = 20".to_owned(),
            l if l.starts_with("devices = ") => "devices = 4".to_owned(),
            "ramp = \"10s\"" => "ramp = \"1s\"".to_owned(),
            "hold = \"30s\"" => format!("hold = \"{hold}\""),
            l => l.replace("skew = \"+580s\"", "skew = \"+596s\""),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn run_with(text: &str, safety: SafetyChecks) -> ReportData {
    let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
    let compiled = compile(&SourceFile::new("mixed-fleet.toml", text), &case_ids());
    let scenario = compiled
        .scenario
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        safety,
        ..RunOptions::new(dir.path().to_path_buf(), dir.path().to_path_buf())
    };
    run(&scenario, &options, &mut |_| {}).unwrap()
}

fn failed(report: &ReportData) -> BTreeSet<&str> {
    report
        .cohorts
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn every_faulty_cohort_is_refused_for_its_reason_and_every_good_device_accepted() {
    let report = run_with(&scaled("14s", true), SafetyChecks::default());
    let summary: Vec<String> = report
        .cohorts
        .iter()
        .map(|c| format!("{}: {:?} {:?}", c.name, c.verdict, c.differing))
        .collect();
    assert!(failed(&report).is_empty(), "{summary:#?}");
    assert_eq!(report.outcome, Outcome::Passed, "{:#?}", report.gates);
    let cohort = |name: &str| report.cohorts.iter().find(|c| c.name == name).unwrap();
    let good = cohort("good");
    assert_eq!((good.devices, good.faulty), (20, 0));
    assert!(good.accepted >= 20 && good.refused_by_connack.is_empty());
    for (name, reason) in [
        ("alg-none", "alg-none"),
        ("der-signature", "es256-signature-form"),
        ("tampered", "bad-signature"),
        ("too-long", "lifetime-too-long"),
        ("pkcs1-key", "no-credentials"),
        ("clock-ahead", "iat-in-future"),
        ("clock-1970", "expired"),
    ] {
        let c = cohort(name);
        assert_eq!(c.accepted, 0, "{name}");
        assert!(
            c.refused_by_reason.get(reason).is_some_and(|n| *n >= 4),
            "{name}: {c:?}"
        );
        assert_eq!(c.refused_by_reason.len(), 1, "{name}: {c:?}");
        assert_eq!(c.refused_by_connack.keys().collect::<Vec<_>>(), ["5"], "{name}");
    }
    let mixed = cohort("wrong-aud");
    assert_eq!(mixed.faulty, 2, "half of 4 devices carry the fault");
    assert!(mixed.accepted >= 2 && mixed.refused_by_reason.contains_key("aud-mismatch"));
    let drift = cohort("clock-drift");
    assert!(drift.accepted >= 4, "accepted while inside the window: {drift:?}");
    assert!(
        drift
            .refused_by_reason
            .get("iat-in-future")
            .is_some_and(|n| *n >= 4),
        "refused once the drift carried it out: {drift:?}"
    );
    assert!(cohort("pkcs1-key").notes[0].contains("refused 4 of 4 malformed credentials"));
    for gated in [
        "cohort.good.publish.puback.p99",
        "cohort.good.messages.lost",
        "refusals.alg-none",
    ] {
        assert!(report.measurements.contains_key(gated), "{gated}");
    }
    assert_eq!(report.measurements["cohort.good.messages.lost"].value, 0.0);
}

#[test]
fn a_bridge_that_lets_one_fault_through_fails_exactly_that_cohort() {
    let text = scaled("5s", false);
    let runs: [(Refusal, &[&str]); 7] = [
        (Refusal::AlgNone, &["alg-none"]),
        (Refusal::Es256SignatureForm, &["der-signature"]),
        (Refusal::BadSignature, &["tampered"]),
        (Refusal::AudMismatch, &["wrong-aud"]),
        (Refusal::LifetimeTooLong, &["too-long"]),
        (Refusal::IatInFuture, &["clock-ahead"]),
        (Refusal::Expired, &["clock-1970"]),
    ];
    let reports: Vec<ReportData> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(refusal, _)| {
                let text = &text;
                scope.spawn(move || run_with(text, SafetyChecks::without(SafetyCheck::Jwt(*refusal))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((refusal, expected), report) in runs.iter().zip(&reports) {
        let failing = failed(report);
        assert_eq!(
            failing,
            expected.iter().copied().collect(),
            "with {refusal:?} off: {:#?}",
            report.cohorts
        );
        assert_eq!(report.outcome, Outcome::Failed);
        let cohort = report.cohorts.iter().find(|c| c.name == expected[0]).unwrap();
        assert!(
            !cohort.differing.is_empty(),
            "the devices that differed are named"
        );
    }
    // A bridge without the `aud` check lets the faulty half of `wrong-aud` in: named.
    let wrong_aud = reports[3].cohorts.iter().find(|c| c.name == "wrong-aud").unwrap();
    assert_eq!(wrong_aud.differing_devices, 2);
    assert!(
        wrong_aud.differing[0]
            .what
            .starts_with("accepted, expected a refusal (aud-mismatch)"),
        "{:?}",
        wrong_aud.differing
    );
    // Without the `alg` none check the bridge still refuses, for another reason: named too.
    let alg_none = reports[0].cohorts.iter().find(|c| c.name == "alg-none").unwrap();
    assert!(
        alg_none.differing[0].what.contains("expected `alg-none`"),
        "{:?}",
        alg_none.differing
    );
}
