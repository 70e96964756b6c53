//! What the Markdown and HTML renderers show alike: the run's headline and the measurements
//! grouped as one row per metric with a column per statistic.

use std::collections::BTreeMap;

use crate::format::value;
use crate::model::{Measurement, ReportData, Verdict};

/// The headline of a run: what a person wants to know first, label and value.
pub(crate) fn headline(report: &ReportData) -> Vec<(&'static str, String)> {
    let m = &report.measurements;
    let count = |key: &str| m.get(key).map(|v| value(v.value, v.unit));
    let mut items = Vec::new();
    if let Some(devices) = report.timeline.last().map(|s| s.devices) {
        let peak = report.timeline.iter().map(|s| s.connected).max().unwrap_or(0);
        items.push(("devices", format!("{devices} ({peak} connected at peak)")));
    }
    if let (Some(sent), Some(acked)) = (count("messages.sent"), count("messages.acked")) {
        items.push(("messages", format!("{sent} sent, {acked} acknowledged")));
    }
    if let Some(delivered) = count("messages.delivered") {
        items.push(("delivered", delivered));
    }
    if let Some(lost) = count("messages.lost") {
        items.push(("lost", lost));
    }
    if let Some(throughput) = count("publish.throughput") {
        items.push(("throughput", throughput));
    }
    if let Some(p99) = count("publish.puback.p99") {
        items.push(("PUBACK p99", p99));
    }
    if let Some(rate) = count("push.rate") {
        items.push(("push rate", rate));
    }
    if !report.cases.is_empty() {
        items.push(("cases", tally(report.cases.iter().map(|c| c.verdict))));
    }
    if !report.gates.is_empty() {
        items.push(("gates", tally(report.gates.iter().map(|g| g.verdict))));
    }
    items
}

/// `3 passed, 1 failed, 2 skipped`.
pub(crate) fn tally(verdicts: impl Iterator<Item = Verdict>) -> String {
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for verdict in verdicts {
        match verdict {
            Verdict::Passed => passed += 1,
            Verdict::Failed => failed += 1,
            Verdict::Skipped => skipped += 1,
        }
    }
    format!("{passed} passed, {failed} failed, {skipped} skipped")
}

/// The statistics of a latency row, in column order (`count` first).
pub(crate) const COLUMNS: [&str; 9] = ["count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max"];

/// Measurements split into latency rows (metric → value per column of [`COLUMNS`]) and single
/// values (counters, ratios, rates), each in key order.
pub(crate) struct Grouped<'a> {
    /// Latency metrics: one formatted cell per column.
    pub latencies: Vec<(String, Vec<String>)>,
    /// Every other measurement.
    pub singles: Vec<(&'a str, &'a Measurement)>,
}

/// Groups `measurements` as one row per latency metric.
pub(crate) fn grouped(measurements: &BTreeMap<String, Measurement>) -> Grouped<'_> {
    let stems: Vec<&str> = measurements
        .keys()
        .filter_map(|k| k.strip_suffix(".p50"))
        .filter(|stem| measurements.contains_key(&format!("{stem}.max")))
        .collect();
    let in_row = |key: &str| {
        stems.iter().any(|stem| {
            key.strip_prefix(stem)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|suffix| COLUMNS.contains(&suffix))
        })
    };
    let latencies = stems
        .iter()
        .map(|stem| {
            let cells = COLUMNS
                .iter()
                .map(|column| {
                    measurements
                        .get(&format!("{stem}.{column}"))
                        .map_or_else(|| "-".to_owned(), |m| value(m.value, m.unit))
                })
                .collect();
            ((*stem).to_owned(), cells)
        })
        .collect();
    let singles = measurements
        .iter()
        .filter(|(k, _)| !in_row(k))
        .map(|(k, m)| (k.as_str(), m))
        .collect();
    Grouped { latencies, singles }
}

#[cfg(test)]
mod tests {
    use fleetgate_metrics::{Better, Statistic, Unit};

    use super::*;
    use crate::testing::{measurement, report};

    #[test]
    fn every_statistic_has_a_column() {
        for suffix in Statistic::ALL.iter().map(|s| s.suffix()) {
            assert!(COLUMNS.contains(&suffix), "{suffix}");
        }
    }

    #[test]
    fn latencies_become_one_row_each_and_the_rest_stay_single() {
        let mut measurements = BTreeMap::new();
        for column in COLUMNS {
            measurements.insert(
                format!("connect.{column}"),
                measurement(2_000.0, Unit::Micros, Better::Lower),
            );
        }
        measurements.insert(
            "connect.count".into(),
            measurement(10.0, Unit::Count, Better::Higher),
        );
        measurements.insert(
            "messages.lost".into(),
            measurement(0.0, Unit::Count, Better::Lower),
        );
        let grouped = grouped(&measurements);
        assert_eq!(grouped.latencies.len(), 1);
        assert_eq!(grouped.latencies[0].0, "connect");
        assert_eq!(grouped.latencies[0].1[0], "10");
        assert_eq!(grouped.latencies[0].1[3], "2.0 ms");
        let singles: Vec<&str> = grouped.singles.iter().map(|(k, _)| *k).collect();
        assert_eq!(singles, ["messages.lost"]);
    }

    #[test]
    fn the_headline_counts_cases_and_gates() {
        let items = headline(&report());
        assert!(
            items.contains(&("cases", "1 passed, 1 failed, 1 skipped".to_owned())),
            "{items:?}"
        );
        assert!(
            items.contains(&("gates", "0 passed, 1 failed, 0 skipped".to_owned())),
            "{items:?}"
        );
    }
}
