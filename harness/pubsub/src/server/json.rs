//! The REST v1 JSON forms of Pub/Sub resources and requests (proto3 JSON mapping: camelCase,
//! snake_case accepted too, bytes as base64, durations as `"600s"`, timestamps in RFC 3339,
//! integers as numbers or strings) and their conversion to and from the protobuf types.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gcloud_googleapis::pubsub::v1::push_config::{
    AuthenticationMethod, NoWrapper, OidcToken, PubsubWrapper, Wrapper,
};
use gcloud_googleapis::pubsub::v1::{
    DeadLetterPolicy, ExpirationPolicy, PubsubMessage, PushConfig, ReceivedMessage, RetryPolicy,
    Subscription, Topic,
};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;
use crate::time::{duration_json, parse_duration, parse_rfc3339, rfc3339};

/// A topic.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicJson {
    name: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    labels: HashMap<String, String>,
    #[serde(alias = "message_retention_duration", skip_serializing_if = "Option::is_none")]
    message_retention_duration: Option<String>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// A subscription.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionJson {
    name: String,
    topic: String,
    #[serde(alias = "push_config", skip_serializing_if = "Option::is_none")]
    push_config: Option<PushConfigJson>,
    #[serde(alias = "ack_deadline_seconds", deserialize_with = "int")]
    ack_deadline_seconds: i32,
    #[serde(alias = "retain_acked_messages")]
    retain_acked_messages: bool,
    #[serde(alias = "message_retention_duration", skip_serializing_if = "Option::is_none")]
    message_retention_duration: Option<String>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    labels: HashMap<String, String>,
    #[serde(alias = "enable_message_ordering")]
    enable_message_ordering: bool,
    #[serde(alias = "expiration_policy", skip_serializing_if = "Option::is_none")]
    expiration_policy: Option<ExpirationJson>,
    #[serde(skip_serializing_if = "String::is_empty")]
    filter: String,
    #[serde(alias = "dead_letter_policy", skip_serializing_if = "Option::is_none")]
    dead_letter_policy: Option<DeadLetterJson>,
    #[serde(alias = "retry_policy", skip_serializing_if = "Option::is_none")]
    retry_policy: Option<RetryJson>,
    #[serde(alias = "enable_exactly_once_delivery")]
    enable_exactly_once_delivery: bool,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// A push configuration.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PushConfigJson {
    #[serde(alias = "push_endpoint")]
    push_endpoint: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    attributes: HashMap<String, String>,
    #[serde(alias = "oidc_token", skip_serializing_if = "Option::is_none")]
    oidc_token: Option<OidcJson>,
    #[serde(alias = "pubsub_wrapper", skip_serializing_if = "Option::is_none")]
    pubsub_wrapper: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(alias = "no_wrapper", skip_serializing_if = "Option::is_none")]
    no_wrapper: Option<NoWrapperJson>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OidcJson {
    #[serde(alias = "service_account_email")]
    service_account_email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    audience: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct NoWrapperJson {
    #[serde(alias = "write_metadata")]
    write_metadata: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ExpirationJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DeadLetterJson {
    #[serde(alias = "dead_letter_topic")]
    dead_letter_topic: String,
    #[serde(alias = "max_delivery_attempts", deserialize_with = "int")]
    max_delivery_attempts: i32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RetryJson {
    #[serde(alias = "minimum_backoff", skip_serializing_if = "Option::is_none")]
    minimum_backoff: Option<String>,
    #[serde(alias = "maximum_backoff", skip_serializing_if = "Option::is_none")]
    maximum_backoff: Option<String>,
}

/// A message.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    data: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    attributes: HashMap<String, String>,
    #[serde(alias = "message_id")]
    message_id: String,
    #[serde(alias = "publish_time", skip_serializing_if = "String::is_empty")]
    publish_time: String,
    #[serde(alias = "ordering_key", skip_serializing_if = "String::is_empty")]
    ordering_key: String,
}

/// `topics.publish` request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PublishJson {
    /// The messages.
    pub messages: Vec<MessageJson>,
}

/// `subscriptions.pull` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PullJson {
    /// Return at once even without messages.
    #[serde(alias = "return_immediately")]
    pub return_immediately: bool,
    /// At most this many messages.
    #[serde(alias = "max_messages", deserialize_with = "int")]
    pub max_messages: i32,
}

/// `subscriptions.acknowledge` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AckJson {
    /// The ack ids.
    #[serde(alias = "ack_ids")]
    pub ack_ids: Vec<String>,
}

