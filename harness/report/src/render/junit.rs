//! JUnit XML: one testsuite each for cases, phases, gates, cohorts and the baseline comparison; one
//! testcase per item, failures carrying their message and evidence. A run that could not
//! start, could not reach its target or was interrupted adds a `run` testcase marked
//! `<error>`: CI shows an infrastructure fault, not a failure of the system under test.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::format::value;
use crate::model::{Outcome, ReportData, Verdict};

/// Renders the report as JUnit XML.
pub fn junit(report: &ReportData) -> String {
    let scenario = &report.scenario.name;
    let mut junit = Report::new(format!("fleetgate {scenario}"));
    junit.set_time(seconds(report.run.duration_secs));

    let mut cases = TestSuite::new(format!("{scenario}.cases"));
    cases.add_test_cases(report.cases.iter().map(|case| {
        let evidence: Vec<String> = case.evidence.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let details = format!("rule: {}\n{}", case.rule, evidence.join("\n"));
        testcase(
            &case.name(),
            &format!("{scenario}.cases"),
            case.verdict,
            case.message.as_deref(),
            &details,
            case.duration_secs,
        )
    }));

    let mut phases = TestSuite::new(format!("{scenario}.phases"));
    phases.add_test_cases(report.phases.iter().map(|phase| {
        testcase(
            &phase.name,
            &format!("{scenario}.phases"),
            phase.verdict,
            phase.message.as_deref(),
            "",
            phase.duration_secs,
        )
    }));

    let mut gates = TestSuite::new(format!("{scenario}.gates"));
    gates.add_test_cases(report.gates.iter().map(|gate| {
        let bound = match gate.gate.bound {
            crate::Bound::Max => "max",
            crate::Bound::Min => "min",
        };
        let name = format!("{} {bound} {}", gate.gate.metric, gate.gate.written);
        testcase(
            &name,
            &format!("{scenario}.gates"),
            gate.verdict,
            Some(&gate.message),
            "",
            0.0,
        )
    }));

    if let Some(message) = run_error(report) {
        let mut suite = TestSuite::new(format!("{scenario}.run"));
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(message);
        let mut case = TestCase::new("run", status);
        case.set_classname(format!("{scenario}.run"));
        case.set_time(seconds(report.run.duration_secs));
        suite.add_test_case(case);
        junit.add_test_suite(suite);
    }
    junit.add_test_suites([cases, phases, gates]);
    junit.add_test_suites(super::cohorts::junit_suite(report));
    if let Some(baseline) = &report.baseline {
        let mut suite = TestSuite::new(format!("{scenario}.baseline"));
        suite.add_test_cases(baseline.comparisons.iter().map(|c| {
            let observed = c
                .observed
                .map_or_else(|| "not measured".to_owned(), |v| value(v, c.unit));
            let message = format!(
                "{observed} against {} in {} (tolerance {}%)",
                value(c.baseline, c.unit),
                baseline.file,
                baseline.tolerance_pct
            );
            testcase(
                &c.metric,
                &format!("{scenario}.baseline"),
                c.verdict,
                Some(&message),
                "",
                0.0,
            )
        }));
        suite.add_test_cases(baseline.cases.iter().map(|c| {
            let message = format!(
                "{} in {}, {} now",
                verdict_word(c.baseline),
                baseline.file,
                verdict_word(c.observed)
            );
            testcase(
                &format!("case {}", c.case),
                &format!("{scenario}.baseline"),
                c.verdict,
                Some(&message),
                "",
                0.0,
            )
        }));
        junit.add_test_suite(suite);
    }
    junit.to_string().unwrap_or_default()
}

/// Why the run did not finish, when it did not.
fn run_error(report: &ReportData) -> Option<String> {
    match report.outcome {
        Outcome::Error => Some(format!(
            "error: {}",
            report.error.as_deref().unwrap_or("the run could not start")
        )),
        Outcome::Aborted => {
            Some("aborted: the run was interrupted; the report holds what was measured so far".to_owned())
        }
        Outcome::Passed | Outcome::Failed => None,
    }
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Skipped => "skipped",
    }
}

pub(super) fn testcase(
    name: &str,
    classname: &str,
    verdict: Verdict,
    message: Option<&str>,
    details: &str,
    secs: f64,
) -> TestCase {
    let mut status = match verdict {
        Verdict::Passed => TestCaseStatus::success(),
        Verdict::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Verdict::Skipped => TestCaseStatus::skipped(),
    };
    if verdict != Verdict::Passed {
        if let Some(message) = message {
            status.set_message(message);
        }
        if !details.is_empty() {
            status.set_description(details);
        }
    }
    let mut case = TestCase::new(name, status);
    case.set_classname(classname);
    case.set_time(seconds(secs));
    case
}

fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::report;

    #[test]
    fn every_case_phase_and_gate_is_a_testcase_with_its_verdict() {
        let xml = junit(&report());
        assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
        assert_eq!(
            xml.matches("<failure").count(),
            2,
            "alg-none and the gate fail: {xml}"
        );
        assert_eq!(
            xml.matches("<skipped").count(),
            2,
            "one case and the phase: {xml}"
        );
        assert!(xml.contains("bridge accepted alg &quot;none&quot;"), "{xml}");
        assert!(xml.contains("publish.puback.p99 max &quot;50ms&quot;"), "{xml}");
        assert!(!xml.contains("<error"), "{xml}");
    }

    #[test]
    fn a_run_that_could_not_start_is_an_error_not_a_failure() {
        let mut report = report();
        report.outcome = Outcome::Error;
        report.error = Some("cannot reach the bridge at 127.0.0.1:1: connection refused".into());
        let xml = junit(&report);
        assert_eq!(xml.matches("<error").count(), 1, "{xml}");
        assert!(xml.contains("connection refused"), "{xml}");
        report.outcome = Outcome::Aborted;
        let xml = junit(&report);
        assert!(xml.contains("<error message=\"aborted"), "{xml}");
    }
}
