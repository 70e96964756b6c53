//! `google.pubsub.v1` Publisher and Subscriber over gRPC, routed by hand on tonic's server API.
//!
//! No published crate ships Pub/Sub server stubs (they are generated with
//! `build_server(false)`), and generating them would need the `.proto` files at build time.
//! The message types come from `gcloud-googleapis` (prost 0.14 / tonic 0.14, the versions used
//! here); each method is one line of the `route!` table below, decoded and encoded by
//! [`tonic::server::Grpc`] exactly as generated code would.

use gcloud_googleapis::pubsub::v1::{
    AcknowledgeRequest, DeleteSubscriptionRequest, DeleteTopicRequest, DetachSubscriptionRequest,
    GetSubscriptionRequest, GetTopicRequest, ListSubscriptionsRequest, ListSubscriptionsResponse,
    ListTopicSnapshotsRequest, ListTopicSubscriptionsRequest, ListTopicSubscriptionsResponse,
    ListTopicsRequest, ListTopicsResponse, ModifyAckDeadlineRequest, ModifyPushConfigRequest, PublishRequest,
    PublishResponse, PullRequest, PullResponse, StreamingPullRequest, Subscription, Topic,
    UpdateSubscriptionRequest, UpdateTopicRequest,
};
use tonic::codec::CompressionEncoding;
use tonic::server::Grpc;
use tonic_prost::ProstCodec;

use super::streaming;
use crate::broker::Page;
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
                    grpc::<$resp, $req>().unary(svc, req).await
                })*
                "/google.pubsub.v1.Subscriber/StreamingPull" => {
                    let svc = tower::service_fn(move |request: tonic::Request<tonic::Streaming<StreamingPullRequest>>| {
                        streaming::start(emulator.clone(), request.into_inner())
                    });
                    grpc().streaming(svc, req).await
                }
                other => tonic::Status::unimplemented(format!("Method not found: {other}")).into_http(),
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
        "/google.pubsub.v1.Publisher/ListTopicSnapshots" => |_e, _m: ListTopicSnapshotsRequest| -> () {
            Err(Error::Unimplemented("snapshots are not supported by this emulator".into()))
        }
        "/google.pubsub.v1.Publisher/DetachSubscription" => |_e, _m: DetachSubscriptionRequest| -> () {
            Err(Error::Unimplemented("detaching subscriptions is not supported by this emulator".into()))
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
    }
}
