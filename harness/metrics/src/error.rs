//! The error type of this crate: decoding, encoding and writing histograms.

use hdrhistogram::serialization::{DeserializeError, V2DeflateSerializeError};

/// What went wrong while decoding, encoding or logging histograms.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A serialised histogram is not base64.
    #[error(
        "histogram `{metric}`: not base64 ({cause}); expected the base64 of a HdrHistogram V2 deflate encoding"
    )]
    Base64 {
        /// The metric whose histogram failed.
        metric: String,
        /// What the base64 decoder found.
        cause: base64::DecodeError,
    },
    /// A serialised histogram is base64 but not a HdrHistogram encoding.
    #[error(
        "histogram `{metric}`: not a HdrHistogram V2 (deflate) encoding ({cause}); expected the base64 of a HdrHistogram V2 deflate encoding"
    )]
    Decode {
        /// The metric whose histogram failed.
        metric: String,
        /// What the HdrHistogram deserialiser found.
        cause: DeserializeError,
    },
    /// A histogram could not be encoded (a count above 2^63 - 1, which the V2 format cannot hold).
    #[error("histogram `{metric}`: cannot be encoded in the HdrHistogram V2 format ({cause})")]
    Encode {
        /// The metric whose histogram failed.
        metric: String,
        /// What the HdrHistogram serialiser reported.
        cause: V2DeflateSerializeError,
    },
    /// A metric name the interval log cannot carry as a tag.
    #[error("metric `{metric}` cannot be an interval-log tag: tags may not contain ',', ' ', '\\r' or '\\n'")]
    InvalidTag {
        /// The offending metric name.
        metric: String,
    },
    /// An interval log start time before 1970, which the log format cannot express.
    #[error("interval log start time lies before the Unix epoch; the log format needs seconds since 1970")]
    StartBeforeEpoch,
    /// Writing the interval log failed.
    #[error("writing the interval log failed: {0}")]
    Io(std::io::Error),
}
