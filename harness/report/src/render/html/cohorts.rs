//! The cohorts of the HTML report: one row per cohort with its counts, and the devices whose
//! connects differed from the expectation under it.

use std::fmt::Write as _;

use super::escape;
use crate::model::{ReportData, Verdict};
use crate::render::overview::tally;

/// `cohort <name>: …` items for the failures list.
pub(super) fn failures(report: &ReportData) -> Vec<String> {
    report
        .cohorts
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| {
            format!(
                "cohort <code>{}</code>: {} of {} devices differed from the expectation ({})",
                escape(&c.name),
                c.differing_devices,
                c.devices,
                escape(&c.expectation)
            )
        })
        .collect()
}

/// The `Cohorts` table.
pub(super) fn section(out: &mut String, report: &ReportData) {
    if report.cohorts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section id=\"cohorts\">\n<h2>Cohorts: {}</h2>\n<table>\n<thead><tr><th>cohort</th><th>verdict</th><th>devices (faulty)</th><th>expected</th><th>connects</th><th>accepted</th><th>refused</th><th>no CONNACK</th><th>unjudged</th><th>differing</th></tr></thead>\n<tbody>",
        tally(report.cohorts.iter().map(|c| c.verdict))
    );
    for c in &report.cohorts {
        let refused: Vec<String> = c
            .refused_by_connack
            .iter()
            .map(|(code, n)| format!("{n} × CONNACK {code}"))
            .chain(c.refused_by_reason.iter().map(|(r, n)| format!("{n} × {r}")))
            .collect();
        let word = match c.verdict {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Skipped => "skipped",
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"v-{word}\">{word}</td><td class=\"num\">{} ({})</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&c.name),
            c.devices,
            c.faulty,
            escape(&c.expectation),
            c.attempts,
            c.accepted,
            escape(&refused.join(", ")),
            c.dropped,
            c.unjudged,
            c.differing_devices
        );
        for d in &c.differing {
            let _ = writeln!(
                out,
                "<tr><td></td><td colspan=\"9\"><code>{}</code> {}</td></tr>",
                escape(&d.device),
                escape(&d.what)
            );
        }
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}
