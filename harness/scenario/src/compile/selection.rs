//! `[cases]` selection and `[gates]`.

use fleetgate_metrics::GateKey;
use fleetgate_metrics::names::gate_key_help;

use crate::glob;
use crate::model::{Bound, CaseExpectation, CaseParams, CaseSettings, Gate};
use crate::read::{Fields, Item, Threshold, Val, edit_distance};

use super::Cx;

const CASE_HELP: &str = "a case id listed by `fleetgate cases`, or a glob such as \"auth.*\"";

/// The selected case ids, in catalogue order.
pub(super) fn cases(fields: Option<&Fields>, catalogue: &[&str], cx: &mut Cx) -> Vec<String> {
    let Some(fields) = fields else { return Vec::new() };
    let include = fields.array("include");
    let exclude = fields.array("exclude");
    for item in include.iter().chain(exclude) {
        if let Val::Str(pattern) = &item.val {
            check_pattern(item, pattern, catalogue, cx);
        }
    }
    let patterns = |items: &[Item]| -> Vec<String> {
        items
            .iter()
            .filter_map(|i| match &i.val {
                Val::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    };
    let (include, exclude) = (patterns(include), patterns(exclude));
    catalogue
        .iter()
        .filter(|id| include.iter().any(|p| glob::matches(p, id)))
        .filter(|id| !exclude.iter().any(|p| glob::matches(p, id)))
        .map(|id| (*id).to_owned())
        .collect()
}

fn check_pattern(item: &Item, pattern: &str, catalogue: &[&str], cx: &mut Cx) {
    if catalogue.iter().any(|id| glob::matches(pattern, id)) {
        return;
    }
    if glob::is_glob(pattern) {
        let message = if catalogue.is_empty() {
            format!("\"{pattern}\" matches no case: this build of fleetgate has no conformance cases yet")
        } else {
            format!("\"{pattern}\" matches no case")
        };
        cx.error(item, message, CASE_HELP);
        return;
    }
    let hint = closest(pattern, catalogue.iter().copied())
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default();
    cx.error(item, format!("unknown case `{pattern}`{hint}"), CASE_HELP);
}

fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len() / 4).max(2))
        .min()
        .map(|(_, c)| c)
}

/// Compiles `[gates]`.
pub(super) fn gates(map: Option<&Item>, cohorts: &[&str], cx: &mut Cx) -> Vec<Gate> {
    let Some(Item {
        val: Val::Map(entries),
        ..
    }) = map
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, key_span, item) in entries {
        let Some(key) = GateKey::parse_for(name, cohorts) else {
            if let Some(scoped) = GateKey::parse(name).and_then(|k| k.cohort) {
                cx.error_at(
                    &item.path,
                    key_span.clone(),
                    format!("gate `{name}` names no cohort of this scenario (`{scoped}` or a longer name)"),
                    format!("cohort.<name>.<metric> with one of: {}", cohorts.join(", ")),
                );
                continue;
            }
            if let Some(metric) = fleetgate_metrics::names::METRICS
                .iter()
                .find(|m| m.name == name.as_str())
            {
                cx.error_at(
                    &item.path,
                    key_span.clone(),
                    format!("`{name}` is a latency histogram: a gate names one of its statistics"),
                    format!(
                        "a statistic of it, such as \"{}.p99\" or \"{}.max\"",
                        metric.name, metric.name
                    ),
                );
                continue;
            }
            let keys: Vec<String> = GateKey::all().map(|k| k.to_string()).collect();
            let hint = closest(name, keys.iter().map(String::as_str))
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            cx.error_at(
                &item.path,
                key_span.clone(),
                format!("unknown gate metric `{name}`{hint}"),
                gate_key_help(),
            );
            continue;
        };
        let Val::Table(bounds) = &item.val else { continue };
        if bounds.get("max").is_none() && bounds.get("min").is_none() {
            cx.error(
                item,
                format!("gate `{name}` sets neither max nor min"),
                "max = … and/or min = …",
            );
            continue;
        }
        let mut pair = [None, None];
        for (slot, (bound, word)) in [(Bound::Max, "max"), (Bound::Min, "min")].into_iter().enumerate() {
            let Some(at) = bounds.get(word) else { continue };
            let Val::Threshold(threshold) = at.val else {
                continue;
            };
            if let Some(value) = convert(&key, threshold, at, cx) {
                pair[slot] = Some(value);
                out.push(Gate {
                    key: key.clone(),
                    bound,
                    threshold: value,
                    written: written(threshold),
                });
            }
        }
        if let [Some(max), Some(min)] = pair
            && min > max
            && let Some(at) = bounds.get("min")
        {
            cx.error(
                at,
                format!("gate `{name}` has min above max, so nothing can pass"),
                "a min at or below the max",
            );
        }
    }
    out
}

