//! The tables of the HTML report: failures, cases (failures first, filterable), phases,
//! gates, the baseline comparison, measurements, devices and notes.

use std::fmt::Write as _;

use super::escape;
use crate::format::{seconds, value};
use crate::model::{Bound, ReportData, Verdict};
use crate::render::overview::{COLUMNS, grouped, tally};

fn word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Skipped => "skipped",
    }
}

fn verdict_cell(verdict: Verdict) -> String {
    format!("<td class=\"v-{0}\">{0}</td>", word(verdict))
}

/// Every failure in one list, before everything else.
pub(super) fn failures(out: &mut String, report: &ReportData) {
    let mut items = Vec::new();
    for case in report.cases.iter().filter(|c| c.verdict == Verdict::Failed) {
        items.push(format!(
            "case <code>{}</code>: {}",
            escape(&case.name()),
            escape(case.message.as_deref().unwrap_or("failed"))
        ));
    }
    for phase in report.phases.iter().filter(|p| p.verdict == Verdict::Failed) {
        items.push(format!(
            "phase <code>{}</code>: {}",
            escape(&phase.name),
            escape(phase.message.as_deref().unwrap_or("failed"))
        ));
    }
    items.extend(super::cohorts::failures(report));
    for gate in report.gates.iter().filter(|g| g.verdict == Verdict::Failed) {
        items.push(format!(
            "gate <code>{}</code>: {}",
            escape(&gate.gate.metric),
            escape(&gate.message)
        ));
    }
    if let Some(baseline) = &report.baseline {
        for c in baseline
            .comparisons
            .iter()
            .filter(|c| c.verdict == Verdict::Failed)
        {
            let observed = c
                .observed
                .map_or_else(|| "not measured".to_owned(), |v| value(v, c.unit));
            items.push(format!(
                "baseline <code>{}</code>: {}, baseline {}",
                escape(&c.metric),
                escape(&observed),
                escape(&value(c.baseline, c.unit))
            ));
        }
        for c in baseline.cases.iter().filter(|c| c.verdict == Verdict::Failed) {
            items.push(format!(
                "baseline: case <code>{}</code> passed in the baseline and fails now",
                escape(&c.case)
            ));
        }
    }
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "<section id=\"failures\">\n<h2>Failures</h2>\n<ul>");
    for item in items {
        let _ = writeln!(out, "<li>{item}</li>");
    }
    out.push_str("</ul>\n</section>\n");
}

