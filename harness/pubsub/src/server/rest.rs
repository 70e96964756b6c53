//! REST v1 (`/v1/projects/{p}/topics/{t}`, `…:publish`, `/v1/projects/{p}/subscriptions/{s}`,
//! `…:pull`, `…:acknowledge`, `…:modifyAckDeadline`, `…:modifyPushConfig`, `…:seek`),
//! answering errors with Google's JSON error body (`{"error":{"code","message","status"}}`),
//! and `UNIMPLEMENTED` with a sentence for Google's methods this emulator does not serve.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::json::{
    AckJson, MessageJson, ModAckJson, ModifyPushJson, PublishJson, PullJson, ReceivedJson, SubscriptionJson,
    TopicJson, UpdateSubscriptionJson, UpdateTopicJson, mask_paths,
};
use super::snapshots::seek;
use crate::broker::Page;
use crate::broker::limits::MAX_REQUEST_BYTES;
use crate::emulator::Emulator;
use crate::error::Error;

/// The REST routes.
pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/v1/projects/{project}/topics", get(list_topics))
        .route(
            "/v1/projects/{project}/topics/{topic}",
            get(get_topic)
                .put(create_topic)
                .patch(update_topic)
                .delete(delete_topic)
                .post(topic_action),
        )
        .route(
            "/v1/projects/{project}/topics/{topic}/subscriptions",
            get(topic_subscriptions),
        )
        .route("/v1/projects/{project}/subscriptions", get(list_subscriptions))
        .route(
            "/v1/projects/{project}/subscriptions/{sub}",
            get(get_subscription)
                .put(create_subscription)
                .patch(update_subscription)
                .delete(delete_subscription)
                .post(subscription_action),
        )
}

/// The answer to a path no route matches.
pub fn not_found(path: &str) -> Response {
    error_response(&Error::NotFound(path.to_owned()))
}

/// The answer to a method of Google's REST API that this emulator does not serve: `sentence`
/// says what is left out.
pub fn unimplemented(sentence: &str) -> Response {
    error_response(&Error::Unimplemented(sentence.to_owned()))
}

pub(super) type Params = Query<HashMap<String, String>>;

/// A request body, read up to the transport limit; beyond it the answer is Google's
/// `INVALID_ARGUMENT` in JSON rather than axum's plain-text 413.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        Bytes::from_request(request, state).await.map(Body).map_err(|rejection| {
            error_response(&Error::invalid(format!(
                "Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes (the body could not be read: {rejection})."
            )))
        })
    }
}

/// Google's JSON error body, with the `ErrorInfo` detail of exactly-once ack failures.
pub(super) fn error_response(error: &Error) -> Response {
    let (code, status) = error.http_status();
    let mut body = json!({"error": {"code": code, "message": error.to_string(), "status": status}});
    if let Some(metadata) = error.ack_id_metadata() {
        body["error"]["details"] = json!([{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": crate::error::EXACTLY_ONCE_REASON,
            "domain": crate::error::DOMAIN,
            "metadata": metadata,
        }]);
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

pub(super) fn respond<T: Serialize>(result: Result<T, Error>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error_response(&error),
    }
}

pub(super) fn body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| Error::invalid(format!("Invalid JSON payload received. {e}")))
}

pub(super) fn page(params: &HashMap<String, String>) -> Result<Page<'_>, Error> {
    let size = match params.get("pageSize") {
        Some(size) => size
            .parse()
            .map_err(|_| Error::invalid(format!("Invalid pageSize: {size:?}")))?,
        None => 0,
    };
    let token = params.get("pageToken").map_or("", String::as_str);
    Ok(Page { size, token })
}

pub(super) fn topic_name(project: &str, topic: &str) -> String {
    format!("projects/{project}/topics/{topic}")
}

fn sub_name(project: &str, sub: &str) -> String {
    format!("projects/{project}/subscriptions/{sub}")
}

async fn list_topics(
    State(e): State<Emulator>,
    Path(project): Path<String>,
    Query(params): Params,
) -> Response {
    respond(page(&params).and_then(|page| {
        let (topics, next) = e.list_topics(&format!("projects/{project}"), page)?;
        let topics: Vec<TopicJson> = topics.into_iter().map(TopicJson::from).collect();
        Ok(with_next(json!({"topics": topics}), next))
    }))
}

pub(super) fn with_next(mut value: Value, next: String) -> Value {
    if !next.is_empty() {
        value["nextPageToken"] = json!(next);
    }
    value
}

async fn get_topic(State(e): State<Emulator>, Path((project, topic)): Path<(String, String)>) -> Response {
    respond(e.get_topic(&topic_name(&project, &topic)).map(TopicJson::from))
}

