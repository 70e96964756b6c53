//! The shards' timelines as one, and the merged run's ending.

use crate::model::{Outcome, ReportData, TimelineSample};

/// The fleet over time, second by second from the common start: each shard's latest sample at
/// or before each second, summed (counts so far, devices connected, rates). Latency per
/// interval is left out: percentiles of intervals cannot be joined exactly, and the merged
/// measurements hold the exact ones.
pub(super) fn timeline(reports: &[&ReportData]) -> Vec<TimelineSample> {
    let last = reports
        .iter()
        .filter_map(|r| r.timeline.last())
        .map(|s| s.at_secs.round() as u64)
        .max();
    let Some(last) = last else {
        return Vec::new();
    };
    let mut merged = Vec::new();
    for second in 1..=last {
        let at = second as f64;
        let mut sample = TimelineSample {
            at_secs: at,
            length_secs: 1.0,
            ..TimelineSample::default()
        };
        for report in reports {
            let Some(latest) = report
                .timeline
                .iter()
                .take_while(|s| s.at_secs.round() <= at)
                .last()
            else {
                continue;
            };
            if sample.phase.is_none() {
                sample.phase.clone_from(&latest.phase);
            }
            sample.devices += latest.devices;
            sample.connected += latest.connected;
            sample.sent += latest.sent;
            sample.acked += latest.acked;
            sample.acked_per_sec += latest.acked_per_sec;
            sample.errors += latest.errors;
        }
        merged.push(sample);
    }
    merged
}

/// The merged run's ending: `error` when a shard could not run (with each such shard's cause),
/// else `aborted` when a shard was interrupted; `None` when every shard ran to its end.
pub(super) fn ending(reports: &[&ReportData]) -> Option<(Outcome, Option<String>)> {
    let errors: Vec<String> = reports
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .map(|r| {
            format!(
                "{}: {}",
                super::parts::shard(r),
                r.error.as_deref().unwrap_or("the run could not start")
            )
        })
        .collect();
    if !errors.is_empty() {
        return Some((Outcome::Error, Some(errors.join("; "))));
    }
    reports
        .iter()
        .any(|r| r.outcome == Outcome::Aborted)
        .then_some((Outcome::Aborted, None))
}
