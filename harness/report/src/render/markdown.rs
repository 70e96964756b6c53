//! The Markdown summary: outcome first, then every failure with its evidence, then the tables.

use std::fmt::Write as _;

use crate::format::{seconds, value};
use crate::model::{Bound, Outcome, ReportData, Verdict};

/// Renders the report as a Markdown summary a person reads first.
pub fn markdown(report: &ReportData) -> String {
    let mut out = String::new();
    let outcome = match report.outcome {
        Outcome::Passed => "PASSED",
        Outcome::Failed => "FAILED",
    };
    let _ = writeln!(out, "# fleetgate `{}`: {outcome}\n", report.scenario.name);
    if let Some(description) = &report.scenario.description {
        let _ = writeln!(out, "{}\n", escape(description));
    }
    let _ = writeln!(
        out,
        "Scenario `{}` (seed {}), started {}, took {}; fleetgate {}.\n",
        report.scenario.file,
        report.scenario.seed,
        report.run.started_at,
        seconds(report.run.duration_secs),
        report.tool.version
    );
    failures(&mut out, report);
    cases(&mut out, report);
    super::cohorts::section(&mut out, report);
    devices(&mut out, report);
    phases(&mut out, report);
    gates(&mut out, report);
    baseline(&mut out, report);
    measurements(&mut out, report);
    if !report.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {}", escape(note));
        }
        out.push('\n');
    }
    out
}

fn failures(out: &mut String, report: &ReportData) {
    let mut lines = Vec::new();
    for case in report.cases.iter().filter(|c| c.verdict == Verdict::Failed) {
        let evidence: Vec<String> = case.evidence.iter().map(|(k, v)| format!("{k}: `{v}`")).collect();
        lines.push(format!(
            "- case `{}`: {} (rule: {}){}",
            case.name(),
            escape(case.message.as_deref().unwrap_or("failed")),
            escape(&case.rule),
            if evidence.is_empty() {
                String::new()
            } else {
                format!("; {}", evidence.join(", "))
            }
        ));
    }
    for phase in report.phases.iter().filter(|p| p.verdict == Verdict::Failed) {
        lines.push(format!(
            "- phase `{}`: {}",
            phase.name,
            escape(phase.message.as_deref().unwrap_or("failed"))
        ));
    }
    lines.extend(super::cohorts::failure_lines(report));
    for gate in report.gates.iter().filter(|g| g.verdict == Verdict::Failed) {
        lines.push(format!(
            "- gate `{}`: {}",
            gate.gate.metric,
            escape(&gate.message)
        ));
    }
    for c in report
        .baseline
        .iter()
        .flat_map(|b| &b.comparisons)
        .filter(|c| c.verdict == Verdict::Failed)
    {
        let observed = c
            .observed
            .map_or_else(|| "not measured".to_owned(), |v| value(v, c.unit));
        lines.push(format!(
            "- baseline `{}`: {observed}, baseline {}",
            c.metric,
            value(c.baseline, c.unit)
        ));
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "## Failures\n\n{}\n", lines.join("\n"));
    }
}

pub(super) fn count(verdicts: impl Iterator<Item = Verdict>) -> String {
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for verdict in verdicts {
        match verdict {
            Verdict::Passed => passed += 1,
            Verdict::Failed => failed += 1,
            Verdict::Skipped => skipped += 1,
        }
    }
    format!("{passed} passed, {failed} failed, {skipped} skipped")
}

pub(super) fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "pass",
        Verdict::Failed => "**FAIL**",
        Verdict::Skipped => "skip",
    }
}

fn cases(out: &mut String, report: &ReportData) {
    let _ = writeln!(
        out,
        "## Cases: {}\n",
        count(report.cases.iter().map(|c| c.verdict))
    );
    if report.cases.is_empty() {
        let _ = writeln!(out, "No conformance case was selected.\n");
        return;
    }
    let _ = writeln!(
        out,
        "| case | verdict | time | rule | message |\n|---|---|---|---|---|"
    );
    for case in &report.cases {
        let mut message = case.message.clone().unwrap_or_default();
        if case.device.is_some() && !case.evidence.is_empty() {
            let evidence: Vec<String> = case.evidence.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            message = [message, evidence.join("; ")]
                .into_iter()
                .filter(|m| !m.is_empty())
                .collect::<Vec<_>>()
                .join(" — ");
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            case.name(),
            mark(case.verdict),
            seconds(case.duration_secs),
            escape(&case.rule),
            escape(&message)
        );
    }
    out.push('\n');
}

