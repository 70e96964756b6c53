//! Summaries of histograms and the flat measurement keys reports carry.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::{Recorder, Statistic};

/// Count, min, mean, p50, p90, p95, p99, p999 and max of one histogram, in µs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Smallest sample (0 when empty).
    pub min: u64,
    /// Arithmetic mean (0 when empty).
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample (0 when empty).
    pub max: u64,
}

impl Summary {
    /// Summarises `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// The value of one statistic.
    pub fn get(&self, s: Statistic) -> f64 {
        let value = match s {
            Statistic::Mean => return self.mean,
            Statistic::Min => self.min,
            Statistic::P50 => self.p50,
            Statistic::P90 => self.p90,
            Statistic::P95 => self.p95,
            Statistic::P99 => self.p99,
            Statistic::P999 => self.p999,
            Statistic::Max => self.max,
        };
        value as f64
    }
}

/// Flattens a recorder into report measurement keys: for every histogram
/// `<metric>.<suffix>` for each of [`Statistic::ALL`] (values in µs) plus `<metric>.count`;
/// every counter under its own name.
pub fn flatten(recorder: &Recorder) -> BTreeMap<String, f64> {
    let mut keys = BTreeMap::new();
    for (metric, h) in recorder.histograms() {
        let summary = Summary::of(h);
        for statistic in Statistic::ALL {
            keys.insert(format!("{metric}.{}", statistic.suffix()), summary.get(statistic));
        }
        keys.insert(format!("{metric}.count"), summary.count as f64);
    }
    for (counter, n) in recorder.counters() {
        keys.insert(counter.to_owned(), n as f64);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_the_histogram() {
        let mut r = Recorder::new();
        for v in 1..=1_000_u64 {
            r.record("connect", v);
        }
        let s = Summary::of(r.histogram("connect").unwrap());
        assert_eq!((s.count, s.min, s.max), (1_000, 1, 1_000));
        assert_eq!((s.p50, s.p90, s.p95, s.p99, s.p999), (500, 900, 950, 990, 999));
        assert!((s.mean - 500.5).abs() < 0.5, "{}", s.mean);
        assert_eq!(s.get(Statistic::P99), 990.0);
        assert_eq!(s.get(Statistic::Mean), s.mean);
    }

    #[test]
    fn flatten_names_every_statistic_and_counter() {
        let mut r = Recorder::new();
        r.record("publish.puback", 1_500);
        r.record("publish.puback", 2_000);
        r.record("publish.puback.actual", 700);
        r.count("messages.lost", 2);
        r.count("refusals.bad-signature", 1);
        let keys = flatten(&r);
        assert_eq!(keys["publish.puback.p99"], 2_000.0);
        assert_eq!(keys["publish.puback.min"], 1_500.0);
        assert_eq!(keys["publish.puback.count"], 2.0);
        assert_eq!(keys["publish.puback.actual.max"], 700.0);
        assert_eq!(keys["messages.lost"], 2.0);
        assert_eq!(keys["refusals.bad-signature"], 1.0);
        assert_eq!(keys.len(), 2 * (Statistic::ALL.len() + 1) + 2);
    }
}