/// The threshold in the metric's unit, or an error saying which form the metric takes.
fn convert(key: &GateKey, threshold: Threshold, at: &Item, cx: &mut Cx) -> Option<f64> {
    use fleetgate_metrics::Unit;
    let value = match (key.unit(), threshold) {
        (Unit::Micros, Threshold::Duration(d)) => Some(d.as_secs_f64() * 1e6),
        (Unit::Count, Threshold::Number(n)) if n >= 0.0 && n.fract() == 0.0 => Some(n),
        (Unit::Ratio, Threshold::Number(n)) if (0.0..=1.0).contains(&n) => Some(n),
        (Unit::Ratio, Threshold::Percent(p)) if (0.0..=100.0).contains(&p) => Some(p / 100.0),
        (Unit::PerSecond, Threshold::Number(n)) if n >= 0.0 => Some(n),
        (Unit::PerSecond, Threshold::Rate(r)) => Some(r.per_second()),
        _ => None,
    };
    if value.is_none() {
        let accepted = match key.unit() {
            Unit::Micros => "a duration such as \"50ms\" (latencies are durations)",
            Unit::Count => "a whole number of 0 or more (counts are whole numbers)",
            Unit::Ratio => "a ratio from 0 to 1 such as 0.999, or a percentage such as \"99.9%\"",
            Unit::PerSecond => "a number of events per second, or a rate such as \"500/s\"",
        };
        cx.error(
            at,
            format!("{} does not suit `{key}`", written(threshold)),
            accepted,
        );
    }
    value
}

fn written(threshold: Threshold) -> String {
    match threshold {
        Threshold::Number(n) => n.to_string(),
        Threshold::Duration(d) => format!("\"{}\"", crate::units::format_duration(d)),
        Threshold::Percent(p) => format!("\"{p}%\""),
        Threshold::Rate(r) => format!("\"{r}\""),
    }
}

/// Compiles `[cases.expect]` and `[cases.params]`: every key must select a case.
pub(super) fn case_settings(fields: Option<&Fields>, catalogue: &[&str], cx: &mut Cx) -> CaseSettings {
    let mut settings = CaseSettings::default();
    let Some(fields) = fields else { return settings };
    let entries = |key: &str| match fields.get(key) {
        Some(Item {
            val: Val::Map(entries),
            ..
        }) => entries.clone(),
        _ => Vec::new(),
    };
    for (pattern, span, item) in entries("expect") {
        check_key(&item, span, &pattern, catalogue, cx);
        if !device_case_skipped_only(&pattern, &item, catalogue, cx) {
            continue;
        }
        let expectation = match &item.val {
            Val::Str(s) if s == "accept" => CaseExpectation::Accept,
            Val::Str(s) if s == "refuse" => CaseExpectation::Refuse,
            Val::Str(s) if s == "skip" => CaseExpectation::Skip,
            Val::Table(answer) => match super::expect::answer(&pattern, &item, answer, catalogue, cx) {
                Some(expectation) => expectation,
                None => continue,
            },
            _ => continue,
        };
        settings.expect.push((pattern, expectation));
    }
    for (pattern, span, item) in entries("params") {
        check_key(&item, span, &pattern, catalogue, cx);
        if let Val::Table(t) = &item.val {
            let params = CaseParams {
                timeout: t.duration("timeout"),
                wait: t.duration("wait"),
                count: t.int("count").and_then(|c| u32::try_from(c).ok()),
                outage: t.duration("outage"),
                grace: t.duration("grace"),
            };
            settings.params.push((pattern, params));
        }
    }
    settings
}

/// Whether an expectation suits the cases `pattern` selects: a `device.*` case judges the device
/// under qualification, so it has no bridge or push outcome to replace and takes `"skip"` only.
/// Reports the mistake when it does not.
fn device_case_skipped_only(pattern: &str, item: &Item, catalogue: &[&str], cx: &mut Cx) -> bool {
    let stated = match &item.val {
        Val::Str(s) if s == "accept" || s == "refuse" => format!("\"{s}\""),
        Val::Table(_) => "an exact answer".to_owned(),
        _ => return true,
    };
    let Some(device) = catalogue
        .iter()
        .find(|id| id.starts_with("device.") && glob::matches(pattern, id))
    else {
        return true;
    };
    let case = match pattern == *device {
        true => format!("`{device}` is a device case"),
        false => format!("\"{pattern}\" selects `{device}`, a device case"),
    };
    cx.error(
        item,
        format!("{stated} cannot apply: {case}; device.* cases judge the device, not a bridge: only \"skip\" applies"),
        "\"skip\" (the case is not run for any device)",
    );
    false
}

fn check_key(item: &Item, span: std::ops::Range<usize>, pattern: &str, catalogue: &[&str], cx: &mut Cx) {
    let keyed = Item { span, ..item.clone() };
    check_pattern(&keyed, pattern, catalogue, cx);
}
