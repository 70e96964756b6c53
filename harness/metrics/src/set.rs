//! The serialisable form of a recorder, as stored in shard reports and merged losslessly.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializeError, V2DeflateSerializer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{MetricsError, Recorder};

/// The serialisable form of a [`Recorder`]: histograms as base64 of the HdrHistogram V2
/// *deflate* encoding (the form HdrHistogram's own interval logs carry), counters as `u64`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSet {
    /// Latency histograms in microseconds by metric name: base64 of the HdrHistogram V2 deflate
    /// encoding.
    pub histograms: BTreeMap<String, String>,
    /// Counters by name.
    pub counters: BTreeMap<String, u64>,
}

impl MetricSet {
    /// Decodes every histogram; the error names the histogram that failed to decode.
    pub fn to_recorder(&self) -> Result<Recorder, MetricsError> {
        let mut recorder = Recorder::new();
        let mut deserializer = Deserializer::new();
        for (metric, encoded) in &self.histograms {
            let histogram = decode_histogram(&mut deserializer, metric, encoded)?;
            recorder.add_histogram(metric, histogram);
        }
        for (counter, n) in &self.counters {
            recorder.count(counter, *n);
        }
        Ok(recorder)
    }

    /// Adds `other` into this set losslessly (decode both, add, re-encode). On error this set is
    /// left unchanged.
    pub fn merge(&mut self, other: &MetricSet) -> Result<(), MetricsError> {
        let mut merged = self.to_recorder()?;
        merged.merge(&other.to_recorder()?);
        *self = merged.try_to_set()?;
        Ok(())
    }
}

/// Decodes one base64 V2 (deflate or plain) histogram of `metric`.
fn decode_histogram(
    deserializer: &mut Deserializer,
    metric: &str,
    encoded: &str,
) -> Result<Histogram<u64>, MetricsError> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|cause| MetricsError::Base64 {
            metric: metric.to_owned(),
            cause,
        })?;
    deserializer
        .deserialize(&mut bytes.as_slice())
        .map_err(|cause| MetricsError::Decode {
            metric: metric.to_owned(),
            cause,
        })
}

/// Base64 of the V2 deflate encoding of `histogram`.
pub(crate) fn encode_histogram(histogram: &Histogram<u64>) -> Result<String, V2DeflateSerializeError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new().serialize(histogram, &mut bytes)?;
    Ok(STANDARD.encode(bytes))
}

/// Like [`encode_histogram`], with bucket counts above 2^63 - 1 (which V2 cannot hold) clamped.
///
/// Writing to memory cannot fail otherwise; should it, the result is empty, which decodes to an
/// error naming the metric rather than to a silently wrong histogram.
pub(crate) fn encode_clamped(histogram: &Histogram<u64>) -> String {
    encode_histogram(histogram)
        .or_else(|_| {
            let mut clamped = Histogram::new_from(histogram);
            for value in histogram.iter_recorded() {
                let count = value.count_at_value().min(i64::MAX.unsigned_abs());
                clamped.saturating_record_n(value.value_iterated_to(), count);
            }
            encode_histogram(&clamped)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Recorder {
        let mut r = Recorder::new();
        for i in 0..10_000_u64 {
            r.record("publish.puback", (i * 7_919) % 250_000);
            r.record("publish.puback.actual", (i * 104_729) % 90_000);
        }
        r.record("connect", 0);
        r.count("messages.sent", 10_000);
        r.count("refusals.expired-token", 3);
        r
    }

    fn assert_same(a: &Histogram<u64>, b: &Histogram<u64>) {
        assert_eq!(a.len(), b.len());
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(a.value_at_quantile(q), b.value_at_quantile(q), "quantile {q}");
        }
        assert_eq!(a.min(), b.min());
        assert_eq!(a.max(), b.max());
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let original = sample();
        let json = serde_json::to_string(&original.to_set()).unwrap();
        let back: MetricSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, original.to_set());
        let decoded = back.to_recorder().unwrap();
        for (metric, h) in original.histograms() {
            assert_same(h, decoded.histogram(metric).unwrap());
        }
        assert_eq!(decoded.histograms().count(), 3);
        assert!(decoded.counters().eq(original.counters()));
    }

    #[test]
    fn merging_sets_equals_merging_recorders() {
        let a = sample();
        let mut b = Recorder::new();
        b.record("publish.puback", 1_000_000);
        b.record("pipeline.push", 12_345);
        b.count("messages.sent", 1);
        let mut set = a.to_set();
        set.merge(&b.to_set()).unwrap();
        let mut recorders = a.clone();
        recorders.merge(&b);
        let merged = set.to_recorder().unwrap();
        for (metric, h) in recorders.histograms() {
            assert_same(h, merged.histogram(metric).unwrap());
        }
        assert_eq!(merged.histograms().count(), 4);
        assert_eq!(merged.counter("messages.sent"), 10_001);
        assert_eq!(set, recorders.to_set());
    }

    #[test]
    fn a_corrupt_histogram_names_its_metric_and_leaves_the_set_unchanged() {
        let mut bad = MetricSet::default();
        bad.histograms
            .insert("pipeline.pubsub".into(), "not base64!".into());
        let error = bad.to_recorder().unwrap_err().to_string();
        assert!(error.contains("`pipeline.pubsub`"), "{error}");
        assert!(error.contains("not base64"), "{error}");

        bad.histograms
            .insert("pipeline.pubsub".into(), STANDARD.encode(b"HISTOGRAM?"));
        let error = bad.to_recorder().unwrap_err().to_string();
        assert!(error.contains("`pipeline.pubsub`"), "{error}");
        assert!(error.contains("not a HdrHistogram"), "{error}");

        let mut good = sample().to_set();
        let before = good.clone();
        assert!(good.merge(&bad).is_err());
        assert_eq!(good, before);
    }

    #[test]
    fn counts_beyond_the_v2_range_are_clamped_by_to_set_and_refused_by_try_to_set() {
        let mut big = Histogram::<u64>::new(3).unwrap();
        big.record_n(10, u64::MAX - 1).unwrap();
        let mut r = Recorder::new();
        r.add_histogram("connect", big);
        let error = r.try_to_set().unwrap_err().to_string();
        assert!(error.contains("`connect`"), "{error}");
        let back = r.to_set().to_recorder().unwrap();
        assert_eq!(
            back.histogram("connect").unwrap().count_at(10),
            i64::MAX.unsigned_abs()
        );
    }
}
