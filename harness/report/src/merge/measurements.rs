//! The merged measurements: every histogram statistic and counter from the merged metrics,
//! downstream counts summed (each shard counted only its own devices), ratios recomputed from
//! the merged counts, throughputs added (the shards ran at once).

use std::collections::BTreeMap;

use fleetgate_metrics::{Better, Recorder, Unit, flatten};

use super::{MergeError, ShardReport};
use crate::model::{Measurement, ReportData};

/// Every shard's metrics merged, histogram by histogram; `None` when no shard measured any.
pub(super) fn metrics(inputs: &[ShardReport]) -> Result<Option<Recorder>, MergeError> {
    let mut merged: Option<Recorder> = None;
    for input in inputs {
        let Some(set) = &input.report.metrics else {
            continue;
        };
        let recorder = set.to_recorder().map_err(|source| MergeError::Metrics {
            file: input.file.clone(),
            source,
        })?;
        merged.get_or_insert_with(Recorder::new).merge(&recorder);
    }
    Ok(merged)
}

/// The merged value of every measurement any shard has; a value that cannot be merged exactly
/// (a latency no histogram holds) is the worst shard's, with a note.
pub(super) fn measurements(
    reports: &[&ReportData],
    metrics: Option<&Recorder>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, Measurement> {
    let flat = metrics.map(flatten).unwrap_or_default();
    let mut described: BTreeMap<&str, Measurement> = BTreeMap::new();
    for report in reports {
        for (key, m) in &report.measurements {
            described.entry(key).or_insert(*m);
        }
    }
    let sum = |key: &str| -> f64 {
        reports
            .iter()
            .filter_map(|r| r.measurements.get(key))
            .map(|m| m.value)
            .sum()
    };
    let mut merged = BTreeMap::new();
    let mut approximate = Vec::new();
    for (key, m) in &described {
        let value = if let Some(v) = flat.get(*key) {
            *v
        } else if let Some(v) = ratio(key, &flat, &sum) {
            v
        } else if m.unit == Unit::PerSecond || (m.unit == Unit::Count && !key.ends_with(".peak")) {
            sum(key)
        } else if let Some(v) = single_cohort(key, &flat) {
            v
        } else if key.ends_with(".peak") {
            worst(reports, key, m.better)
        } else {
            approximate.push((*key).to_owned());
            worst(reports, key, m.better)
        };
        merged.insert((*key).to_owned(), Measurement { value, ..*m });
    }
    if !approximate.is_empty() {
        notes.push(format!(
            "merged as the worst shard's value, as no histogram holds their samples: {}",
            approximate.join(", ")
        ));
    }
    merged
}

/// A ratio recomputed from the merged counts.
fn ratio(key: &str, flat: &BTreeMap<String, f64>, sum: &dyn Fn(&str) -> f64) -> Option<f64> {
    let counter = |name: &str| flat.get(name).copied().unwrap_or(0.0);
    let (good, bad) = match key {
        "pipeline.delivered_ratio" => (sum("messages.delivered"), sum("messages.lost")),
        "connect.success_ratio" => (counter("connects.accepted"), counter("connects.refused")),
        _ => return None,
    };
    (good + bad > 0.0).then(|| good / (good + bad))
}

/// `cohort.<name>.<metric>` of a fleet with one cohort, which the run reports as the fleet's.
fn single_cohort(key: &str, flat: &BTreeMap<String, f64>) -> Option<f64> {
    let rest = key.strip_prefix("cohort.")?;
    let (_, metric) = rest.split_once('.')?;
    flat.get(metric).copied()
}

/// The worst value any shard reported (for a peak: the highest).
fn worst(reports: &[&ReportData], key: &str, better: Better) -> f64 {
    let values = reports
        .iter()
        .filter_map(|r| r.measurements.get(key))
        .map(|m| m.value);
    match better {
        Better::Lower => values.fold(f64::NEG_INFINITY, f64::max),
        Better::Higher => values.fold(f64::INFINITY, f64::min),
    }
}
