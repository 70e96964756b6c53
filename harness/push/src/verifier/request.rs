//! One push request read without I/O: the bearer token from `Authorization`, the message from
//! a wrapped or unwrapped body, and the verdict with the status it answers.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use fleetgate_identity::google::verify::PushRefusal;
use serde_json::{Map, Value};

/// Why a push is not acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No `Authorization` header.
    NoAuthorization,
    /// An `Authorization` scheme other than `Bearer`.
    NotBearer,
    /// The token failed a rule of docs/protocol.md §6.
    Token(PushRefusal),
    /// Google's keys could not be fetched, so nothing could be verified (a nack, not a verdict
    /// on the token).
    KeysUnavailable,
    /// The token verified but the body is not a readable push.
    BadBody,
}

impl Refusal {
    /// Stable kebab-case id, also the first word of the response body.
    pub fn id(self) -> &'static str {
        match self {
            Self::NoAuthorization => "no-authorization",
            Self::NotBearer => "not-bearer",
            Self::Token(refusal) => refusal.id(),
            Self::KeysUnavailable => "keys-unavailable",
            Self::BadBody => "bad-body",
        }
    }

    /// The HTTP status: 401 when the caller is not authenticated (no, wrong or unverifiable
    /// token), 403 when a genuine Google token is not for this endpoint (`aud`, `email`,
    /// `email_verified`), 503 when the keys are unavailable, 400 for an unreadable body.
    pub fn status(self) -> u16 {
        match self {
            Self::Token(
                PushRefusal::AudMismatch | PushRefusal::EmailMismatch | PushRefusal::EmailNotVerified,
            ) => 403,
            Self::NoAuthorization | Self::NotBearer | Self::Token(_) => 401,
            Self::KeysUnavailable => 503,
            Self::BadBody => 400,
        }
    }
}

/// The outcome of one push.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Acknowledged with 204.
    Accepted,
    /// Refused, with the reason.
    Refused(Refusal),
}

impl Verdict {
    /// The HTTP status answered.
    pub fn status(self) -> u16 {
        match self {
            Self::Accepted => 204,
            Self::Refused(refusal) => refusal.status(),
        }
    }
}

/// The bearer token of `Authorization` (scheme compared case-insensitively).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Refusal> {
    let value = headers.get(AUTHORIZATION).ok_or(Refusal::NoAuthorization)?;
    let value = value.to_str().map_err(|_| Refusal::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(Refusal::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::NotBearer);
    }
    Ok(token.trim())
}

/// A pushed message, from either body form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushedMessage {
    /// `messageId` (or `x-goog-pubsub-message-id`).
    pub message_id: Option<String>,
    /// The data, decoded.
    pub data: Bytes,
    /// The attributes (unwrapped: every header that is not HTTP's or Pub/Sub's own).
    pub attributes: BTreeMap<String, String>,
    /// `publishTime` as sent (RFC 3339).
    pub publish_time: Option<String>,
    /// `orderingKey`, when set.
    pub ordering_key: Option<String>,
    /// The subscription name.
    pub subscription: Option<String>,
    /// `deliveryAttempt` (subscriptions with a dead-letter policy).
    pub delivery_attempt: Option<u32>,
    /// Whether the body was the wrapped JSON form.
    pub wrapped: bool,
}

/// Reads a push body: the wrapped form when it is a JSON object with a `message` object and a
/// `subscription` string; otherwise the raw data with metadata from `x-goog-pubsub-*` headers.
/// `None` when it is wrapped but unreadable (data not base64, attributes not strings).
pub fn parse_body(headers: &HeaderMap, body: &Bytes) -> Option<PushedMessage> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(doc)) if is_wrapped(&doc) => wrapped(&doc),
        _ => Some(unwrapped(headers, body)),
    }
}

fn is_wrapped(doc: &Map<String, Value>) -> bool {
    doc.get("message").is_some_and(Value::is_object) && doc.get("subscription").is_some_and(Value::is_string)
}

