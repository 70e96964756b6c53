//! `[cases.expect]` values written as a table: the exact answer a case expects, a CONNACK code
//! for bridge cases or an HTTP status for push cases. The family of every case the key selects
//! must suit the answer.

use crate::model::{CaseExpectation, HttpStatus};
use crate::read::{Fields, Item, Val};

use super::Cx;

const CONNACK_HELP: &str = "{ connack = N } with N a refusing CONNACK return code, 1 to 5";
const STATUS_HELP: &str = "{ status = N } with N an HTTP status, 100 to 599, or { status = \"4xx\" } for any status of a class (1xx to 5xx)";

/// The family a case id belongs to, for messages: `push`, `device` or `bridge`.
fn family(id: &str) -> &'static str {
    match id.split('.').next() {
        Some("push") => "push",
        Some("device") => "device",
        _ => "bridge",
    }
}

/// Compiles `{ connack = N }` or `{ status = … }` for the cases `pattern` selects.
pub(super) fn answer(
    pattern: &str,
    item: &Item,
    answer: &Fields,
    catalogue: &[&str],
    cx: &mut Cx,
) -> Option<CaseExpectation> {
    let (expectation, wants) = match (answer.get("connack"), answer.get("status")) {
        // A value the reader refused is gone from the table, and already reported.
        (None, None)
            if cx
                .out
                .iter()
                .any(|d| d.path.starts_with(&format!("{}.", item.path))) =>
        {
            return None;
        }
        (Some(_), Some(_)) | (None, None) => {
            cx.error(
                item,
                "the expected answer names a CONNACK code or an HTTP status: one of the two",
                format!("{CONNACK_HELP} (bridge cases), or {STATUS_HELP} (push cases)"),
            );
            return None;
        }
        (Some(connack), None) => {
            let Val::Int(code) = connack.val else { return None };
            (CaseExpectation::Connack(u8::try_from(code).ok()?), "bridge")
        }
        (None, Some(status)) => (CaseExpectation::Status(http_status(status, cx)?), "push"),
    };
    let selected = catalogue.iter().filter(|id| crate::glob::matches(pattern, id));
    if let Some(other) = selected.into_iter().find(|id| family(id) != wants) {
        let (what, help) = match expectation {
            CaseExpectation::Connack(_) => ("a CONNACK code", STATUS_HELP),
            _ => ("an HTTP status", CONNACK_HELP),
        };
        let message = format!(
            "{what} is what {wants} cases answer with, but \"{pattern}\" selects `{other}`, a {} case",
            family(other)
        );
        cx.error(item, message, help);
        return None;
    }
    Some(expectation)
}

/// `403`, or `"4xx"`.
fn http_status(status: &Item, cx: &mut Cx) -> Option<HttpStatus> {
    match &status.val {
        Val::Int(code) => u16::try_from(*code).ok().map(HttpStatus::Exact),
        Val::Str(text) => {
            let class = match text.as_bytes() {
                [digit @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Some(digit - b'0'),
                _ => None,
            };
            if class.is_none() {
                cx.error(
                    status,
                    format!("status \"{text}\" is neither an HTTP status nor a class such as \"4xx\""),
                    STATUS_HELP,
                );
            }
            class.map(HttpStatus::Class)
        }
        _ => None,
    }
}