async fn create_topic(
    State(e): State<Emulator>,
    Path((project, topic)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    respond(body::<TopicJson>(&bytes).and_then(|json| {
        let created = e.create_topic(json.into_proto(topic_name(&project, &topic))?)?;
        Ok(TopicJson::from(created))
    }))
}

async fn update_topic(
    State(e): State<Emulator>,
    Path((project, topic)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    respond(body::<UpdateTopicJson>(&bytes).and_then(|json| {
        let paths = mask_paths(&json.update_mask);
        let updated = e.update_topic(json.topic.into_proto(topic_name(&project, &topic))?, &paths)?;
        Ok(TopicJson::from(updated))
    }))
}

async fn delete_topic(State(e): State<Emulator>, Path((project, topic)): Path<(String, String)>) -> Response {
    respond(e.delete_topic(&topic_name(&project, &topic)).map(|()| json!({})))
}

async fn topic_action(
    State(e): State<Emulator>,
    Path((project, topic)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    let Some((topic, action)) = topic.split_once(':') else {
        return not_found(&format!("/v1/{}", topic_name(&project, &topic)));
    };
    if action != "publish" {
        return unsupported_action(&format!("/v1/{}:{action}", topic_name(&project, topic)), action);
    }
    respond(body::<PublishJson>(&bytes).and_then(|json| {
        let messages = json
            .messages
            .into_iter()
            .map(MessageJson::into_proto)
            .collect::<Result<_, _>>()?;
        let ids = e.publish(&topic_name(&project, topic), messages)?;
        Ok(json!({"messageIds": ids}))
    }))
}

async fn topic_subscriptions(
    State(e): State<Emulator>,
    Path((project, topic)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    respond(page(&params).and_then(|page| {
        let (subs, next) = e.list_topic_subscriptions(&topic_name(&project, &topic), page)?;
        Ok(with_next(json!({"subscriptions": subs}), next))
    }))
}

async fn list_subscriptions(
    State(e): State<Emulator>,
    Path(project): Path<String>,
    Query(params): Params,
) -> Response {
    respond(page(&params).and_then(|page| {
        let (subs, next) = e.list_subscriptions(&format!("projects/{project}"), page)?;
        let subs: Vec<SubscriptionJson> = subs.into_iter().map(SubscriptionJson::from).collect();
        Ok(with_next(json!({"subscriptions": subs}), next))
    }))
}

async fn get_subscription(
    State(e): State<Emulator>,
    Path((project, sub)): Path<(String, String)>,
) -> Response {
    respond(
        e.get_subscription(&sub_name(&project, &sub))
            .map(SubscriptionJson::from),
    )
}

async fn create_subscription(
    State(e): State<Emulator>,
    Path((project, sub)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    respond(body::<SubscriptionJson>(&bytes).and_then(|json| {
        let created = e.create_subscription(json.into_proto(sub_name(&project, &sub))?)?;
        Ok(SubscriptionJson::from(created))
    }))
}

async fn update_subscription(
    State(e): State<Emulator>,
    Path((project, sub)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    respond(body::<UpdateSubscriptionJson>(&bytes).and_then(|json| {
        let paths = mask_paths(&json.update_mask);
        let updated =
            e.update_subscription(json.subscription.into_proto(sub_name(&project, &sub))?, &paths)?;
        Ok(SubscriptionJson::from(updated))
    }))
}

async fn delete_subscription(
    State(e): State<Emulator>,
    Path((project, sub)): Path<(String, String)>,
) -> Response {
    respond(
        e.delete_subscription(&sub_name(&project, &sub))
            .map(|()| json!({})),
    )
}

async fn subscription_action(
    State(e): State<Emulator>,
    Path((project, sub)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    let Some((sub, action)) = sub.split_once(':') else {
        return not_found(&format!("/v1/{}", sub_name(&project, &sub)));
    };
    let name = sub_name(&project, sub);
    match action {
        "pull" => match body::<PullJson>(&bytes) {
            Ok(json) => respond(
                e.pull(&name, json.max_messages, json.return_immediately)
                    .await
                    .map(|received| {
                        let received: Vec<ReceivedJson> =
                            received.into_iter().map(ReceivedJson::from).collect();
                        json!({"receivedMessages": received})
                    }),
            ),
            Err(error) => error_response(&error),
        },
        "acknowledge" => respond(
            body::<AckJson>(&bytes)
                .and_then(|json| e.acknowledge(&name, &json.ack_ids))
                .map(|()| json!({})),
        ),
        "modifyAckDeadline" => respond(
            body::<ModAckJson>(&bytes)
                .and_then(|json| e.modify_ack_deadline(&name, &json.ack_ids, json.ack_deadline_seconds))
                .map(|()| json!({})),
        ),
        "modifyPushConfig" => respond(body::<ModifyPushJson>(&bytes).and_then(|json| {
            let push = json.push_config.map(|p| p.into_proto()).transpose()?;
            e.modify_push_config(&name, push)?;
            Ok(json!({}))
        })),
        "seek" => seek(&e, &name, &bytes),
        other => unsupported_action(&format!("/v1/{name}:{other}"), other),
    }
}

/// Google's methods this emulator leaves out answer `UNIMPLEMENTED`; anything else is unknown.
pub(super) fn unsupported_action(path: &str, action: &str) -> Response {
    match action {
        "detach" => unimplemented(
            "Detaching a subscription (subscriptions.detach) is not supported by this emulator: delete the subscription instead.",
        ),
        "getIamPolicy" | "setIamPolicy" | "testIamPermissions" => unimplemented(&format!(
            "IAM policies ({action}) are not supported by this emulator: it has no IAM."
        )),
        _ => not_found(path),
    }
}