/// One table row per observed device: connections, tokens, clock, messages, keep-alive.
fn devices(out: &mut String, report: &ReportData) {
    if report.devices.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Devices\n\n| device | from | connects | refused | disconnects | tokens | clock offset | reconnect wait | keep-alive | telemetry sent / acked / in Pub/Sub | state | configs sent / acked | commands sent / acked |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let counts = |map: &std::collections::BTreeMap<String, u64>| {
        map.iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let spread = |s: &Option<crate::model::Spread>| {
        s.map_or_else(
            || "-".to_owned(),
            |s| format!("{:.1} … {:.1} s (last {:.1})", s.min, s.max, s.last),
        )
    };
    for d in &report.devices {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} / {} / {} | {} | {} / {} | {} / {} |",
            escape(&d.id),
            d.peers.join(", "),
            d.connects_accepted,
            escape(&counts(&d.connects_refused)),
            escape(&counts(&d.disconnects)),
            d.tokens,
            d.token_lifetime_s
                .map_or_else(|| "-".to_owned(), |l| format!("{l} s lifetime")),
            spread(&d.clock_offset_s),
            spread(&d.reconnect_interval_s),
            d.keep_alive_s
                .map_or_else(|| "-".to_owned(), |k| format!("{k} s")),
            d.telemetry_published,
            d.telemetry_acknowledged,
            d.delivered_to_pubsub,
            d.state_published,
            d.configs_sent,
            d.configs_acknowledged,
            d.commands_sent,
            d.commands_acknowledged,
        );
    }
    out.push('\n');
}

fn phases(out: &mut String, report: &ReportData) {
    if report.phases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Phases: {}\n",
        count(report.phases.iter().map(|p| p.verdict))
    );
    let _ = writeln!(out, "| phase | verdict | time | message |\n|---|---|---|---|");
    for phase in &report.phases {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            phase.name,
            mark(phase.verdict),
            seconds(phase.duration_secs),
            escape(phase.message.as_deref().unwrap_or(""))
        );
    }
    out.push('\n');
}

fn gates(out: &mut String, report: &ReportData) {
    if report.gates.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Gates: {}\n",
        count(report.gates.iter().map(|g| g.verdict))
    );
    let _ = writeln!(
        out,
        "| metric | bound | threshold | observed | verdict |\n|---|---|---|---|---|"
    );
    for gate in &report.gates {
        let bound = match gate.gate.bound {
            Bound::Max => "max",
            Bound::Min => "min",
        };
        let observed = gate
            .observed
            .map_or_else(|| "no data".to_owned(), |v| value(v, gate.gate.unit));
        let _ = writeln!(
            out,
            "| `{}` | {bound} | {} | {observed} | {} |",
            gate.gate.metric,
            value(gate.gate.threshold, gate.gate.unit),
            mark(gate.verdict)
        );
    }
    out.push('\n');
}

fn baseline(out: &mut String, report: &ReportData) {
    let Some(baseline) = &report.baseline else { return };
    let _ = writeln!(
        out,
        "## Baseline: {}\n\nCompared with `{}` (scenario `{}`), tolerance {}%.\n",
        count(baseline.comparisons.iter().map(|c| c.verdict)),
        baseline.file,
        baseline.scenario,
        baseline.tolerance_pct
    );
    let _ = writeln!(
        out,
        "| metric | baseline | observed | change | verdict |\n|---|---|---|---|---|"
    );
    for c in &baseline.comparisons {
        let observed = c
            .observed
            .map_or_else(|| "not measured".to_owned(), |v| value(v, c.unit));
        let change = c
            .change_pct
            .map_or_else(|| "—".to_owned(), |p| format!("{p:+.1}%"));
        let _ = writeln!(
            out,
            "| `{}` | {} | {observed} | {change} | {} |",
            c.metric,
            value(c.baseline, c.unit),
            mark(c.verdict)
        );
    }
    out.push('\n');
}

fn measurements(out: &mut String, report: &ReportData) {
    if report.measurements.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Measurements\n\n| metric | value |\n|---|---|");
    for (key, m) in &report.measurements {
        let _ = writeln!(out, "| `{key}` | {} |", value(m.value, m.unit));
    }
    out.push('\n');
}

/// Keeps table cells intact: no pipes or line breaks.
pub(super) fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::report;

    #[test]
    fn failures_come_before_the_tables_with_their_evidence() {
        let text = markdown(&report());
        assert!(text.starts_with("# fleetgate `demo`: FAILED\n"), "{text}");
        let failures = text.find("## Failures").unwrap();
        assert!(failures < text.find("## Cases").unwrap());
        assert!(
            text.contains("- case `auth.alg-none`: bridge accepted alg \"none\""),
            "{text}"
        );
        assert!(text.contains("connack: `5`"), "{text}");
        assert!(
            text.contains("- gate `publish.puback.p99`: 61.0 ms > 50.0 ms (max)"),
            "{text}"
        );
        assert!(text.contains("## Cases: 1 passed, 1 failed, 1 skipped"), "{text}");
    }

    #[test]
    fn a_passing_report_has_no_failures_section() {
        let mut passing = report();
        passing.cases.retain(|c| c.verdict != Verdict::Failed);
        passing.gates.clear();
        passing.decide_outcome();
        let text = markdown(&passing);
        assert!(text.starts_with("# fleetgate `demo`: PASSED"));
        assert!(!text.contains("## Failures"));
    }
}
