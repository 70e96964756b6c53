//! The HTML report: one self-contained page (styles, script and SVG plots inline, nothing
//! fetched), from the same [`ReportData`] as the other renderers, so a merged report renders
//! the same way. Plots are drawn by `plotters` ([`charts`]); the tables are in [`tables`].

mod charts;
mod cohorts;
mod plots;
mod tables;

use std::fmt::Write as _;

use crate::format::seconds;
use crate::model::{Outcome, ReportData};
use crate::render::overview::headline;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Renders the report as one HTML page that works offline.
pub fn html(report: &ReportData) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let outcome = outcome_word(report.outcome);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\" data-outcome=\"{outcome}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>fleetgate {name}: {outcome}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        name = escape(&report.scenario.name),
    );
    header(&mut out, report);
    let _ = writeln!(
        out,
        "<nav><a href=\"#plots\">plots</a><a href=\"#cases\">cases</a><a href=\"#gates\">gates</a>\
         <a href=\"#baseline\">baseline</a><a href=\"#measurements\">measurements</a><a href=\"#notes\">notes</a></nav>"
    );
    tables::failures(&mut out, report);
    plots::section(&mut out, report);
    tables::cases(&mut out, report);
    tables::phases(&mut out, report);
    cohorts::section(&mut out, report);
    tables::gates(&mut out, report);
    tables::baseline(&mut out, report);
    tables::measurements(&mut out, report);
    tables::devices(&mut out, report);
    tables::notes(&mut out, report);
    let _ = write!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, report: &ReportData) {
    let outcome = outcome_word(report.outcome);
    let _ = writeln!(
        out,
        "<header>\n<h1>fleetgate <code>{}</code> <span class=\"outcome outcome-{outcome}\">{}</span></h1>",
        escape(&report.scenario.name),
        outcome.to_uppercase()
    );
    if let Some(description) = &report.scenario.description {
        let _ = writeln!(out, "<p>{}</p>", escape(description));
    }
    let _ = writeln!(
        out,
        "<p>Scenario <code>{}</code> (seed {}), started {}, took {}; fleetgate {}.</p>",
        escape(&report.scenario.file),
        report.scenario.seed,
        escape(&report.run.started_at),
        seconds(report.run.duration_secs),
        escape(&report.tool.version)
    );
    if let Some(error) = &report.error {
        let _ = writeln!(
            out,
            "<p class=\"error-box\"><strong>error:</strong> {}</p>",
            escape(error)
        );
    }
    let items = headline(report);
    if !items.is_empty() {
        out.push_str("<dl class=\"headline\">");
        for (label, value) in items {
            let _ = write!(out, "<div><dt>{label}</dt><dd>{}</dd></div>", escape(&value));
        }
        out.push_str("</dl>\n");
    }
    out.push_str("</header>\n");
}

/// `passed`, `failed`, `aborted`, `error`.
pub(crate) fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Aborted => "aborted",
        Outcome::Error => "error",
    }
}

/// Text made safe for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
