//! Checking and completing topic and subscription settings the way Google does: defaults for
//! missing values, `INVALID_ARGUMENT` for values out of range.

use std::time::Duration;

use gcloud_googleapis::pubsub::v1::{DeadLetterPolicy, PushConfig, RetryPolicy, Subscription, Topic};
use prost_types::Duration as ProtoDuration;

use super::filter::Filter;
use super::queue::Rules;
use crate::error::Error;
use crate::names::{self, Kind};

/// Default and bounds of a subscription's ack deadline, in seconds.
pub const ACK_DEADLINE_SECONDS: (i32, i32, i32) = (10, 10, 600);
const RETENTION_DEFAULT: Duration = Duration::from_secs(7 * 24 * 3600);
const RETENTION_MIN: Duration = Duration::from_secs(600);
/// The longest topic retention Google allows: 31 days.
pub const TOPIC_RETENTION_MAX: Duration = Duration::from_secs(31 * 24 * 3600);
const RETRY_MIN_DEFAULT: Duration = Duration::from_secs(10);
const RETRY_MAX_DEFAULT: Duration = Duration::from_secs(600);
const DEAD_LETTER_ATTEMPTS: (i32, i32, i32) = (5, 5, 100);

/// Checks a topic to be created and fills in defaults.
pub fn topic(mut topic: Topic) -> Result<Topic, Error> {
    names::check(Kind::Topic, &topic.name)?;
    left_out(&[
        (topic.schema_settings.is_some(), "Topic schema_settings (schemas)"),
        (
            topic.ingestion_data_source_settings.is_some(),
            "Topic ingestion_data_source_settings (import topics)",
        ),
        (!topic.message_transforms.is_empty(), "Topic message_transforms"),
    ])?;
    if let Some(retention) = topic.message_retention_duration {
        retention_in_range(retention, "message_retention_duration", TOPIC_RETENTION_MAX)?;
    }
    topic.state = gcloud_googleapis::pubsub::v1::topic::State::Active as i32;
    Ok(topic)
}

/// Checks a subscription to be created and fills in Google's defaults.
pub fn subscription(mut sub: Subscription) -> Result<Subscription, Error> {
    names::check(Kind::Subscription, &sub.name)?;
    names::check(Kind::Topic, &sub.topic)?;
    left_out(&[
        (
            sub.bigquery_config.is_some(),
            "BigQuery subscriptions (bigquery_config)",
        ),
        (
            sub.cloud_storage_config.is_some(),
            "Cloud Storage subscriptions (cloud_storage_config)",
        ),
        (
            !sub.message_transforms.is_empty(),
            "Subscription message_transforms",
        ),
    ])?;
    let (default, min, max) = ACK_DEADLINE_SECONDS;
    if sub.ack_deadline_seconds == 0 {
        sub.ack_deadline_seconds = default;
    } else if !(min..=max).contains(&sub.ack_deadline_seconds) {
        return Err(Error::invalid(format!(
            "Invalid ack_deadline_seconds: {} (must be between {min} and {max} seconds)",
            sub.ack_deadline_seconds
        )));
    }
    match sub.message_retention_duration {
        Some(retention) => {
            retention_in_range(retention, "message_retention_duration", RETENTION_DEFAULT)?;
        }
        None => sub.message_retention_duration = Some(proto_duration(RETENTION_DEFAULT)),
    }
    if let Some(policy) = &mut sub.dead_letter_policy {
        dead_letter(policy)?;
    }
    if let Some(policy) = &mut sub.retry_policy {
        retry(policy)?;
    }
    if let Some(push) = &sub.push_config {
        push_config(push)?;
        if sub.enable_exactly_once_delivery && !push.push_endpoint.is_empty() {
            return Err(Error::invalid(
                "Exactly-once delivery is supported for pull subscriptions only, and this subscription has a push endpoint.",
            ));
        }
    }
    if !sub.filter.is_empty() {
        Filter::parse(&sub.filter)?;
    }
    sub.state = gcloud_googleapis::pubsub::v1::subscription::State::Active as i32;
    Ok(sub)
}

