//! Baselines in CI: two back-to-back runs of the same scenario pass against each other with
//! the default comparison, while a real regression (a latency increase worth a gate, a case
//! that passed and now fails) fails the run; a baseline of another scenario is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::{Path, PathBuf};

/// `fleetgate run FILE --out DIR [--baseline B]`: exit code and the report.
fn run(file: &str, out: &Path, baseline: Option<&Path>) -> (i32, serde_json::Value, String) {
    let mut args = vec!["run", file, "--out", out.to_str().unwrap()];
    if let Some(b) = baseline {
        args.extend(["--baseline", b.to_str().unwrap()]);
    }
    let (code, stdout, stderr) = common::text(&common::fleetgate(&args));
    let report = std::fs::read_to_string(out.join("report.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_default();
    (code, report, format!("{stdout}{stderr}"))
}

fn failed_comparisons(report: &serde_json::Value) -> Vec<String> {
    let baseline = &report["baseline"];
    let metrics = baseline["comparisons"].as_array().unwrap().iter();
    let cases = baseline["cases"].as_array().into_iter().flatten();
    metrics
        .chain(cases)
        .filter(|c| c["verdict"] == "failed")
        .map(|c| c["metric"].as_str().or(c["case"].as_str()).unwrap().to_owned())
        .collect()
}

/// Runs `file` twice, the second against the first, and returns the second report.
fn back_to_back(file: &str, dir: &Path) -> serde_json::Value {
    let first = dir.join("first");
    let (code, _, output) = run(file, &first, None);
    assert_eq!(code, 0, "{output}");
    let (code, report, output) = run(file, &dir.join("second"), Some(&first.join("report.json")));
    assert_eq!(code, 0, "{output}\nfailed: {:?}", failed_comparisons(&report));
    report
}

#[test]
fn two_runs_of_smoke_pass_against_each_other_on_medians_tails_rates_and_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let report = back_to_back("scenarios/smoke.toml", tmp.path());
    let compared: Vec<&str> = report["baseline"]["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metric"].as_str().unwrap())
        .collect();
    for key in ["publish.puback.p50", "publish.throughput", "messages.lost"] {
        assert!(compared.contains(&key), "{key} not compared: {compared:?}");
    }
    let notes = report["baseline"]["notes"].to_string();
    assert!(
        notes.contains("too few samples") && notes.contains("publish.puback.p99"),
        "113 samples do not estimate a p99: {notes}"
    );
    assert!(
        !compared
            .iter()
            .any(|k| k.ends_with(".min") || k.ends_with(".max")),
        "{compared:?}"
    );
}

#[test]
fn two_runs_of_conformance_pass_against_each_other_case_by_case() {
    let tmp = tempfile::tempdir().unwrap();
    let report = back_to_back("scenarios/conformance.toml", tmp.path());
    assert_eq!(report["baseline"]["scenario"], "conformance");
    assert!(
        report["baseline"].get("cases").is_none(),
        "no verdict changed: {}",
        report["baseline"]
    );
}

fn scenario(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let text = format!(
        "[scenario]\nname = \"regress\"\n[cases]\ninclude = [\"auth.aud-mismatch\", \"auth.valid\"]\n[[cohort]]\nname = \"pis\"\ndevices = 2\ndevice_id = \"pi-{{index}}\"\ntelemetry = {{ every = \"200ms\" }}\n[[phase]]\nname = \"steady\"\nhold = \"2s\"\n{extra}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_slower_bridge_and_a_newly_failing_case_fail_against_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let good = scenario(tmp.path(), "good", "");
    let first = tmp.path().join("first");
    let (code, _, output) = run(good.to_str().unwrap(), &first, None);
    assert_eq!(code, 0, "{output}");
    let baseline = first.join("report.json");

    let slow = scenario(
        tmp.path(),
        "slow",
        "[[fault]]\nat = \"0s\"\nkind = \"delay-pubacks\"\ndelay = \"50ms\"\n",
    );
    let (code, report, output) = run(slow.to_str().unwrap(), &tmp.path().join("slow"), Some(&baseline));
    assert_eq!(code, 1, "{output}");
    let failed = failed_comparisons(&report);
    assert!(failed.contains(&"publish.puback.p50".to_owned()), "{failed:?}");

    let strict = scenario(
        tmp.path(),
        "strict",
        "[cases.expect]\n\"auth.aud-mismatch\" = \"accept\"\n",
    );
    let out = tmp.path().join("strict");
    let (code, report, output) = run(strict.to_str().unwrap(), &out, Some(&baseline));
    assert_eq!(code, 1, "{output}");
    assert_eq!(
        failed_comparisons(&report),
        ["auth.aud-mismatch"],
        "{}",
        report["baseline"]
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("- baseline: case `auth.aud-mismatch` passed in the baseline and fails now"),
        "{summary}"
    );
}

#[test]
fn a_baseline_of_another_scenario_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let good = scenario(tmp.path(), "good", "");
    let first = tmp.path().join("first");
    assert_eq!(run(good.to_str().unwrap(), &first, None).0, 0);
    let (code, _, output) = run(
        "scenarios/key-formats.toml",
        &tmp.path().join("other"),
        Some(&first.join("report.json")),
    );
    assert_eq!(code, 2, "{output}");
    assert!(
        output.contains("is a report of scenario `regress`, not `key-formats`"),
        "{output}"
    );
}