/// `subscriptions.modifyAckDeadline` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ModAckJson {
    /// The ack ids.
    #[serde(alias = "ack_ids")]
    pub ack_ids: Vec<String>,
    /// The new deadline from now, in seconds (0 = nack).
    #[serde(alias = "ack_deadline_seconds", deserialize_with = "int")]
    pub ack_deadline_seconds: i32,
}

/// `subscriptions.modifyPushConfig` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ModifyPushJson {
    /// The new push configuration; absent = pull delivery.
    #[serde(alias = "push_config")]
    pub push_config: Option<PushConfigJson>,
}

/// `PATCH` request of a topic.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateTopicJson {
    /// The new values.
    pub topic: TopicJson,
    /// Comma-separated field paths.
    #[serde(alias = "update_mask")]
    pub update_mask: String,
}

/// `PATCH` request of a subscription.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateSubscriptionJson {
    /// The new values.
    pub subscription: SubscriptionJson,
    /// Comma-separated field paths.
    #[serde(alias = "update_mask")]
    pub update_mask: String,
}

/// A received message in a pull response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedJson {
    ack_id: String,
    message: MessageJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_attempt: Option<i32>,
}

fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i32),
        Text(String),
    }
    match Int::deserialize(deserializer)? {
        Int::Number(n) => Ok(n),
        Int::Text(text) => text.parse().map_err(serde::de::Error::custom),
    }
}

fn duration(text: Option<String>, field: &str) -> Result<Option<prost_types::Duration>, Error> {
    text.map(|t| {
        parse_duration(&t).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid value at '{field}': {t:?} is not a duration such as \"600s\""
            ))
        })
    })
    .transpose()
}

/// Splits an `updateMask` string into field paths.
pub fn mask_paths(mask: &str) -> Vec<String> {
    mask.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

impl TopicJson {
    /// The protobuf form, named `name`.
    pub fn into_proto(self, name: String) -> Result<Topic, Error> {
        Ok(Topic {
            name,
            labels: self.labels,
            message_retention_duration: duration(
                self.message_retention_duration,
                "message_retention_duration",
            )?,
            ..Topic::default()
        })
    }
}

impl From<Topic> for TopicJson {
    fn from(topic: Topic) -> Self {
        let state = gcloud_googleapis::pubsub::v1::topic::State::try_from(topic.state).ok();
        Self {
            name: topic.name,
            labels: topic.labels,
            message_retention_duration: topic.message_retention_duration.as_ref().map(duration_json),
            state: state.map(|s| s.as_str_name().to_owned()),
        }
    }
}

impl SubscriptionJson {
    /// The protobuf form, named `name`.
    pub fn into_proto(self, name: String) -> Result<Subscription, Error> {
        let retry_policy = match self.retry_policy {
            Some(retry) => Some(RetryPolicy {
                minimum_backoff: duration(retry.minimum_backoff, "retry_policy.minimum_backoff")?,
                maximum_backoff: duration(retry.maximum_backoff, "retry_policy.maximum_backoff")?,
            }),
            None => None,
        };
        let expiration_policy = match self.expiration_policy {
            Some(policy) => Some(ExpirationPolicy {
                ttl: duration(policy.ttl, "expiration_policy.ttl")?,
            }),
            None => None,
        };
        Ok(Subscription {
            name,
            topic: self.topic,
            push_config: self.push_config.map(PushConfigJson::into_proto).transpose()?,
            ack_deadline_seconds: self.ack_deadline_seconds,
            retain_acked_messages: self.retain_acked_messages,
            message_retention_duration: duration(
                self.message_retention_duration,
                "message_retention_duration",
            )?,
            labels: self.labels,
            enable_message_ordering: self.enable_message_ordering,
            expiration_policy,
            filter: self.filter,
            dead_letter_policy: self.dead_letter_policy.map(|p| DeadLetterPolicy {
                dead_letter_topic: p.dead_letter_topic,
                max_delivery_attempts: p.max_delivery_attempts,
            }),
            retry_policy,
            enable_exactly_once_delivery: self.enable_exactly_once_delivery,
            ..Subscription::default()
        })
    }
}

impl From<Subscription> for SubscriptionJson {
    fn from(sub: Subscription) -> Self {
        let state = gcloud_googleapis::pubsub::v1::subscription::State::try_from(sub.state).ok();
        Self {
            name: sub.name,
            topic: sub.topic,
            push_config: sub
                .push_config
                .filter(|p| !p.push_endpoint.is_empty())
                .map(PushConfigJson::from),
            ack_deadline_seconds: sub.ack_deadline_seconds,
            retain_acked_messages: sub.retain_acked_messages,
            message_retention_duration: sub.message_retention_duration.as_ref().map(duration_json),
            labels: sub.labels,
            enable_message_ordering: sub.enable_message_ordering,
            expiration_policy: sub.expiration_policy.map(|p| ExpirationJson {
                ttl: p.ttl.as_ref().map(duration_json),
            }),
            filter: sub.filter,
            dead_letter_policy: sub.dead_letter_policy.map(|p| DeadLetterJson {
                dead_letter_topic: p.dead_letter_topic,
                max_delivery_attempts: p.max_delivery_attempts,
            }),
            retry_policy: sub.retry_policy.map(|p| RetryJson {
                minimum_backoff: p.minimum_backoff.as_ref().map(duration_json),
                maximum_backoff: p.maximum_backoff.as_ref().map(duration_json),
            }),
            enable_exactly_once_delivery: sub.enable_exactly_once_delivery,
            state: state.map(|s| s.as_str_name().to_owned()),
        }
    }
}

impl PushConfigJson {
    /// The protobuf form.
    pub fn into_proto(self) -> Result<PushConfig, Error> {
        let wrapper = match (self.pubsub_wrapper, self.no_wrapper) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "pushConfig may set only one of pubsubWrapper and noWrapper",
                ));
            }
            (Some(_), None) => Some(Wrapper::PubsubWrapper(PubsubWrapper {})),
            (None, Some(no)) => Some(Wrapper::NoWrapper(NoWrapper {
                write_metadata: no.write_metadata,
            })),
            (None, None) => None,
        };
        Ok(PushConfig {
            push_endpoint: self.push_endpoint,
            attributes: self.attributes,
            authentication_method: self.oidc_token.map(|o| {
                AuthenticationMethod::OidcToken(OidcToken {
                    service_account_email: o.service_account_email,
                    audience: o.audience,
                })
            }),
            wrapper,
        })
    }
}