/// Refuses the first setting that is present but not implemented, with a sentence naming it.
fn left_out(settings: &[(bool, &str)]) -> Result<(), Error> {
    match settings.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(Error::Unimplemented(format!(
            "{what} are not supported by this emulator."
        ))),
        None => Ok(()),
    }
}

/// Checks a push configuration: an empty endpoint means pull delivery; otherwise an
/// `http://` or `https://` URL.
pub fn push_config(push: &PushConfig) -> Result<(), Error> {
    let endpoint = &push.push_endpoint;
    if endpoint.is_empty() {
        return Ok(());
    }
    let valid = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !valid || endpoint.parse::<http::Uri>().is_err() {
        return Err(Error::invalid(format!(
            "Invalid push_endpoint: {endpoint} (an http:// or https:// URL is required)"
        )));
    }
    Ok(())
}

/// The delivery rules of a checked subscription.
pub fn rules(sub: &Subscription) -> Rules {
    let retention = sub
        .message_retention_duration
        .map_or(RETENTION_DEFAULT, std_duration);
    let retry = sub.retry_policy.map(|policy| {
        (
            policy.minimum_backoff.map_or(RETRY_MIN_DEFAULT, std_duration),
            policy.maximum_backoff.map_or(RETRY_MAX_DEFAULT, std_duration),
        )
    });
    let max_delivery_attempts = sub
        .dead_letter_policy
        .as_ref()
        .filter(|policy| !policy.dead_letter_topic.is_empty())
        .map(|policy| u32::try_from(policy.max_delivery_attempts).unwrap_or(5));
    Rules {
        ordering: sub.enable_message_ordering,
        retention,
        retry,
        max_delivery_attempts,
        exactly_once: sub.enable_exactly_once_delivery,
        retain_acked: sub.retain_acked_messages,
    }
}

/// A protobuf duration as a std duration; negative values become zero.
pub fn std_duration(d: ProtoDuration) -> Duration {
    let secs = u64::try_from(d.seconds).unwrap_or(0);
    let nanos = u32::try_from(d.nanos).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// A std duration as a protobuf duration.
pub fn proto_duration(d: Duration) -> ProtoDuration {
    ProtoDuration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn retention_in_range(retention: ProtoDuration, field: &str, max: Duration) -> Result<(), Error> {
    let value = std_duration(retention);
    if retention.seconds < 0 || value < RETENTION_MIN || value > max {
        return Err(Error::invalid(format!(
            "Invalid {field}: {}s (must be between {}s and {}s)",
            retention.seconds,
            RETENTION_MIN.as_secs(),
            max.as_secs()
        )));
    }
    Ok(())
}

fn dead_letter(policy: &mut DeadLetterPolicy) -> Result<(), Error> {
    if policy.dead_letter_topic.is_empty() {
        return Ok(());
    }
    names::check(Kind::Topic, &policy.dead_letter_topic)?;
    let (default, min, max) = DEAD_LETTER_ATTEMPTS;
    if policy.max_delivery_attempts == 0 {
        policy.max_delivery_attempts = default;
    } else if !(min..=max).contains(&policy.max_delivery_attempts) {
        return Err(Error::invalid(format!(
            "Invalid max_delivery_attempts: {} (must be between {min} and {max})",
            policy.max_delivery_attempts
        )));
    }
    Ok(())
}

fn retry(policy: &mut RetryPolicy) -> Result<(), Error> {
    let min = policy
        .minimum_backoff
        .get_or_insert(proto_duration(RETRY_MIN_DEFAULT));
    let min = std_duration(*min);
    let max = policy
        .maximum_backoff
        .get_or_insert(proto_duration(RETRY_MAX_DEFAULT));
    let max = std_duration(*max);
    if min > RETRY_MAX_DEFAULT || max > RETRY_MAX_DEFAULT || min > max {
        return Err(Error::invalid(format!(
            "Invalid retry_policy: minimum_backoff {min:?}, maximum_backoff {max:?} (each at most 600s, minimum ≤ maximum)"
        )));
    }
    Ok(())
}
