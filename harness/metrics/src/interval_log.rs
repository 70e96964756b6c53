//! The per-second interval log in HdrHistogram's log format, one tagged line per metric.
//!
//! The lines are those of HdrHistogram's `HistogramLogWriter` (format 1.3): the hdrhistogram
//! crate's `IntervalLogWriter` writes the same interval lines, but it borrows its writer for its
//! whole life, cannot add the human-readable date to `StartTime`, and announces a max-value
//! divisor in a comment on every construction; so lines are written here with the crate's
//! serialiser and tag rules, and read back by its `IntervalLogIterator` in the tests.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::serialization::interval_log::Tag;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use crate::{MetricsError, Recorder};

/// The max column is in milliseconds, as in HdrHistogram's own logs; histograms are in µs.
const MAX_VALUE_DIVISOR: f64 = 1_000.0;

/// Writes HdrHistogram interval logs: a header, then per interval one
/// `Tag=<metric>,<start offset s>,<length s>,<max ms>,<base64 V2 deflate histogram>` line per
/// non-empty histogram.
pub struct IntervalLog<W: Write> {
    writer: W,
    serializer: V2DeflateSerializer,
    bytes: Vec<u8>,
}

impl<W: Write> IntervalLog<W> {
    /// Writes the header: format version, `StartTime` and `BaseTime` (both `start`; interval
    /// offsets count from it) and the column legend.
    pub fn new(mut writer: W, start: SystemTime) -> Result<Self, MetricsError> {
        let since_epoch = start
            .duration_since(UNIX_EPOCH)
            .map_err(|_| MetricsError::StartBeforeEpoch)?;
        let secs = since_epoch.as_secs_f64();
        let header = format!(
            "#[Histogram log format version 1.3]\n\
             #[StartTime: {secs:.3} (seconds since epoch), {date}]\n\
             #[BaseTime: {secs:.3} (seconds since epoch)]\n\
             #[MaxValueDivisor: {MAX_VALUE_DIVISOR:.3}]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
            date = humantime::format_rfc3339_millis(start),
        );
        writer.write_all(header.as_bytes()).map_err(MetricsError::Io)?;
        Ok(Self {
            writer,
            serializer: V2DeflateSerializer::new(),
            bytes: Vec::new(),
        })
    }

    /// Writes one line per non-empty histogram of `interval`, which started `since_start` after
    /// the log's start and lasted `length`. Nothing is written if a metric name cannot be a tag.
    pub fn write(
        &mut self,
        since_start: Duration,
        length: Duration,
        interval: &Recorder,
    ) -> Result<(), MetricsError> {
        let mut text = String::new();
        for (metric, histogram) in interval.histograms() {
            let tag = Tag::new(metric).ok_or_else(|| MetricsError::InvalidTag {
                metric: metric.to_owned(),
            })?;
            if histogram.is_empty() {
                continue;
            }
            self.bytes.clear();
            self.serializer
                .serialize(histogram, &mut self.bytes)
                .map_err(|cause| MetricsError::Encode {
                    metric: metric.to_owned(),
                    cause,
                })?;
            let max = histogram.max() as f64 / MAX_VALUE_DIVISOR;
            text.push_str(&format!(
                "Tag={},{:.3},{:.3},{max:.3},",
                tag.as_str(),
                since_start.as_secs_f64(),
                length.as_secs_f64(),
            ));
            STANDARD.encode_string(&self.bytes, &mut text);
            text.push('\n');
        }
        self.writer.write_all(text.as_bytes()).map_err(MetricsError::Io)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

#[cfg(test)]
mod tests {
    use hdrhistogram::Histogram;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;

    fn interval(samples: &[(&str, u64)]) -> Recorder {
        let mut r = Recorder::new();
        for (metric, micros) in samples {
            r.record(metric, *micros);
        }
        r.count("messages.sent", 9);
        r
    }

    #[test]
    fn the_crates_reader_reads_tags_times_and_counts_back() {
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let mut log = IntervalLog::new(Vec::new(), start).unwrap();
        let first = interval(&[
            ("publish.puback", 1_500),
            ("publish.puback", 2_000),
            ("connect", 80),
        ]);
        log.write(Duration::ZERO, Duration::from_secs(1), &first).unwrap();
        let second = interval(&[("publish.puback", 30_000)]);
        log.write(Duration::from_secs(1), Duration::from_secs(1), &second)
            .unwrap();
        log.write(Duration::from_secs(2), Duration::from_secs(1), &Recorder::new())
            .unwrap();
        let text = log.into_inner();
        let header = String::from_utf8_lossy(&text);
        assert!(
            header.contains("#[StartTime: 1700000000.250 (seconds since epoch), 2023-11-14T22:13:20.250Z]"),
            "{header}"
        );

        let mut deserializer = Deserializer::new();
        let mut lines = Vec::new();
        for entry in IntervalLogIterator::new(&text) {
            match entry.unwrap() {
                LogEntry::StartTime(t) | LogEntry::BaseTime(t) => {
                    assert_eq!(t, Duration::from_millis(1_700_000_000_250));
                }
                LogEntry::Interval(line) => {
                    let bytes = STANDARD.decode(line.encoded_histogram()).unwrap();
                    let h: Histogram<u64> = deserializer.deserialize(&mut bytes.as_slice()).unwrap();
                    lines.push((
                        line.tag().unwrap().as_str().to_owned(),
                        line.start_timestamp().as_secs(),
                        line.duration(),
                        line.max(),
                        h.len(),
                    ));
                }
            }
        }
        assert_eq!(
            lines,
            [
                ("connect".to_owned(), 0, Duration::from_secs(1), 0.08, 1),
                ("publish.puback".to_owned(), 0, Duration::from_secs(1), 2.0, 2),
                ("publish.puback".to_owned(), 1, Duration::from_secs(1), 30.015, 1),
            ]
        );
    }

    #[test]
    fn a_metric_name_that_cannot_be_a_tag_is_refused_before_writing() {
        let mut log = IntervalLog::new(Vec::new(), UNIX_EPOCH).unwrap();
        let header_len = log.writer.len();
        let bad = interval(&[("connect", 1), ("bad,name", 1)]);
        let error = log
            .write(Duration::ZERO, Duration::from_secs(1), &bad)
            .unwrap_err();
        assert!(error.to_string().contains("`bad,name`"), "{error}");
        assert_eq!(log.into_inner().len(), header_len);
    }

    #[test]
    fn a_start_before_the_epoch_is_an_error() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            IntervalLog::new(Vec::new(), before),
            Err(MetricsError::StartBeforeEpoch)
        ));
    }
}
