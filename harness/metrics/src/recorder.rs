//! One worker's measurements: HDR latency histograms in microseconds and event counters, by name.
//!
//! A worker records into its own [`Recorder`] with no locking; recorders are merged losslessly at
//! the end (or per interval, after [`Recorder::take`]).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::MetricsError;
use crate::set::{MetricSet, encode_clamped, encode_histogram};

/// Significant decimal digits every recorder histogram keeps (values within 0.1 %).
pub const SIGNIFICANT_FIGURES: u8 = 3;

/// A new auto-resizing histogram: lowest discernible value 1 µs, 3 significant figures.
#[allow(
    clippy::expect_used,
    reason = "a constant 3 significant figures, which `Histogram::new` accepts (it refuses only > 5)"
)]
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGNIFICANT_FIGURES).expect("3 significant figures is valid")
}

/// Adds `src` into `dst` without losing a count.
///
/// Every recorder histogram auto-resizes, so `add` fails only where the grown counts array would
/// not fit in `usize`; should it fail, the values are clamped into `dst`'s range instead.
pub(crate) fn add_histogram(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    if dst.add(src).is_err() {
        for value in src.iter_recorded() {
            dst.saturating_record_n(value.value_iterated_to(), value.count_at_value());
        }
    }
}

/// One worker's measurements: HDR histograms (µs, 3 significant digits, auto-resizing) by metric
/// name, counters by name.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    histograms: BTreeMap<String, Histogram<u64>>,
    counters: BTreeMap<String, u64>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency sample of `metric` in microseconds; 0 is recorded as 0.
    pub fn record(&mut self, metric: &str, micros: u64) {
        let histogram = match self.histograms.get_mut(metric) {
            Some(histogram) => histogram,
            None => self
                .histograms
                .entry(metric.to_owned())
                .or_insert_with(new_histogram),
        };
        if histogram.record(micros).is_err() {
            histogram.saturating_record(micros);
        }
    }

    /// Records one latency sample of `metric`, rounded down to whole microseconds.
    pub fn record_duration(&mut self, metric: &str, d: Duration) {
        self.record(metric, u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds `n` to `counter` (e.g. `messages.sent`, `refusals.bad-signature`), saturating.
    pub fn count(&mut self, counter: &str, n: u64) {
        match self.counters.get_mut(counter) {
            Some(value) => *value = value.saturating_add(n),
            None => {
                self.counters.insert(counter.to_owned(), n);
            }
        }
    }

    /// Adds every histogram and counter of `other` into this one, losing nothing.
    pub fn merge(&mut self, other: &Recorder) {
        for (metric, histogram) in &other.histograms {
            match self.histograms.get_mut(metric) {
                Some(mine) => add_histogram(mine, histogram),
                None => {
                    let mut copy = histogram.clone();
                    copy.auto(true);
                    self.histograms.insert(metric.clone(), copy);
                }
            }
        }
        for (counter, n) in &other.counters {
            self.count(counter, *n);
        }
    }

    /// Moves the contents out and leaves this recorder empty (interval rotation).
    pub fn take(&mut self) -> Recorder {
        std::mem::take(self)
    }

    /// The histogram of `metric`, if anything was recorded under it.
    pub fn histogram(&self, metric: &str) -> Option<&Histogram<u64>> {
        self.histograms.get(metric)
    }

    /// The value of `name`; 0 if never counted.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Every counter, by name in ascending order.
    pub fn counters(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counters.iter().map(|(name, n)| (name.as_str(), *n))
    }

    /// Every histogram, by metric name in ascending order.
    pub fn histograms(&self) -> impl Iterator<Item = (&str, &Histogram<u64>)> {
        self.histograms.iter().map(|(name, h)| (name.as_str(), h))
    }

    /// Whether nothing was recorded or counted.
    pub fn is_empty(&self) -> bool {
        self.histograms.is_empty() && self.counters.is_empty()
    }

    /// The serialisable form.
    ///
    /// The V2 format cannot hold a single bucket count above 2^63 - 1 (reachable only by merging
    /// decoded histograms whose counts sum past it); such counts are clamped to 2^63 - 1. Use
    /// [`Recorder::try_to_set`] to get an error instead.
    pub fn to_set(&self) -> MetricSet {
        MetricSet {
            histograms: self
                .histograms
                .iter()
                .map(|(metric, h)| (metric.clone(), encode_clamped(h)))
                .collect(),
            counters: self.counters.clone(),
        }
    }

    /// The serialisable form, or an error naming the histogram that cannot be encoded.
    pub fn try_to_set(&self) -> Result<MetricSet, MetricsError> {
        let mut histograms = BTreeMap::new();
        for (metric, h) in &self.histograms {
            let encoded = encode_histogram(h).map_err(|cause| MetricsError::Encode {
                metric: metric.clone(),
                cause,
            })?;
            histograms.insert(metric.clone(), encoded);
        }
        Ok(MetricSet {
            histograms,
            counters: self.counters.clone(),
        })
    }

    /// Inserts a decoded histogram, merging it with one already held under `metric`.
    pub(crate) fn add_histogram(&mut self, metric: &str, mut histogram: Histogram<u64>) {
        match self.histograms.get_mut(metric) {
            Some(mine) => add_histogram(mine, &histogram),
            None => {
                histogram.auto(true);
                self.histograms.insert(metric.to_owned(), histogram);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantiles(h: &Histogram<u64>) -> Vec<u64> {
        [0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0]
            .iter()
            .map(|q| h.value_at_quantile(*q))
            .collect()
    }

    #[test]
    fn records_zero_and_large_values_and_durations() {
        let mut r = Recorder::new();
        r.record("connect", 0);
        r.record("connect", 3_600_000_000);
        r.record_duration("connect", Duration::from_nanos(1_999));
        let h = r.histogram("connect").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.min(), 0);
        assert_eq!(h.count_at(1), 1, "1.999 µs rounds down to 1 µs");
        assert!(h.equivalent(h.max(), 3_600_000_000));
        assert!(r.histogram("publish.puback").is_none());
    }

    #[test]
    fn counters_default_to_zero_add_up_and_saturate() {
        let mut r = Recorder::new();
        assert_eq!(r.counter("messages.sent"), 0);
        r.count("messages.sent", 2);
        r.count("messages.sent", 3);
        r.count("refusals.bad-signature", u64::MAX);
        r.count("refusals.bad-signature", 1);
        assert_eq!(r.counter("messages.sent"), 5);
        assert_eq!(r.counter("refusals.bad-signature"), u64::MAX);
        let names: Vec<_> = r.counters().map(|(name, _)| name).collect();
        assert_eq!(names, ["messages.sent", "refusals.bad-signature"]);
    }

    #[test]
    fn merging_two_recorders_equals_recording_everything_into_one() {
        let (mut a, mut b, mut all) = (Recorder::new(), Recorder::new(), Recorder::new());
        for i in 0..5_000_u64 {
            let value = i * i % 900_001;
            let target = if i % 3 == 0 { &mut a } else { &mut b };
            target.record("publish.puback", value);
            target.count("messages.sent", 1);
            all.record("publish.puback", value);
            all.count("messages.sent", 1);
        }
        b.record("sign.es256", 42);
        all.record("sign.es256", 42);
        a.merge(&b);
        for (metric, h) in all.histograms() {
            let merged = a.histogram(metric).unwrap();
            assert_eq!(merged.len(), h.len(), "{metric}");
            assert_eq!(quantiles(merged), quantiles(h), "{metric}");
            assert_eq!(merged.max(), h.max());
        }
        assert_eq!(a.histograms().count(), 2);
        assert_eq!(a.counter("messages.sent"), 5_000);
    }

    #[test]
    fn extreme_values_merge_without_losing_a_count() {
        let mut huge = Histogram::<u64>::new_with_bounds(1, u64::MAX / 2, 3).unwrap();
        huge.record(u64::MAX / 3).unwrap();
        huge.record(5).unwrap();
        let mut r = Recorder::new();
        r.record("connect", 7);
        r.record("connect", u64::MAX);
        r.add_histogram("connect", huge);
        let h = r.histogram("connect").unwrap();
        assert_eq!(h.len(), 4);
        assert!(h.max() >= u64::MAX / 3);
    }

    #[test]
    fn adding_into_a_histogram_that_cannot_grow_clamps_instead_of_dropping() {
        let mut fixed = Histogram::<u64>::new_with_max(1_000, 3).unwrap();
        fixed.record(10).unwrap();
        let mut src = new_histogram();
        src.record_n(1_000_000, 4).unwrap();
        add_histogram(&mut fixed, &src);
        assert_eq!(fixed.len(), 5);
        assert_eq!(fixed.count_at(1_000), 4);
    }

    #[test]
    fn take_leaves_an_empty_recorder() {
        let mut r = Recorder::new();
        assert!(r.is_empty());
        r.record("connect", 10);
        r.count("reconnects", 1);
        let taken = r.take();
        assert!(r.is_empty());
        assert!(!taken.is_empty());
        assert_eq!(taken.counter("reconnects"), 1);
        assert_eq!(taken.histogram("connect").unwrap().len(), 1);
    }
}
