//! The two ways the embedded bridge forwards telemetry to Pub/Sub: into the embedded emulator
//! in-process, or to an emulator reached at `host:port` over gRPC (Google's emulator, or any
//! server speaking its API). Either resolves only once Pub/Sub has accepted the message, which
//! is when the device gets its PUBACK.

use fleetgate_bridge::Forwarder;
use fleetgate_bridge::forward::Outgoing;
use fleetgate_pubsub::Emulator;
use futures_util::future::BoxFuture;
use gcloud_googleapis::pubsub::v1::publisher_client::PublisherClient;
use gcloud_googleapis::pubsub::v1::subscriber_client::SubscriberClient;
use gcloud_googleapis::pubsub::v1::{
    DeleteSubscriptionRequest, ListTopicsRequest, PublishRequest, PubsubMessage, Subscription, Topic,
};
use tonic::transport::{Channel, Endpoint};

fn message(outgoing: Outgoing) -> PubsubMessage {
    PubsubMessage {
        data: outgoing.data.to_vec(),
        attributes: outgoing.attributes.into_iter().collect(),
        ..PubsubMessage::default()
    }
}

/// Publishes into the embedded emulator, in the same process.
#[derive(Clone, Debug)]
pub struct EmbeddedPubsub(pub Emulator);

impl Forwarder for EmbeddedPubsub {
    fn forward(&self, outgoing: Outgoing) -> BoxFuture<'static, Result<(), String>> {
        let topic = outgoing.topic.clone();
        let result = self
            .0
            .publish(&topic, vec![message(outgoing)])
            .map(|_| ())
            .map_err(|e| e.to_string());
        Box::pin(async move { result })
    }
}

/// Publishes to an emulator at `host:port` over gRPC.
#[derive(Clone, Debug)]
pub struct ExternalPubsub {
    client: PublisherClient<Channel>,
    subscriber: SubscriberClient<Channel>,
}

/// Why an external emulator could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Pub/Sub emulator at {address}: {source}")]
pub struct ConnectError {
    address: String,
    #[source]
    source: tonic::transport::Error,
}

impl ExternalPubsub {
    /// Connects to the emulator at `host:port`, as `PUBSUB_EMULATOR_HOST` names it.
    pub async fn connect(address: &str) -> Result<Self, ConnectError> {
        let error = |source| ConnectError {
            address: address.to_owned(),
            source,
        };
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .map_err(error)?
            .connect()
            .await
            .map_err(error)?;
        Ok(Self {
            client: PublisherClient::new(channel.clone()),
            subscriber: SubscriberClient::new(channel),
        })
    }

    /// Creates `topic` and `subscription` on it, unless they exist; with `fresh` an existing
    /// subscription is deleted first, so that nothing an earlier run left in it is counted.
    pub async fn ensure(&self, topic: &str, subscription: &str, fresh: bool) -> Result<(), String> {
        let exists = |status: tonic::Status| match status.code() {
            tonic::Code::AlreadyExists => Ok(()),
            code => Err(format!("{code:?}: {}", status.message())),
        };
        let topic_request = Topic {
            name: topic.to_owned(),
            ..Topic::default()
        };
        self.client
            .clone()
            .create_topic(topic_request)
            .await
            .map(|_| ())
            .or_else(exists)?;
        if fresh {
            let request = DeleteSubscriptionRequest {
                subscription: subscription.to_owned(),
            };
            match self.subscriber.clone().delete_subscription(request).await {
                Err(status) if status.code() != tonic::Code::NotFound => {
                    return Err(format!("{:?}: {}", status.code(), status.message()));
                }
                _ => {}
            }
        }
        let sub = Subscription {
            name: subscription.to_owned(),
            topic: topic.to_owned(),
            ..Subscription::default()
        };
        self.subscriber
            .clone()
            .create_subscription(sub)
            .await
            .map(|_| ())
            .or_else(exists)
    }

    /// Whether the emulator answers a call: listing the topics of `project`.
    pub async fn answers(&self, project: &str) -> Result<(), String> {
        let request = ListTopicsRequest {
            project: format!("projects/{project}"),
            ..ListTopicsRequest::default()
        };
        self.client
            .clone()
            .list_topics(request)
            .await
            .map(|_| ())
            .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
    }
}

impl Forwarder for ExternalPubsub {
    fn forward(&self, outgoing: Outgoing) -> BoxFuture<'static, Result<(), String>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let request = PublishRequest {
                topic: outgoing.topic.clone(),
                messages: vec![message(outgoing)],
            };
            client
                .publish(request)
                .await
                .map(|_| ())
                .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
        })
    }
}