/// The cases, failures first, with their evidence; filtered by text and verdict in the page.
pub(super) fn cases(out: &mut String, report: &ReportData) {
    let _ = writeln!(
        out,
        "<section id=\"cases\">\n<h2>Cases: {}</h2>",
        tally(report.cases.iter().map(|c| c.verdict))
    );
    if report.cases.is_empty() {
        out.push_str("<p>No conformance case was selected.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"filters\"><input id=\"case-filter\" type=\"search\" placeholder=\"filter: id, rule, message, evidence\" size=\"40\">\
         <select id=\"verdict-filter\"><option value=\"\">every verdict</option><option value=\"failed\">failed</option>\
         <option value=\"passed\">passed</option><option value=\"skipped\">skipped</option></select>\
         <span id=\"cases-shown\"></span></div>\n",
    );
    out.push_str("<table>\n<thead><tr><th>case</th><th>verdict</th><th>time</th><th>rule</th><th>message</th><th>evidence</th></tr></thead>\n<tbody>\n");
    let rank = |v: Verdict| match v {
        Verdict::Failed => 0,
        Verdict::Passed => 1,
        Verdict::Skipped => 2,
    };
    let mut ordered: Vec<_> = report.cases.iter().collect();
    ordered.sort_by_key(|c| rank(c.verdict));
    for case in ordered {
        let message = case.message.as_deref().unwrap_or("");
        let evidence: Vec<String> = case
            .evidence
            .iter()
            .map(|(k, v)| format!("<li><code>{}</code>: {}</li>", escape(k), escape(v)))
            .collect();
        let searchable = format!(
            "{} {} {} {}",
            case.name(),
            case.rule,
            message,
            case.evidence
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .to_lowercase();
        let evidence_cell = if evidence.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary>{} item(s)</summary><ul>{}</ul></details>",
                evidence.len(),
                evidence.join("")
            )
        };
        let _ = writeln!(
            out,
            "<tr data-verdict=\"{}\" data-text=\"{}\"><td><code>{}</code></td>{}<td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{evidence_cell}</td></tr>",
            word(case.verdict),
            escape(&searchable),
            escape(&case.name()),
            verdict_cell(case.verdict),
            seconds(case.duration_secs),
            escape(&case.rule),
            escape(message)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The load phases.
pub(super) fn phases(out: &mut String, report: &ReportData) {
    if report.phases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section id=\"phases\">\n<h2>Phases: {}</h2>\n<table>\n<thead><tr><th>phase</th><th>verdict</th><th>time</th><th>message</th></tr></thead>\n<tbody>",
        tally(report.phases.iter().map(|p| p.verdict))
    );
    for phase in &report.phases {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td>{}<td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&phase.name),
            verdict_cell(phase.verdict),
            seconds(phase.duration_secs),
            escape(phase.message.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The gates with threshold and observed value.
pub(super) fn gates(out: &mut String, report: &ReportData) {
    let _ = writeln!(
        out,
        "<section id=\"gates\">\n<h2>Gates: {}</h2>",
        tally(report.gates.iter().map(|g| g.verdict))
    );
    if report.gates.is_empty() {
        out.push_str("<p>The scenario declares no gate.</p>\n</section>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr><th>metric</th><th>bound</th><th>threshold</th><th>observed</th><th>verdict</th></tr></thead>\n<tbody>\n");
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
            "<tr><td><code>{}</code></td><td>{bound}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
            escape(&gate.gate.metric),
            escape(&value(gate.gate.threshold, gate.gate.unit)),
            escape(&observed),
            verdict_cell(gate.verdict)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The baseline comparison: measurements, then cases whose verdict changed.
pub(super) fn baseline(out: &mut String, report: &ReportData) {
    let _ = writeln!(out, "<section id=\"baseline\">\n<h2>Baseline</h2>");
    let Some(baseline) = &report.baseline else {
        out.push_str("<p>This run was not compared with a baseline.</p>\n</section>\n");
        return;
    };
    let _ = writeln!(
        out,
        "<p>Compared with <code>{}</code> (scenario <code>{}</code>): tolerance {}% for latencies and rates unless a row says otherwise, noise floor {}; {}.</p>",
        escape(&baseline.file),
        escape(&baseline.scenario),
        baseline.tolerance_pct,
        escape(&value(baseline.noise_floor_us, fleetgate_metrics::Unit::Micros)),
        tally(
            baseline
                .comparisons
                .iter()
                .map(|c| c.verdict)
                .chain(baseline.cases.iter().map(|c| c.verdict))
        )
    );
    out.push_str("<table>\n<thead><tr><th>metric</th><th>baseline</th><th>observed</th><th>change</th><th>tolerance</th><th>verdict</th></tr></thead>\n<tbody>\n");
    for c in &baseline.comparisons {
        let observed = c
            .observed
            .map_or_else(|| "not measured".to_owned(), |v| value(v, c.unit));
        let change = c
            .change_pct
            .map_or_else(|| "—".to_owned(), |p| format!("{p:+.1}%"));
        let tolerance = c.tolerance_pct.map_or_else(String::new, |t| format!("{t}%"));
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{change}</td><td class=\"num\">{tolerance}</td>{}</tr>",
            escape(&c.metric),
            escape(&value(c.baseline, c.unit)),
            escape(&observed),
            verdict_cell(c.verdict)
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if !baseline.cases.is_empty() {
        out.push_str("<table>\n<thead><tr><th>case</th><th>baseline</th><th>now</th><th>verdict</th></tr></thead>\n<tbody>\n");
        for c in &baseline.cases {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td>{}</tr>",
                escape(&c.case),
                word(c.baseline),
                word(c.observed),
                verdict_cell(c.verdict)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    for note in &baseline.notes {
        let _ = writeln!(out, "<p>{}</p>", escape(note));
    }
    out.push_str("</section>\n");
}

/// Latencies as one row per metric and a column per statistic, then every other value.
pub(super) fn measurements(out: &mut String, report: &ReportData) {
    let _ = writeln!(out, "<section id=\"measurements\">\n<h2>Measurements</h2>");
    if report.measurements.is_empty() {
        out.push_str("<p>Nothing was measured.</p>\n</section>\n");
        return;
    }
    let grouped = grouped(&report.measurements);
    if !grouped.latencies.is_empty() {
        out.push_str("<table>\n<thead><tr><th>latency</th>");
        for column in COLUMNS {
            let _ = write!(out, "<th>{column}</th>");
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (metric, cells) in &grouped.latencies {
            let _ = write!(out, "<tr><td><code>{}</code></td>", escape(metric));
            for cell in cells {
                let _ = write!(out, "<td class=\"num\">{}</td>", escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if !grouped.singles.is_empty() {
        out.push_str("<table>\n<thead><tr><th>metric</th><th>value</th></tr></thead>\n<tbody>\n");
        for (key, m) in &grouped.singles {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                escape(key),
                escape(&value(m.value, m.unit))
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

/// What each real device did, briefly (the Markdown summary has every column).
pub(super) fn devices(out: &mut String, report: &ReportData) {
    if report.devices.is_empty() {
        return;
    }
    out.push_str("<section id=\"devices\">\n<h2>Devices</h2>\n<table>\n<thead><tr><th>device</th><th>from</th><th>connects</th><th>tokens</th><th>telemetry sent / acked / in Pub/Sub</th></tr></thead>\n<tbody>\n");
    for d in &report.devices {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} / {} / {}</td></tr>",
            escape(&d.id),
            escape(&d.peers.join(", ")),
            d.connects_accepted,
            d.tokens,
            d.telemetry_published,
            d.telemetry_acknowledged,
            d.delivered_to_pubsub
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The notes.
pub(super) fn notes(out: &mut String, report: &ReportData) {
    let _ = writeln!(out, "<section id=\"notes\">\n<h2>Notes</h2>");
    if report.notes.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for note in &report.notes {
            let _ = writeln!(out, "<li>{}</li>", escape(note));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}
