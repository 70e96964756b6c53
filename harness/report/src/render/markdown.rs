//! The Markdown summary: outcome and headline first (devices, messages, losses, throughput),
//! then every failure with its evidence, then the tables; latencies as one row per metric
//! with a column per statistic.

use std::fmt::Write as _;

use crate::format::{seconds, value};
use crate::model::{Bound, ReportData, Verdict};
use crate::render::html::outcome_word;
use crate::render::overview::{COLUMNS, grouped, headline, tally};

/// Renders the report as a Markdown summary a person reads first.
pub fn markdown(report: &ReportData) -> String {
    let mut out = String::new();
    let outcome = outcome_word(report.outcome).to_uppercase();
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
    if let Some(error) = &report.error {
        let _ = writeln!(out, "**Error:** {}\n", escape(error));
    }
    let items = headline(report);
    if !items.is_empty() {
        let cells: Vec<String> = items
            .iter()
            .map(|(label, v)| format!("**{label}** {v}"))
            .collect();
        let _ = writeln!(out, "{}\n", cells.join(" · "));
    }
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
    for c in report
        .baseline
        .iter()
        .flat_map(|b| &b.cases)
        .filter(|c| c.verdict == Verdict::Failed)
    {
        lines.push(format!(
            "- baseline: case `{}` passed in the baseline and fails now",
            c.case
        ));
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "## Failures\n\n{}\n", lines.join("\n"));
    }
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
        tally(report.cases.iter().map(|c| c.verdict))
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
        tally(report.phases.iter().map(|p| p.verdict))
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
        tally(report.gates.iter().map(|g| g.verdict))
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
        "## Baseline: {}\n\nCompared with `{}` (scenario `{}`), tolerance {}% for latencies and rates unless a row says otherwise, noise floor {}.\n",
        tally(
            baseline
                .comparisons
                .iter()
                .map(|c| c.verdict)
                .chain(baseline.cases.iter().map(|c| c.verdict))
        ),
        baseline.file,
        baseline.scenario,
        baseline.tolerance_pct,
        value(baseline.noise_floor_us, fleetgate_metrics::Unit::Micros)
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
    if !baseline.cases.is_empty() {
        let _ = writeln!(out, "| case | baseline | now | verdict |\n|---|---|---|---|");
        for c in &baseline.cases {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                c.case,
                mark(c.baseline),
                mark(c.observed),
                mark(c.verdict)
            );
        }
        out.push('\n');
    }
    for note in &baseline.notes {
        let _ = writeln!(out, "{}\n", escape(note));
    }
}

fn measurements(out: &mut String, report: &ReportData) {
    if report.measurements.is_empty() {
        return;
    }
    let grouped = grouped(&report.measurements);
    let _ = writeln!(out, "## Measurements\n");
    if !grouped.latencies.is_empty() {
        let _ = writeln!(
            out,
            "| latency | {} |\n|---|{}",
            COLUMNS.join(" | "),
            "---:|".repeat(COLUMNS.len())
        );
        for (metric, cells) in &grouped.latencies {
            let _ = writeln!(out, "| `{metric}` | {} |", cells.join(" | "));
        }
        out.push('\n');
    }
    if !grouped.singles.is_empty() {
        let _ = writeln!(out, "| metric | value |\n|---|---:|");
        for (key, m) in &grouped.singles {
            let _ = writeln!(out, "| `{key}` | {} |", value(m.value, m.unit));
        }
        out.push('\n');
    }
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

    #[test]
    fn the_headline_comes_first_and_latencies_are_one_row_each() {
        use fleetgate_metrics::{Better, Unit};

        use crate::testing::measurement;

        let mut report = report();
        for (key, v) in [
            ("messages.sent", 100.0),
            ("messages.acked", 100.0),
            ("messages.lost", 0.0),
        ] {
            report
                .measurements
                .insert(key.into(), measurement(v, Unit::Count, Better::Lower));
        }
        for column in COLUMNS {
            report.measurements.insert(
                format!("connect.{column}"),
                measurement(3_000.0, Unit::Micros, Better::Lower),
            );
        }
        report.measurements.insert(
            "connect.count".into(),
            measurement(10.0, Unit::Count, Better::Higher),
        );
        let text = markdown(&report);
        let headline = text.find("**messages** 100 sent, 100 acknowledged").unwrap();
        assert!(headline < text.find("## Failures").unwrap(), "{text}");
        assert!(text.contains("**lost** 0"), "{text}");
        assert!(
            text.contains("| latency | count | min | mean | p50 | p90 | p95 | p99 | p999 | max |"),
            "{text}"
        );
        assert!(text.contains("| `connect` | 10 | 3.0 ms |"), "{text}");
        assert!(!text.contains("`connect.p99`"), "{text}");
    }
}
