//! The plots section: which plots a report has data for, and their data.

use std::fmt::Write as _;

use fleetgate_metrics::Histogram;

use super::charts::{self, Axes, Line};
use super::escape;
use crate::model::ReportData;

/// Hops of the pipeline in order, with what each measures.
const HOPS: &[(&str, &str)] = &[
    ("sign.es256", "sign ES256"),
    ("sign.rs256", "sign RS256"),
    ("connect", "connect"),
    ("publish.puback", "PUBACK"),
    ("pipeline.pubsub", "to Pub/Sub"),
    ("pipeline.push", "to push"),
    ("push.request", "push load"),
];

/// Writes every plot the report has data for; says so when it has none.
pub(super) fn section(out: &mut String, report: &ReportData) {
    let mut figures = Vec::new();
    latency_over_time(report, &mut figures);
    load_over_time(report, &mut figures);
    distribution(report, &mut figures);
    hops(report, &mut figures);
    let _ = writeln!(out, "<section id=\"plots\">\n<h2>Plots</h2>");
    if figures.is_empty() {
        out.push_str("<p>This run measured no load, so there is nothing to plot.</p>\n");
    }
    for (id, svg, caption) in figures {
        let _ = writeln!(
            out,
            "<figure class=\"plot\" data-plot=\"{}\">\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
            escape(&id),
            escape(&caption)
        );
    }
    out.push_str("</section>\n");
}

type Figure = (String, String, String);

/// Intervals shorter than this (the last reading of a run) tell no rate worth plotting.
const MIN_RATE_INTERVAL: f64 = 0.5;

/// The end of the load, where every plot over time ends.
fn end(report: &ReportData) -> Option<f64> {
    report.timeline.last().map(|s| s.at_secs)
}

fn ms(micros: f64) -> f64 {
    micros / 1_000.0
}

/// One plot per latency metric: p50, p90, p99 and max of every interval.
fn latency_over_time(report: &ReportData, figures: &mut Vec<Figure>) {
    let mut metrics: Vec<&String> = report.timeline.iter().flat_map(|s| s.latency.keys()).collect();
    metrics.sort();
    metrics.dedup();
    for metric in metrics {
        let series = |name: &str, pick: fn(&crate::IntervalLatency) -> f64| Line {
            name: name.to_owned(),
            points: report
                .timeline
                .iter()
                .filter_map(|s| s.latency.get(metric).map(|l| (s.at_secs, ms(pick(l)))))
                .collect(),
        };
        let lines = [
            series("p50", |l| l.p50),
            series("p90", |l| l.p90),
            series("p99", |l| l.p99),
            series("max", |l| l.max),
        ];
        let caption = format!("{metric}: latency per interval");
        let svg = charts::lines(
            &Axes {
                caption: &caption,
                x: "seconds since the start of the load",
                y: "ms",
                x_end: end(report),
            },
            &lines,
        );
        figures.push((
            format!("latency-over-time:{metric}"),
            svg,
            format!("{metric}, per interval of about a second (from the interval log, metrics.hlog)"),
        ));
    }
}

/// Throughput and connected devices over time.
fn load_over_time(report: &ReportData, figures: &mut Vec<Figure>) {
    if report.timeline.is_empty() {
        return;
    }
    let throughput = Line {
        name: "acknowledged/s".into(),
        points: report
            .timeline
            .iter()
            .filter(|s| s.length_secs >= MIN_RATE_INTERVAL)
            .map(|s| (s.at_secs, s.acked_per_sec))
            .collect(),
    };
    let svg = charts::lines(
        &Axes {
            caption: "throughput",
            x: "seconds since the start of the load",
            y: "messages/s",
            x_end: end(report),
        },
        &[throughput],
    );
    figures.push((
        "throughput".into(),
        svg,
        "telemetry messages acknowledged by the bridge per second".into(),
    ));
    let connected = Line {
        name: "connected".into(),
        points: report
            .timeline
            .iter()
            .map(|s| (s.at_secs, s.connected as f64))
            .collect(),
    };
    let errors = Line {
        name: "errors so far".into(),
        points: report
            .timeline
            .iter()
            .map(|s| (s.at_secs, s.errors as f64))
            .collect(),
    };
    let svg = charts::lines(
        &Axes {
            caption: "connected devices",
            x: "seconds since the start of the load",
            y: "devices",
            x_end: end(report),
        },
        &[connected, errors],
    );
    figures.push((
        "connected".into(),
        svg,
        "devices connected at the end of each interval, and refusals, failed connection attempts, lost connections and client errors so far"
            .into(),
    ));
}

/// The whole run's percentile curve of every latency histogram.
fn distribution(report: &ReportData, figures: &mut Vec<Figure>) {
    let Some(recorder) = report.metrics.as_ref().and_then(|m| m.to_recorder().ok()) else {
        return;
    };
    let lines: Vec<Line> = recorder
        .histograms()
        .filter(|(_, h)| !h.is_empty())
        .map(|(metric, h)| Line {
            name: metric.to_owned(),
            points: percentile_curve(h),
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let svg = charts::percentiles(
        &Axes {
            caption: "latency distribution",
            x: "percentile",
            y: "ms",
            x_end: None,
        },
        &lines,
    );
    figures.push((
        "distribution".into(),
        svg,
        "the latency at each percentile over the whole run (log scale of the percentile, as HdrHistogram plots it)"
            .into(),
    ));
}

/// Points `(1 / (1 − q), latency at q in ms)` from the median of 0 up to what the sample
/// count can tell, ten per decade.
fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let limit = (h.len() as f64).max(2.0);
    (0..=60)
        .map(|step| 10f64.powf(f64::from(step) / 10.0))
        .take_while(|x| *x <= limit)
        .map(|x| {
            let q = 1.0 - 1.0 / x;
            (x, ms(h.value_at_quantile(q) as f64))
        })
        .collect()
}

/// p50, p90 and p99 of each hop of the pipeline that was measured.
fn hops(report: &ReportData, figures: &mut Vec<Figure>) {
    let m = &report.measurements;
    let present: Vec<(&str, &str)> = HOPS
        .iter()
        .copied()
        .filter(|(metric, _)| m.contains_key(&format!("{metric}.p50")))
        .collect();
    if present.is_empty() {
        return;
    }
    let line = |statistic: &str| Line {
        name: statistic.to_owned(),
        points: present
            .iter()
            .enumerate()
            .filter_map(|(i, (metric, _))| {
                m.get(&format!("{metric}.{statistic}"))
                    .map(|v| (i as f64, ms(v.value)))
            })
            .collect(),
    };
    let names: Vec<String> = present.iter().map(|(_, name)| (*name).to_owned()).collect();
    let svg = charts::categories(
        &Axes {
            caption: "latency per hop",
            x: "hop",
            y: "ms",
            x_end: None,
        },
        &names,
        &[line("p50"), line("p90"), line("p99")],
    );
    let described: Vec<String> = present
        .iter()
        .map(|(metric, name)| format!("{name}: {metric}"))
        .collect();
    figures.push((
        "hops".into(),
        svg,
        format!("latency per hop of the pipeline ({})", described.join(", ")),
    ));
}
