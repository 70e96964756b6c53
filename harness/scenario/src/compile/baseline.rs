//! `[baseline]`: which measurements a baseline comparison compares, with what tolerances, and
//! whether case verdicts count.

use fleetgate_metrics::{GateKey, MetricKind, names::METRICS};

use super::Cx;
use crate::glob;
use crate::model::BaselineSettings;
use crate::read::{Fields, Item, Threshold, Val};

/// Reads `[baseline]`; what it leaves out stays `None` (the comparison's defaults).
pub(super) fn baseline(fields: &Fields, cx: &mut Cx) -> BaselineSettings {
    let compare = fields.get("compare").map(|_| {
        fields
            .array("compare")
            .iter()
            .filter_map(|item| match &item.val {
                Val::Str(pattern) => {
                    check_pattern(pattern, item, cx);
                    Some(pattern.clone())
                }
                _ => None,
            })
            .collect()
    });
    let tolerance_pct = fields.get("tolerance").and_then(|item| percent(item, cx));
    let tolerances = match fields.get("tolerances").map(|i| &i.val) {
        Some(Val::Map(entries)) => entries
            .iter()
            .filter_map(|(key, _, item)| {
                check_pattern(key, item, cx);
                percent(item, cx).map(|pct| (key.clone(), pct))
            })
            .collect(),
        _ => Vec::new(),
    };
    BaselineSettings {
        compare,
        tolerance_pct,
        noise_floor: fields.duration("noise_floor"),
        cases: fields.bool("cases"),
        tolerances,
    }
}

/// A tolerance: a percentage of 0 or more, such as "25%".
fn percent(item: &Item, cx: &mut Cx) -> Option<f64> {
    match item.val {
        Val::Threshold(Threshold::Percent(p)) if p >= 0.0 => Some(p),
        _ => {
            cx.error(
                item,
                "a tolerance is a percentage",
                "a percentage of 0 or more, such as \"25%\" (\"0%\": no change allowed)",
            );
            None
        }
    }
}

/// Warns about a key or glob that matches nothing fleetgate measures.
fn check_pattern(pattern: &str, item: &Item, cx: &mut Cx) {
    let counts = METRICS
        .iter()
        .filter(|m| m.kind == MetricKind::Histogram)
        .map(|m| format!("{}.count", m.name));
    let known = GateKey::all().map(|k| k.to_string()).chain(counts);
    let prefixes = ["refusals.", "connect_errors.", "connack."];
    let matched = known.into_iter().any(|key| glob::matches(pattern, &key))
        || prefixes.iter().any(|p| pattern.starts_with(p));
    if !matched {
        cx.warn(
            item,
            format!("`{pattern}` matches no measurement fleetgate reports, so it compares nothing"),
        );
    }
}
