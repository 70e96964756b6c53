//! Renderers: the same [`ReportData`](crate::ReportData) as JSON, JUnit XML, Markdown and a
//! self-contained HTML page.

mod cohorts;
mod html;
mod junit;
mod markdown;
mod overview;

pub use html::html;
pub use junit::junit;
pub use markdown::markdown;

use crate::ReportData;

/// The stable JSON form: pretty-printed, fields in declaration order, ending with a newline.
pub fn json(report: &ReportData) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}
