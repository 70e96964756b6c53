//! `[[fault]]`: which keys each kind needs.

use crate::model::{Fault, FaultAction};
use crate::read::{Fields, Item, Val};

use super::Cx;

/// Every `[[fault]]`, sorted by time; faults with errors are left out (the errors are reported).
pub(super) fn faults(items: &[Item], cx: &mut Cx) -> Vec<Fault> {
    let mut out: Vec<Fault> = items
        .iter()
        .filter_map(|item| match &item.val {
            Val::Table(fields) => fault(item, fields, cx),
            _ => None,
        })
        .collect();
    out.sort_by_key(|f| f.at);
    out
}

fn fault(item: &Item, fields: &Fields, cx: &mut Cx) -> Option<Fault> {
    let at = fields.duration("at")?;
    let kind = fields.str("kind")?;
    let mut need = |key: &str, accepted: &str| {
        if fields.get(key).is_none() {
            cx.error(item, format!("a {kind} fault needs `{key}`"), accepted.to_owned());
        }
    };
    let action = match kind {
        "drop-connection" | "refuse-connects" => {
            need("device", "device = \"<device id>\"");
            let device = fields.str("device")?.to_owned();
            if kind == "drop-connection" {
                FaultAction::DropConnection { device }
            } else {
                let count = u32::try_from(fields.int("count").unwrap_or(1)).ok()?;
                FaultAction::RefuseConnects { device, count }
            }
        }
        "delay-pubacks" => {
            need("delay", "delay = \"<duration>\", such as \"500ms\"");
            FaultAction::DelayPubacks {
                delay: fields.duration("delay")?,
                lasting: fields.duration("for"),
            }
        }
        "stall-forwarding" => FaultAction::StallForwarding {
            lasting: fields.duration("for"),
        },
        _ => {
            need("for", "for = \"<duration>\": how long the listener stays down");
            FaultAction::RestartListener {
                down: fields.duration("for")?,
            }
        }
    };
    Some(Fault { at, action })
}