impl From<PushConfig> for PushConfigJson {
    fn from(push: PushConfig) -> Self {
        let (pubsub_wrapper, no_wrapper) = match push.wrapper {
            Some(Wrapper::PubsubWrapper(_)) => (Some(serde_json::Map::new()), None),
            Some(Wrapper::NoWrapper(no)) => (
                None,
                Some(NoWrapperJson {
                    write_metadata: no.write_metadata,
                }),
            ),
            None => (None, None),
        };
        Self {
            push_endpoint: push.push_endpoint,
            attributes: push.attributes,
            oidc_token: push
                .authentication_method
                .map(|AuthenticationMethod::OidcToken(o)| OidcJson {
                    service_account_email: o.service_account_email,
                    audience: o.audience,
                }),
            pubsub_wrapper,
            no_wrapper,
        }
    }
}

impl MessageJson {
    /// The protobuf form (as published: id and publish time are set by the emulator).
    pub fn into_proto(self) -> Result<PubsubMessage, Error> {
        let data = STANDARD.decode(self.data.as_bytes()).map_err(|e| {
            Error::invalid(format!(
                "Invalid value at 'messages.data' (TYPE_BYTES), base64 decoding failed: {e}"
            ))
        })?;
        let publish_time = if self.publish_time.is_empty() {
            None
        } else {
            parse_rfc3339(&self.publish_time)
        };
        Ok(PubsubMessage {
            data,
            attributes: self.attributes,
            message_id: self.message_id,
            publish_time,
            ordering_key: self.ordering_key,
        })
    }
}

impl From<PubsubMessage> for MessageJson {
    fn from(m: PubsubMessage) -> Self {
        Self {
            data: STANDARD.encode(&m.data),
            attributes: m.attributes,
            message_id: m.message_id,
            publish_time: m.publish_time.as_ref().map(rfc3339).unwrap_or_default(),
            ordering_key: m.ordering_key,
        }
    }
}

impl From<ReceivedMessage> for ReceivedJson {
    fn from(r: ReceivedMessage) -> Self {
        Self {
            ack_id: r.ack_id,
            message: r.message.map(MessageJson::from).unwrap_or_default(),
            delivery_attempt: (r.delivery_attempt > 0).then_some(r.delivery_attempt),
        }
    }
}
