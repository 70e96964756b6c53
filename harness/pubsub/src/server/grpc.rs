//! `google.pubsub.v1` Publisher and Subscriber over gRPC, routed by hand on tonic's server API.
//!
//! No published crate ships Pub/Sub server stubs (they are generated with
//! `build_server(false)`), and generating them would need the `.proto` files at build time.
//! The message types come from `gcloud-googleapis` (prost 0.14 / tonic 0.14, the versions used
//! here); each method is one line of the `route!` table below, decoded and encoded by
//! [`tonic::server::Grpc`] exactly as generated code would.

use gcloud_googleapis::pubsub::v1::seek_request::Target;
use gcloud_googleapis::pubsub::v1::{
    AcknowledgeRequest, CreateSnapshotRequest, DeleteSnapshotRequest, DeleteSubscriptionRequest,
    DeleteTopicRequest, DetachSubscriptionRequest, GetSnapshotRequest, GetSubscriptionRequest,
    GetTopicRequest, ListSnapshotsRequest, ListSnapshotsResponse, ListSubscriptionsRequest,
    ListSubscriptionsResponse, ListTopicSnapshotsRequest, ListTopicSnapshotsResponse,
    ListTopicSubscriptionsRequest, ListTopicSubscriptionsResponse, ListTopicsRequest, ListTopicsResponse,
    ModifyAckDeadlineRequest, ModifyPushConfigRequest, PublishRequest, PublishResponse, PullRequest,
    PullResponse, SeekRequest, SeekResponse, Snapshot, StreamingPullRequest, Subscription, Topic,
    UpdateSnapshotRequest, UpdateSubscriptionRequest, UpdateTopicRequest,
};
use tonic::codec::CompressionEncoding;
use tonic::server::Grpc;
use tonic_prost::ProstCodec;

use super::{TRANSPORT_LIMIT, streaming};
use crate::broker::Page;
use crate::broker::limits::MAX_REQUEST_BYTES;
use crate::broker::snapshot::SeekTarget;
use crate::emulator::Emulator;
use crate::error::Error;

/// The gRPC path prefix of the Publisher service.
pub const PUBLISHER: &str = "/google.pubsub.v1.Publisher/";
/// The gRPC path prefix of the Subscriber service.
pub const SUBSCRIBER: &str = "/google.pubsub.v1.Subscriber/";

fn grpc<T: prost::Message + Send + 'static, U: prost::Message + Default + Send + 'static>()
-> Grpc<ProstCodec<T, U>> {
    Grpc::new(ProstCodec::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(TRANSPORT_LIMIT)
        .max_encoding_message_size(TRANSPORT_LIMIT)
}

/// tonic refuses a message over the decoding limit with `OUT_OF_RANGE`; Google answers a
/// request over its size limit with `INVALID_ARGUMENT`, so that is what clients get. No handler
/// here returns `OUT_OF_RANGE` itself.
fn over_limit_as_invalid(response: http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> {
    let out_of_range = response
        .headers()
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == b"11");
    if !out_of_range {
        return response;
    }
    Error::invalid(format!(
        "Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes (this request is even over the emulator's transport limit of {TRANSPORT_LIMIT} bytes)."
    ))
    .into_status()
    .into_http()
}

/// What a client gets for a method this emulator does not serve.
fn not_served(method: &str) -> tonic::Status {
    let what = if method.starts_with("/google.iam.v1.IAMPolicy/") {
        "IAM policies are not supported by this emulator (it has no IAM)"
    } else if method.starts_with("/google.pubsub.v1.SchemaService/") {
        "schemas are not supported by this emulator"
    } else {
        "this emulator serves google.pubsub.v1 Publisher and Subscriber only"
    };
    tonic::Status::unimplemented(format!("Method not found: {method}: {what}."))
}

fn seek_target(target: Option<&Target>) -> Result<SeekTarget<'_>, Error> {
    match target {
        Some(Target::Time(time)) => {
            let time = std::time::SystemTime::try_from(*time)
                .map_err(|_| Error::invalid(format!("Invalid seek time: {time}")))?;
            Ok(SeekTarget::Time(time))
        }
        Some(Target::Snapshot(name)) => Ok(SeekTarget::Snapshot(name)),
        None => Err(Error::invalid("A seek needs a time or a snapshot.")),
    }
}