fn wrapped(doc: &Map<String, Value>) -> Option<PushedMessage> {
    let message = doc.get("message")?.as_object()?;
    let text = |a: &str, b: &str| {
        message
            .get(a)
            .or_else(|| message.get(b))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let data = match message.get("data") {
        None => Bytes::new(),
        Some(v) => Bytes::from(STANDARD.decode(v.as_str()?).ok()?),
    };
    let mut attributes = BTreeMap::new();
    if let Some(map) = message.get("attributes") {
        for (k, v) in map.as_object()? {
            attributes.insert(k.clone(), v.as_str()?.to_owned());
        }
    }
    let delivery_attempt = match doc.get("deliveryAttempt") {
        None => None,
        Some(v) => Some(u32::try_from(v.as_u64()?).ok()?),
    };
    Some(PushedMessage {
        message_id: text("messageId", "message_id"),
        data,
        attributes,
        publish_time: text("publishTime", "publish_time"),
        ordering_key: text("orderingKey", "ordering_key"),
        subscription: doc.get("subscription").and_then(Value::as_str).map(str::to_owned),
        delivery_attempt,
        wrapped: true,
    })
}

/// Headers that are HTTP's or the transport's, never a message attribute.
const NOT_ATTRIBUTES: &[&str] = &[
    "accept",
    "accept-encoding",
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "from",
    "host",
    "transfer-encoding",
    "user-agent",
];

fn unwrapped(headers: &HeaderMap, body: &Bytes) -> PushedMessage {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let attributes = headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !name.starts_with("x-goog-pubsub-") && !NOT_ATTRIBUTES.contains(&name)
        })
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    PushedMessage {
        message_id: header("x-goog-pubsub-message-id"),
        data: body.clone(),
        attributes,
        publish_time: header("x-goog-pubsub-publish-time"),
        ordering_key: header("x-goog-pubsub-ordering-key"),
        subscription: header("x-goog-pubsub-subscription-name"),
        delivery_attempt: None,
        wrapped: false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn bearer_tokens_are_read_and_other_schemes_refused() {
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer a.b.c")])),
            Ok("a.b.c")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "bearer a.b.c")])),
            Ok("a.b.c")
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Basic dTpw")])),
            Err(Refusal::NotBearer)
        );
        assert_eq!(
            bearer_token(&headers(&[("authorization", "Bearer")])),
            Err(Refusal::NotBearer)
        );
        assert_eq!(bearer_token(&headers(&[])), Err(Refusal::NoAuthorization));
    }

    #[test]
    fn wrapped_bodies_are_decoded() {
        let body = Bytes::from_static(
            br#"{"message":{"data":"aGk=","attributes":{"a":"1"},"messageId":"7","publishTime":"2026-01-01T00:00:00Z","orderingKey":"k"},"subscription":"projects/p/subscriptions/s","deliveryAttempt":2}"#,
        );
        let m = parse_body(&HeaderMap::new(), &body).unwrap();
        assert!(m.wrapped);
        assert_eq!(m.data, Bytes::from_static(b"hi"));
        assert_eq!(m.message_id.as_deref(), Some("7"));
        assert_eq!(m.attributes.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.publish_time.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(m.ordering_key.as_deref(), Some("k"));
        assert_eq!(m.subscription.as_deref(), Some("projects/p/subscriptions/s"));
        assert_eq!(m.delivery_attempt, Some(2));
    }

    #[test]
    fn wrapped_bodies_with_bad_data_are_unreadable() {
        let body = Bytes::from_static(br#"{"message":{"data":"!!"},"subscription":"s"}"#);
        assert_eq!(parse_body(&HeaderMap::new(), &body), None);
    }

    #[test]
    fn unwrapped_bodies_take_metadata_from_headers() {
        let h = headers(&[
            ("x-goog-pubsub-message-id", "9"),
            ("x-goog-pubsub-publish-time", "2026-01-01T00:00:00Z"),
            ("x-goog-pubsub-subscription-name", "projects/p/subscriptions/s"),
            ("content-type", "application/octet-stream"),
            ("device", "pi-1"),
        ]);
        let m = parse_body(&h, &Bytes::from_static(b"{\"t\":1}")).unwrap();
        assert!(!m.wrapped);
        assert_eq!(m.data, Bytes::from_static(b"{\"t\":1}"));
        assert_eq!(m.message_id.as_deref(), Some("9"));
        assert_eq!(m.attributes.len(), 1);
        assert_eq!(m.attributes.get("device").map(String::as_str), Some("pi-1"));
    }

    #[test]
    fn audience_and_identity_failures_are_403_the_rest_401() {
        assert_eq!(Refusal::Token(PushRefusal::AudMismatch).status(), 403);
        assert_eq!(Refusal::Token(PushRefusal::EmailNotVerified).status(), 403);
        assert_eq!(Refusal::Token(PushRefusal::Expired).status(), 401);
        assert_eq!(Refusal::NotBearer.status(), 401);
        assert_eq!(Verdict::Accepted.status(), 204);
    }
}
