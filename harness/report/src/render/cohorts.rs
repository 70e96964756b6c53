//! The cohorts' verdicts in the Markdown summary and in JUnit: one row and one testcase per
//! cohort, the devices whose connects differed from the expectation listed under a failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use quick_junit::TestSuite;

use crate::model::{CohortResult, ReportData, Verdict};

/// `- cohort `x`: …` lines for the Failures section.
pub(super) fn failure_lines(report: &ReportData) -> Vec<String> {
    report
        .cohorts
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| format!("- cohort `{}`: {}", c.name, failure(c)))
        .collect()
}

fn failure(cohort: &CohortResult) -> String {
    let listed: Vec<String> = cohort
        .differing
        .iter()
        .map(|d| format!("`{}` {}", d.device, d.what))
        .collect();
    let more = cohort
        .differing_devices
        .saturating_sub(cohort.differing.len() as u64);
    format!(
        "{} of {} devices differed from the expectation ({}): {}{}",
        cohort.differing_devices,
        cohort.devices,
        cohort.expectation,
        listed.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )
}

fn tally(counts: &BTreeMap<String, u64>, label: &str) -> String {
    if counts.is_empty() {
        return "-".to_owned();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} × {label}{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `## Cohorts` table, when the run had a fleet.
pub(super) fn section(out: &mut String, report: &ReportData) {
    if report.cohorts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Cohorts: {}\n\n| | cohort | devices (faulty) | expected | connects | accepted | refused (CONNACK) | refused (bridge reason) | no CONNACK | unjudged | differing devices |\n|---|---|---|---|---|---|---|---|---|---|---|",
        super::overview::tally(report.cohorts.iter().map(|c| c.verdict))
    );
    for c in &report.cohorts {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            super::markdown::mark(c.verdict),
            c.name,
            c.devices,
            c.faulty,
            super::markdown::escape(&c.expectation),
            c.attempts,
            c.accepted,
            tally(&c.refused_by_connack, "CONNACK "),
            tally(&c.refused_by_reason, ""),
            c.dropped,
            c.unjudged,
            c.differing_devices
        );
    }
    for note in report
        .cohorts
        .iter()
        .flat_map(|c| c.notes.iter().map(move |n| (c, n)))
    {
        let _ = writeln!(out, "\n- `{}`: {}", note.0.name, super::markdown::escape(note.1));
    }
    out.push('\n');
}

/// One testcase per cohort.
pub(super) fn junit_suite(report: &ReportData) -> Option<TestSuite> {
    if report.cohorts.is_empty() {
        return None;
    }
    let name = format!("{}.cohorts", report.scenario.name);
    let mut suite = TestSuite::new(name.clone());
    suite.add_test_cases(report.cohorts.iter().map(|c| {
        let details = format!(
            "expected: {}\nconnects: {}, accepted: {}, refused: {} / {}, no CONNACK: {}, unjudged: {}",
            c.expectation,
            c.attempts,
            c.accepted,
            tally(&c.refused_by_connack, "CONNACK "),
            tally(&c.refused_by_reason, ""),
            c.dropped,
            c.unjudged
        );
        super::junit::testcase(&c.name, &name, c.verdict, Some(&failure(c)), &details, 0.0)
    }));
    Some(suite)
}

#[cfg(test)]
mod tests {
    use crate::model::DeviceDifference;

    use super::*;

    #[test]
    fn a_failed_cohort_names_its_differing_devices_in_every_form() {
        let mut report = crate::testing::report();
        report.cohorts = vec![
            CohortResult {
                name: "good".into(),
                devices: 10,
                expectation: "every connect accepted".into(),
                attempts: 10,
                accepted: 10,
                ..CohortResult::default()
            },
            CohortResult {
                name: "alg-none".into(),
                devices: 5,
                faulty: 5,
                fault: Some("auth.alg-none".into()),
                expectation: "devices with auth.alg-none: refused".into(),
                verdict: Verdict::Failed,
                attempts: 9,
                accepted: 2,
                refused_by_connack: [("5".to_owned(), 7)].into(),
                differing_devices: 2,
                differing: vec![DeviceDifference {
                    device: "bad-00001".into(),
                    what: "accepted, expected a refusal (alg-none)".into(),
                }],
                ..CohortResult::default()
            },
        ];
        report.decide_outcome();
        let text = crate::render::markdown(&report);
        assert!(
            text.contains("## Cohorts: 1 passed, 1 failed, 0 skipped"),
            "{text}"
        );
        assert!(
            text.contains("- cohort `alg-none`: 2 of 5 devices differed"),
            "{text}"
        );
        assert!(text.contains("`bad-00001` accepted, expected a refusal (alg-none); and 1 more"));
        assert!(text.contains("7 × CONNACK 5"));
        let xml = crate::render::junit(&report);
        assert!(
            xml.contains("testsuite name=\"demo.cohorts\" tests=\"2\""),
            "{xml}"
        );
        assert!(xml.contains("bad-00001"));
        let page = crate::render::html(&report);
        assert!(
            page.contains("<h2>Cohorts: 1 passed, 1 failed"),
            "the HTML report too"
        );
        assert!(page.contains("cohort <code>alg-none</code>: 2 of 5 devices differed"));
        assert!(page.contains("<code>bad-00001</code> accepted, expected a refusal (alg-none)"));
    }
}
