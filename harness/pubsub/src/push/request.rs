//! The HTTP request of one push, built without I/O (docs/protocol.md §6): the wrapped JSON body
//! (default) or the raw data (`noWrapper`), with `x-goog-pubsub-*` and attribute headers when
//! `writeMetadata` is set.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gcloud_googleapis::pubsub::v1::push_config::Wrapper;
use gcloud_googleapis::pubsub::v1::{PushConfig, ReceivedMessage};
use serde_json::{Map, Value, json};

use crate::time::rfc3339;

/// Status codes that acknowledge a push.
pub fn is_ack_status(status: u16) -> bool {
    matches!(status, 102 | 200 | 201 | 202 | 204)
}

/// One push request, without its `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushRequest {
    /// Headers, in order (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl PushRequest {
    /// The request pushing `received` from `subscription` under `config`. `deliveryAttempt`
    /// is included when the message carries one (subscriptions with a dead-letter policy).
    pub fn build(subscription: &str, config: &PushConfig, received: &ReceivedMessage) -> Self {
        let message = received.message.clone().unwrap_or_default();
        let publish_time = message.publish_time.map(|t| rfc3339(&t)).unwrap_or_default();
        if let Some(Wrapper::NoWrapper(no_wrapper)) = config.wrapper {
            let mut headers = Vec::new();
            if no_wrapper.write_metadata {
                headers.push((
                    "x-goog-pubsub-subscription-name".to_owned(),
                    subscription.to_owned(),
                ));
                headers.push(("x-goog-pubsub-message-id".to_owned(), message.message_id.clone()));
                headers.push(("x-goog-pubsub-publish-time".to_owned(), publish_time));
                if !message.ordering_key.is_empty() {
                    headers.push((
                        "x-goog-pubsub-ordering-key".to_owned(),
                        message.ordering_key.clone(),
                    ));
                }
                let mut attributes: Vec<_> = message.attributes.into_iter().collect();
                attributes.sort();
                headers.extend(attributes);
            }
            return Self {
                headers,
                body: message.data,
            };
        }
        let mut body = Map::new();
        body.insert("message".into(), wrapped_message(&message, &publish_time));
        body.insert("subscription".into(), json!(subscription));
        if received.delivery_attempt > 0 {
            body.insert("deliveryAttempt".into(), json!(received.delivery_attempt));
        }
        Self {
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: Value::Object(body).to_string().into_bytes(),
        }
    }
}

fn wrapped_message(message: &gcloud_googleapis::pubsub::v1::PubsubMessage, publish_time: &str) -> Value {
    let mut out = Map::new();
    if !message.data.is_empty() {
        out.insert("data".into(), json!(STANDARD.encode(&message.data)));
    }
    if !message.attributes.is_empty() {
        let mut attributes: Vec<_> = message.attributes.iter().collect();
        attributes.sort();
        let attributes: Map<String, Value> = attributes
            .into_iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        out.insert("attributes".into(), Value::Object(attributes));
    }
    out.insert("messageId".into(), json!(message.message_id));
    out.insert("message_id".into(), json!(message.message_id));
    out.insert("publishTime".into(), json!(publish_time));
    out.insert("publish_time".into(), json!(publish_time));
    if !message.ordering_key.is_empty() {
        out.insert("orderingKey".into(), json!(message.ordering_key));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcloud_googleapis::pubsub::v1::PubsubMessage;
    use gcloud_googleapis::pubsub::v1::push_config::NoWrapper;

    fn received(attempt: i32) -> ReceivedMessage {
        ReceivedMessage {
            ack_id: "1-1".into(),
            message: Some(PubsubMessage {
                data: b"hello".to_vec(),
                attributes: [("deviceId".to_owned(), "pi-1".to_owned())].into(),
                message_id: "42".into(),
                publish_time: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 5_000_000,
                }),
                ordering_key: "k".into(),
            }),
            delivery_attempt: attempt,
        }
    }

    #[test]
    fn wrapped_body_has_both_spellings_and_base64_data() {
        let req = PushRequest::build("projects/p/subscriptions/s", &PushConfig::default(), &received(3));
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["subscription"], "projects/p/subscriptions/s");
        assert_eq!(body["deliveryAttempt"], 3);
        let m = &body["message"];
        assert_eq!(m["data"], "aGVsbG8=");
        assert_eq!(m["attributes"]["deviceId"], "pi-1");
        assert_eq!(m["messageId"], "42");
        assert_eq!(m["message_id"], "42");
        assert_eq!(m["publishTime"], "2023-11-14T22:13:20.005Z");
        assert_eq!(m["publish_time"], m["publishTime"]);
        assert_eq!(m["orderingKey"], "k");
        let without = PushRequest::build("projects/p/subscriptions/s", &PushConfig::default(), &received(0));
        let body: Value = serde_json::from_slice(&without.body).unwrap();
        assert!(body.get("deliveryAttempt").is_none());
    }

    #[test]
    fn unwrapped_body_is_raw_with_metadata_headers_only_when_asked() {
        let config = |write_metadata| PushConfig {
            wrapper: Some(Wrapper::NoWrapper(NoWrapper { write_metadata })),
            ..PushConfig::default()
        };
        let plain = PushRequest::build("projects/p/subscriptions/s", &config(false), &received(0));
        assert_eq!(plain.body, b"hello");
        assert!(plain.headers.is_empty());
        let meta = PushRequest::build("projects/p/subscriptions/s", &config(true), &received(0));
        let header = |name: &str| {
            meta.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("x-goog-pubsub-subscription-name"),
            Some("projects/p/subscriptions/s")
        );
        assert_eq!(header("x-goog-pubsub-message-id"), Some("42"));
        assert_eq!(
            header("x-goog-pubsub-publish-time"),
            Some("2023-11-14T22:13:20.005Z")
        );
        assert_eq!(header("x-goog-pubsub-ordering-key"), Some("k"));
        assert_eq!(header("deviceId"), Some("pi-1"));
    }

    #[test]
    fn ack_statuses_are_exactly_googles() {
        let acks: Vec<u16> = (100..600).filter(|s| is_ack_status(*s)).collect();
        assert_eq!(acks, [102, 200, 201, 202, 204]);
    }
}