/// Serves one gRPC request.
pub async fn serve(
    emulator: Emulator,
    req: http::Request<axum::body::Body>,
) -> http::Response<tonic::body::Body> {
    let method = req.uri().path().to_owned();
    macro_rules! route {
        ($($path:literal => |$e:ident, $m:ident: $req:ty| -> $resp:ty $body:block)*) => {
            match method.as_str() {
                $($path => {
                    let svc = tower::service_fn(move |request: tonic::Request<$req>| {
                        let $e = emulator.clone();
                        async move {
                            let $m = request.into_inner();
                            let result: Result<$resp, Error> = $body;
                            result.map(tonic::Response::new).map_err(tonic::Status::from)
                        }
                    });
                    over_limit_as_invalid(grpc::<$resp, $req>().unary(svc, req).await)
                })*
                "/google.pubsub.v1.Subscriber/StreamingPull" => {
                    let svc = tower::service_fn(move |request: tonic::Request<tonic::Streaming<StreamingPullRequest>>| {
                        streaming::start(emulator.clone(), request.into_inner())
                    });
                    grpc().streaming(svc, req).await
                }
                other => not_served(other).into_http(),
            }
        };
    }
    route! {
        "/google.pubsub.v1.Publisher/CreateTopic" => |e, m: Topic| -> Topic { e.create_topic(m) }
        "/google.pubsub.v1.Publisher/GetTopic" => |e, m: GetTopicRequest| -> Topic { e.get_topic(&m.topic) }
        "/google.pubsub.v1.Publisher/UpdateTopic" => |e, m: UpdateTopicRequest| -> Topic {
            let paths = m.update_mask.map(|mask| mask.paths).unwrap_or_default();
            e.update_topic(m.topic.unwrap_or_default(), &paths)
        }
        "/google.pubsub.v1.Publisher/ListTopics" => |e, m: ListTopicsRequest| -> ListTopicsResponse {
            let page = Page { size: m.page_size, token: &m.page_token };
            e.list_topics(&m.project, page).map(|(topics, next_page_token)| ListTopicsResponse { topics, next_page_token })
        }
        "/google.pubsub.v1.Publisher/ListTopicSubscriptions" => |e, m: ListTopicSubscriptionsRequest| -> ListTopicSubscriptionsResponse {
            let page = Page { size: m.page_size, token: &m.page_token };
            e.list_topic_subscriptions(&m.topic, page)
                .map(|(subscriptions, next_page_token)| ListTopicSubscriptionsResponse { subscriptions, next_page_token })
        }
        "/google.pubsub.v1.Publisher/ListTopicSnapshots" => |e, m: ListTopicSnapshotsRequest| -> ListTopicSnapshotsResponse {
            let page = Page { size: m.page_size, token: &m.page_token };
            e.list_topic_snapshots(&m.topic, page)
                .map(|(snapshots, next_page_token)| ListTopicSnapshotsResponse { snapshots, next_page_token })
        }
        "/google.pubsub.v1.Publisher/DetachSubscription" => |_e, _m: DetachSubscriptionRequest| -> () {
            Err(Error::Unimplemented("DetachSubscription is not supported by this emulator: delete the subscription instead.".into()))
        }
        "/google.pubsub.v1.Publisher/DeleteTopic" => |e, m: DeleteTopicRequest| -> () { e.delete_topic(&m.topic) }
        "/google.pubsub.v1.Publisher/Publish" => |e, m: PublishRequest| -> PublishResponse {
            e.publish(&m.topic, m.messages).map(|message_ids| PublishResponse { message_ids })
        }
        "/google.pubsub.v1.Subscriber/CreateSubscription" => |e, m: Subscription| -> Subscription { e.create_subscription(m) }
        "/google.pubsub.v1.Subscriber/GetSubscription" => |e, m: GetSubscriptionRequest| -> Subscription {
            e.get_subscription(&m.subscription)
        }
        "/google.pubsub.v1.Subscriber/UpdateSubscription" => |e, m: UpdateSubscriptionRequest| -> Subscription {
            let paths = m.update_mask.map(|mask| mask.paths).unwrap_or_default();
            e.update_subscription(m.subscription.unwrap_or_default(), &paths)
        }
        "/google.pubsub.v1.Subscriber/ListSubscriptions" => |e, m: ListSubscriptionsRequest| -> ListSubscriptionsResponse {
            let page = Page { size: m.page_size, token: &m.page_token };
            e.list_subscriptions(&m.project, page)
                .map(|(subscriptions, next_page_token)| ListSubscriptionsResponse { subscriptions, next_page_token })
        }
        "/google.pubsub.v1.Subscriber/DeleteSubscription" => |e, m: DeleteSubscriptionRequest| -> () {
            e.delete_subscription(&m.subscription)
        }
        "/google.pubsub.v1.Subscriber/ModifyPushConfig" => |e, m: ModifyPushConfigRequest| -> () {
            e.modify_push_config(&m.subscription, m.push_config)
        }
        "/google.pubsub.v1.Subscriber/Pull" => |e, m: PullRequest| -> PullResponse {
            #[allow(deprecated)]
            let immediately = m.return_immediately;
            e.pull(&m.subscription, m.max_messages, immediately).await.map(|received_messages| PullResponse { received_messages })
        }
        "/google.pubsub.v1.Subscriber/Acknowledge" => |e, m: AcknowledgeRequest| -> () { e.acknowledge(&m.subscription, &m.ack_ids) }
        "/google.pubsub.v1.Subscriber/ModifyAckDeadline" => |e, m: ModifyAckDeadlineRequest| -> () {
            e.modify_ack_deadline(&m.subscription, &m.ack_ids, m.ack_deadline_seconds)
        }
        "/google.pubsub.v1.Subscriber/CreateSnapshot" => |e, m: CreateSnapshotRequest| -> Snapshot {
            e.create_snapshot(&m.name, &m.subscription, m.labels)
        }
        "/google.pubsub.v1.Subscriber/GetSnapshot" => |e, m: GetSnapshotRequest| -> Snapshot { e.get_snapshot(&m.snapshot) }
        "/google.pubsub.v1.Subscriber/UpdateSnapshot" => |e, m: UpdateSnapshotRequest| -> Snapshot {
            let paths = m.update_mask.map(|mask| mask.paths).unwrap_or_default();
            e.update_snapshot(m.snapshot.unwrap_or_default(), &paths)
        }
        "/google.pubsub.v1.Subscriber/ListSnapshots" => |e, m: ListSnapshotsRequest| -> ListSnapshotsResponse {
            let page = Page { size: m.page_size, token: &m.page_token };
            e.list_snapshots(&m.project, page).map(|(snapshots, next_page_token)| ListSnapshotsResponse { snapshots, next_page_token })
        }
        "/google.pubsub.v1.Subscriber/DeleteSnapshot" => |e, m: DeleteSnapshotRequest| -> () { e.delete_snapshot(&m.snapshot) }
        "/google.pubsub.v1.Subscriber/Seek" => |e, m: SeekRequest| -> SeekResponse {
            e.seek(&m.subscription, seek_target(m.target.as_ref())?).map(|()| SeekResponse {})
        }
    }
}
