//! Google's per-request and per-message limits on publishing (docs/protocol.md §9): beyond each one
//! the request is refused whole with `INVALID_ARGUMENT` naming the limit.

use crate::error::Error;
use gcloud_googleapis::pubsub::v1::PubsubMessage;

/// Largest publish request, in bytes (what Google's client libraries call the backend's limit).
pub const MAX_REQUEST_BYTES: usize = 10_000_000;
/// Largest message (data, attribute keys and values, ordering key), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 10_000_000;
/// Most messages in one publish request.
pub const MAX_MESSAGES: usize = 1000;
/// Most attributes on one message.
pub const MAX_ATTRIBUTES: usize = 100;
/// Longest attribute key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest attribute value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Longest ordering key, in bytes.
pub const MAX_ORDERING_KEY_BYTES: usize = 1024;

/// The size Google counts for a message: data, attribute keys and values, ordering key.
pub fn message_size(message: &PubsubMessage) -> usize {
    let attributes: usize = message.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    message.data.len() + attributes + message.ordering_key.len()
}

/// Checks a publish request to `topic` against every limit; returns each message's size.
/// The request's size is the topic name plus the messages' sizes.
pub fn check_publish(topic: &str, messages: &[PubsubMessage]) -> Result<Vec<usize>, Error> {
    if messages.is_empty() {
        return Err(Error::invalid(
            "The value for message_count is too small. You passed 0 in the request, but the minimum value is 1.",
        ));
    }
    if messages.len() > MAX_MESSAGES {
        return Err(Error::invalid(format!(
            "The value for message_count is too large. You passed {} in the request, but the maximum value is {MAX_MESSAGES}.",
            messages.len()
        )));
    }
    let sizes = messages
        .iter()
        .enumerate()
        .map(|(index, message)| check_message(index, message))
        .collect::<Result<Vec<_>, _>>()?;
    let request = topic.len() + sizes.iter().sum::<usize>();
    if request > MAX_REQUEST_BYTES {
        return Err(Error::invalid(format!(
            "Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes (this request has {request})."
        )));
    }
    Ok(sizes)
}

/// Checks one message in one pass over its attributes; returns its size.
fn check_message(index: usize, message: &PubsubMessage) -> Result<usize, Error> {
    let at = |what: String| Error::invalid(format!("messages[{index}]: {what}"));
    if message.data.is_empty() && message.attributes.is_empty() {
        return Err(at(
            "a message needs data or at least one attribute, and this one has neither.".into(),
        ));
    }
    if message.attributes.len() > MAX_ATTRIBUTES {
        return Err(at(format!(
            "the message has {} attributes; at most {MAX_ATTRIBUTES} are allowed.",
            message.attributes.len()
        )));
    }
    let mut size = message.data.len() + message.ordering_key.len();
    for (key, value) in &message.attributes {
        if key.is_empty() {
            return Err(at("an attribute key is empty.".into()));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(at(format!(
                "the attribute key {:?}… is {} bytes; keys may have at most {MAX_KEY_BYTES} bytes.",
                truncated(key),
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(at(format!(
                "the value of attribute {:?} is {} bytes; values may have at most {MAX_VALUE_BYTES} bytes.",
                truncated(key),
                value.len()
            )));
        }
        size += key.len() + value.len();
    }
    if message.ordering_key.len() > MAX_ORDERING_KEY_BYTES {
        return Err(at(format!(
            "the ordering key is {} bytes; ordering keys may have at most {MAX_ORDERING_KEY_BYTES} bytes.",
            message.ordering_key.len()
        )));
    }
    if size > MAX_MESSAGE_BYTES {
        return Err(at(format!(
            "the message size ({size} bytes: data, attributes and ordering key) exceeds the limit: {MAX_MESSAGE_BYTES} bytes."
        )));
    }
    Ok(size)
}

fn truncated(text: &str) -> &str {
    let end = (0..=text.len().min(32))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with_attributes(attributes: HashMap<String, String>) -> PubsubMessage {
        PubsubMessage {
            data: b"x".to_vec(),
            attributes,
            ..PubsubMessage::default()
        }
    }

    fn refusal(messages: &[PubsubMessage]) -> String {
        let err = check_publish("projects/p/topics/t", messages).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        err.to_string()
    }

    #[test]
    fn every_limit_is_named_when_exceeded() {
        let one = with_attributes(HashMap::new());
        assert!(refusal(&vec![one.clone(); 1001]).contains("maximum value is 1000"));
        let many: HashMap<_, _> = (0..101).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(refusal(&[with_attributes(many)]).contains("at most 100 are allowed"));
        let long_key = HashMap::from([("k".repeat(257), "v".to_owned())]);
        assert!(refusal(&[with_attributes(long_key)]).contains("at most 256 bytes"));
        let long_value = HashMap::from([("k".to_owned(), "v".repeat(1025))]);
        assert!(refusal(&[with_attributes(long_value)]).contains("at most 1024 bytes"));
        let key = PubsubMessage {
            ordering_key: "o".repeat(1025),
            ..one.clone()
        };
        assert!(refusal(&[key]).contains("ordering keys may have at most 1024 bytes"));
        let big = PubsubMessage {
            data: vec![0; MAX_MESSAGE_BYTES + 1],
            ..PubsubMessage::default()
        };
        assert!(refusal(&[big]).contains("messages[0]: the message size (10000001 bytes"));
        let halves = vec![
            PubsubMessage {
                data: vec![0; MAX_MESSAGE_BYTES / 2],
                ..PubsubMessage::default()
            };
            2
        ];
        assert!(refusal(&halves).contains("Request payload size exceeds the limit: 10000000 bytes"));
        assert!(refusal(&[PubsubMessage::default()]).contains("neither"));
        assert!(refusal(&[]).contains("minimum value is 1"));
    }

    #[test]
    fn values_at_the_limits_are_accepted() {
        let attributes: HashMap<_, _> = (0..100)
            .map(|i| (format!("{i:0>256}"), "v".repeat(1024)))
            .collect();
        let message = PubsubMessage {
            ordering_key: "o".repeat(1024),
            ..with_attributes(attributes)
        };
        check_publish("projects/p/topics/t", &vec![message; 10]).unwrap();
        let big = PubsubMessage {
            data: vec![0; 9_999_000],
            ..PubsubMessage::default()
        };
        assert_eq!(check_publish("projects/p/topics/t", &[big]).unwrap(), [9_999_000]);
    }
}
