//! A cohort's behaviour beyond keys and clocks: state updates, backoff, subfolders.

use std::time::Duration;

use crate::model::{Backoff, StateUpdates};
use crate::read::Fields;

use super::Cx;

/// `state = { every, bytes }`.
pub(super) fn state(fields: &Fields, cx: &mut Cx) -> Option<StateUpdates> {
    let every = fields.duration("every")?;
    let item = fields.get("every")?;
    if every.is_zero() {
        cx.error(
            item,
            "state updates every 0s would send without pause",
            "a positive duration such as \"30s\"",
        );
        return None;
    }
    if every < Duration::from_secs(1) {
        cx.warn(
            item,
            "more than 1 state update per second: a conforming bridge drops the excess or disconnects the device",
        );
    }
    Some(StateUpdates {
        every,
        bytes: fields.size("bytes").unwrap_or(64),
    })
}

/// `backoff = { min, max, multiplier }`.
pub(super) fn backoff(fields: &Fields, cx: &mut Cx) -> Option<Backoff> {
    let min = fields.duration("min").unwrap_or(Duration::from_secs(1));
    let max = fields.duration("max").unwrap_or(Duration::from_secs(32));
    if min > max {
        if let Some(item) = fields.get("max").or_else(|| fields.get("min")) {
            cx.error(
                item,
                format!(
                    "backoff max ({}) is shorter than min ({})",
                    humantime::format_duration(max),
                    humantime::format_duration(min)
                ),
                "a max at least as long as min",
            );
        }
        return None;
    }
    Some(Backoff {
        min,
        max,
        multiplier: fields.float("multiplier").unwrap_or(2.0),
    })
}

/// `telemetry.subfolder`: `Ok(None)` when absent, `None` when invalid (reported).
pub(super) fn subfolder(fields: &Fields, cx: &mut Cx) -> Option<Option<String>> {
    let Some(text) = fields.str("subfolder") else {
        return Some(None);
    };
    let valid = !text.is_empty() && !text.starts_with('/') && !text.contains(['+', '#']);
    if !valid {
        cx.error(
            fields.get("subfolder")?,
            format!("\"{text}\" is not a subfolder a device can publish to"),
            "a non-empty name without a leading /, + or #, such as \"alerts\"",
        );
        return None;
    }
    Some(Some(text.to_owned()))
}
