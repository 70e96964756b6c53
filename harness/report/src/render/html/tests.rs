//! The HTML page: self-contained, every plot with data, failures first.

use std::collections::BTreeMap;

use fleetgate_metrics::{Better, Recorder, Unit};

use super::*;
use crate::model::{IntervalLatency, TimelineSample};
use crate::testing::{measurement, report};

/// The demo report with a load: a timeline, histograms and latency statistics.
fn loaded() -> ReportData {
    let mut report = report();
    let mut recorder = Recorder::new();
    for i in 1..=2_000_u64 {
        recorder.record("publish.puback", 1_000 + i * 7 % 5_000);
        recorder.record("connect", 2_000 + i % 700);
    }
    report.metrics = Some(recorder.to_set());
    for (metric, p50) in [
        ("connect", 2_300.0),
        ("publish.puback", 3_000.0),
        ("pipeline.pubsub", 5_000.0),
    ] {
        for (statistic, factor) in [("p50", 1.0), ("p90", 1.5), ("p99", 2.0), ("max", 3.0)] {
            report.measurements.insert(
                format!("{metric}.{statistic}"),
                measurement(p50 * factor, Unit::Micros, Better::Lower),
            );
        }
    }
    report.timeline = (1..=12_u32)
        .map(|s| TimelineSample {
            at_secs: f64::from(s),
            length_secs: 1.0,
            phase: Some("steady".into()),
            devices: 10,
            connected: 10.min(u64::from(s) * 5),
            sent: u64::from(s) * 10,
            acked: u64::from(s) * 10,
            acked_per_sec: 10.0,
            errors: 0,
            latency: BTreeMap::from([(
                "publish.puback".to_owned(),
                IntervalLatency {
                    count: 10,
                    p50: 2_000.0 + f64::from(s) * 10.0,
                    p90: 3_000.0,
                    p99: 4_000.0,
                    max: 4_500.0,
                },
            )]),
        })
        .collect();
    report
}

/// Whether `figure` shows data: a line of 3 points or more (a legend's has 2), or markers.
fn has_data(figure: &str) -> bool {
    longest_line(figure) >= 3 || figure.contains("<circle")
}

/// The number of points of the longest polyline in `figure`.
fn longest_line(figure: &str) -> usize {
    figure
        .split("<polyline")
        .skip(1)
        .filter_map(|line| line.split("points=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(|points| points.split_whitespace().count())
        .max()
        .unwrap_or(0)
}

#[test]
fn every_plot_has_data() {
    let page = html(&loaded());
    let figures: Vec<&str> = page.split("<figure class=\"plot\"").skip(1).collect();
    let ids: Vec<&str> = figures.iter().filter_map(|f| f.split('"').nth(1)).collect();
    assert_eq!(
        ids,
        [
            "latency-over-time:publish.puback",
            "throughput",
            "connected",
            "distribution",
            "hops"
        ]
    );
    for (id, figure) in ids.iter().zip(&figures) {
        assert!(has_data(figure), "{id} has no data: {figure}");
    }
}

#[test]
fn the_page_fetches_nothing() {
    let page = html(&loaded());
    for forbidden in ["<link", " src=", "@import", "url(", "https://", "fetch("] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
    assert!(page.contains("<script>") && page.contains("<style>"));
}

#[test]
fn failures_come_first_and_text_is_escaped() {
    let page = html(&loaded());
    let failures = page.find("<section id=\"failures\">").unwrap();
    assert!(failures < page.find("<section id=\"plots\">").unwrap());
    assert!(
        page.contains("A demo &lt;run&gt; &amp; friends"),
        "description escaped"
    );
    let rows: Vec<&str> = page
        .split("<tr data-verdict=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .collect();
    assert_eq!(rows, ["failed", "passed", "skipped"]);
    assert!(page.contains("data-outcome=\"failed\""));
}

#[test]
fn a_report_without_load_says_there_is_nothing_to_plot() {
    let page = html(&report());
    assert!(!page.contains("<figure"));
    assert!(page.contains("nothing to plot"));
}
