//! `fleetgate run`: the four report files are always written, the JSON report loads back as a
//! baseline, and exit codes follow the README (0 passed, 1 failed, 2 invalid, 3 environment).

#![allow(clippy::unwrap_used)] // test helpers fail loudly on broken fixtures

mod common;

use std::path::Path;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// `fleetgate run scenarios/smoke.toml --out OUT EXTRA…`.
fn smoke(out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run", "scenarios/smoke.toml", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    common::text(&common::fleetgate(&args))
}

fn write_scenario(dir: &Path, extra: &str) -> String {
    let path = dir.join("gated.toml");
    let text = format!(
        "[scenario]\nname = \"gated\"\n[[cohort]]\nname = \"pis\"\ndevices = 2\ndevice_id = \"pi-{{index}}\"\ntelemetry = {{ every = \"500ms\" }}\n[[phase]]\nname = \"steady\"\nhold = \"2s\"\n{extra}"
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `fleetgate run FILE --out OUT EXTRA…`.
fn run(file: &str, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run", file, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    common::text(&common::fleetgate(&args))
}

/// A report whose every measurement is one this run easily beats: huge where lower is
/// better, zero where higher is.
fn beatable(report: &str) -> serde_json::Value {
    let mut report: serde_json::Value = serde_json::from_str(report).unwrap();
    for (_, m) in report["measurements"].as_object_mut().unwrap() {
        m["value"] = serde_json::json!(if m["better"] == "lower" { 1e12 } else { 0.0 });
    }
    report
}

#[test]
fn a_passing_run_writes_four_reports_that_reload_as_a_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_scenario(tmp.path(), "");
    let out = tmp.path().join("first");
    let (code, stdout, stderr) = run(&file, &out, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("PASSED: `gated`"), "{stdout}");
    assert!(stderr.contains("phase steady passed"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&read(&out, "report.json")).unwrap();
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["measurements"]["connects.accepted"]["value"], 2.0);
    assert!(read(&out, "junit.xml").contains("<testcase name=\"steady\""));
    assert!(read(&out, "summary.md").starts_with("# fleetgate `gated`: PASSED"));
    assert!(read(&out, "report.html").contains("data-outcome=\"passed\""));

    let second = tmp.path().join("second");
    let baseline = tmp.path().join("baseline.json");
    std::fs::write(&baseline, beatable(&read(&out, "report.json")).to_string()).unwrap();
    let (code, stdout, stderr) = run(
        &file,
        &second,
        &["--baseline", baseline.to_str().unwrap(), "--tolerance", "5%"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&read(&second, "report.json")).unwrap();
    assert_eq!(report["baseline"]["tolerance_pct"], 5.0);
    assert_eq!(report["baseline"]["scenario"], "gated");
    assert!(report["baseline"]["comparisons"].as_array().unwrap().len() >= 5);
}

#[test]
fn a_failed_gate_exits_1_and_still_writes_every_report() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_scenario(tmp.path(), "[gates]\n\"push.request.p99\" = { max = \"50ms\" }\n");
    let out = tmp.path().join("out");
    let (code, stdout, _) = common::text(&common::fleetgate(&[
        "run",
        &file,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("FAILED: `gated`: 0 of 1 phases failed, 0 of 0 cases failed, 1 of 1 gates failed"),
        "{stdout}"
    );
    let junit = read(&out, "junit.xml");
    assert!(
        junit.contains("<failure message=\"no data: this run measured no `push.request.p99`\""),
        "{junit}"
    );
    assert!(read(&out, "summary.md").contains("## Failures"));
}

#[test]
fn a_baseline_metric_this_run_lacks_fails_the_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_scenario(tmp.path(), "");
    let first = tmp.path().join("first");
    assert_eq!(run(&file, &first, &[]).0, 0);
    let mut baseline: serde_json::Value = serde_json::from_str(&read(&first, "report.json")).unwrap();
    baseline["measurements"] = serde_json::json!({
        "pipeline.push.p99": { "value": 1500.0, "unit": "micros", "better": "lower" }
    });
    let baseline_path = tmp.path().join("baseline.json");
    std::fs::write(&baseline_path, baseline.to_string()).unwrap();
    let second = tmp.path().join("second");
    let (code, stdout, _) = run(&file, &second, &["--baseline", baseline_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("1 of 1 baseline comparisons failed"), "{stdout}");
    assert!(
        read(&second, "summary.md").contains("- baseline `pipeline.push.p99`: not measured, baseline 1.5 ms")
    );
}

#[test]
fn invalid_inputs_exit_2_and_say_which_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("bogus.json");
    std::fs::write(&bogus, "{\"schema_version\": 1}").unwrap();
    let (code, _, stderr) = common::text(&common::fleetgate(&[
        "run",
        "scenarios/smoke.toml",
        "--baseline",
        bogus.to_str().unwrap(),
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "error: baseline {} is not a fleetgate report.json: missing field",
            bogus.display()
        )),
        "{stderr}"
    );

    let (code, _, stderr) = common::text(&common::fleetgate(&[
        "run",
        "fixtures/scenarios-invalid/zero-devices.toml",
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "error: fixtures/scenarios-invalid/zero-devices.toml is not a runnable scenario; nothing was run"
        ),
        "{stderr}"
    );

    let (code, _, stderr) = common::text(&common::fleetgate(&["run", "no/such/file.toml"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read scenario file no/such/file.toml"),
        "{stderr}"
    );

    let (code, _, stderr) = common::text(&common::fleetgate(&[
        "run",
        "scenarios/smoke.toml",
        "--baseline",
        "x.json",
        "--tolerance",
        "lots",
    ]));
    assert_eq!(code, 2, "clap usage errors are exit 2");
    assert!(stderr.contains("\"lots\" is not a percentage"), "{stderr}");
}

#[test]
fn an_unwritable_report_folder_is_an_environment_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = blocker.join("reports");
    let (code, _, stderr) = smoke(&out, &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot create the report folder"), "{stderr}");
}

#[test]
fn without_out_reports_go_to_a_new_timestamped_folder_under_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = common::root().join("scenarios/smoke.toml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["run", scenario.to_str().unwrap()])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let folders: Vec<String> = std::fs::read_dir(tmp.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(folders.len(), 1);
    let stamp = folders[0].strip_prefix("smoke-").unwrap();
    assert_eq!(stamp.len(), "20261123T195848Z".len(), "{stamp}");
    assert!(stamp.ends_with('Z') && stamp.as_bytes()[8] == b'T', "{stamp}");
}

#[test]
fn the_conformance_gate_passes_and_a_failing_case_exits_1_with_its_evidence_first() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gate");
    let args = [
        "run",
        "scenarios/conformance.toml",
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = common::text(&common::fleetgate(&args));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let junit = read(&out, "junit.xml");
    assert!(junit.contains("<testcase name=\"auth.aud-mismatch\""), "{junit}");
    assert!(
        junit.contains("<testcase name=\"pipeline.puback-after-pubsub\""),
        "{junit}"
    );
    assert!(junit.contains("<testcase name=\"push.wrong-aud\""), "{junit}");

    // A scenario that expects the bridge to accept a token for another project.
    let file = tmp.path().join("strict.toml");
    let text = "[scenario]\nname = \"strict\"\n[cases]\ninclude = [\"auth.aud-*\", \"auth.valid\"]\n[cases.expect]\n\"auth.aud-mismatch\" = \"accept\"\n";
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("strict");
    let args = ["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (code, stdout, stderr) = common::text(&common::fleetgate(&args));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let summary = read(&out, "summary.md");
    let failures = summary.find("## Failures").unwrap();
    let failure = &summary[failures..];
    assert!(
        failure.contains(
            "case `auth.aud-mismatch`: expected accept, but the bridge refused (CONNACK 5, `aud-mismatch`)"
        ),
        "{summary}"
    );
    assert!(failure.contains("bridge_reason: `aud-mismatch`"), "{summary}");
    assert!(
        failures < summary.find("## Cases").unwrap(),
        "failures come first"
    );
    let report: serde_json::Value = serde_json::from_str(&read(&out, "report.json")).unwrap();
    let verdicts: Vec<(&str, &str)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("auth.valid", "passed"),
            ("auth.aud-mismatch", "failed"),
            ("auth.aud-array", "passed")
        ]
    );
}
