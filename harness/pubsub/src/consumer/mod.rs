//! The harness's consumer: one interface to observe deliveries from the embedded emulator
//! (in-process) or from any external emulator (gRPC streaming pull), acking everything it sees.
//! Observers get each [`Delivery`]; [`LatencyRecorder`] turns the payload's own timestamp into
//! the `pipeline.pubsub` latency.
//!
//! - [`latency`]: [`LatencyRecorder`], counting deliveries and recording latency in µs.
//! - `external`: the streaming-pull loop against an emulator at `host:port`.

mod external;
pub mod latency;

use std::collections::HashMap;
use std::time::SystemTime;

use gcloud_googleapis::pubsub::v1::ReceivedMessage;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::emulator::Emulator;
pub use latency::LatencyRecorder;

/// One message as the consumer received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message id.
    pub message_id: String,
    /// The payload.
    pub data: Vec<u8>,
    /// The attributes.
    pub attributes: HashMap<String, String>,
    /// When Pub/Sub accepted it.
    pub publish_time: Option<SystemTime>,
    /// The delivery attempt (0 when the subscription has no dead-letter policy).
    pub delivery_attempt: i32,
    /// When the consumer received it.
    pub received_at: SystemTime,
}

impl Delivery {
    fn new(received: ReceivedMessage, received_at: SystemTime) -> Self {
        let message = received.message.unwrap_or_default();
        Self {
            message_id: message.message_id,
            data: message.data,
            attributes: message.attributes,
            publish_time: message.publish_time.and_then(|t| SystemTime::try_from(t).ok()),
            delivery_attempt: received.delivery_attempt,
            received_at,
        }
    }
}

/// Sees every delivery of a [`Consumer`].
pub trait DeliveryObserver: Send + 'static {
    /// Called once per delivered message, before it is acked.
    fn observe(&mut self, delivery: &Delivery);
}

/// Where a consumer reads from.
#[derive(Clone, Debug)]
pub enum Source {
    /// The embedded emulator, in-process.
    Embedded(Emulator),
    /// An emulator reached over gRPC at `host:port` (the `PUBSUB_EMULATOR_HOST` form).
    External(String),
}

/// Why a consumer stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The external emulator could not be reached.
    #[error("cannot connect to the Pub/Sub emulator at {endpoint}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The external emulator refused the stream or ended it with an error.
    #[error("streaming pull from {endpoint} failed: {status}")]
    Stream {
        /// The endpoint.
        endpoint: String,
        /// The gRPC status.
        status: tonic::Status,
    },
    /// The embedded emulator refused a pull or an ack.
    #[error(transparent)]
    Embedded(#[from] crate::Error),
    /// The consumer task panicked or was aborted.
    #[error("the consumer task ended abnormally: {0}")]
    Task(String),
}

/// A running consumer of one subscription.
#[derive(Debug)]
pub struct Consumer<O> {
    stop: CancellationToken,
    task: JoinHandle<Result<O, ConsumerError>>,
}

impl<O: DeliveryObserver> Consumer<O> {
    /// Starts consuming `subscription` (`projects/{p}/subscriptions/{s}`) from `source`.
    pub fn start(source: Source, subscription: String, observer: O) -> Self {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = match source {
            Source::Embedded(emulator) => tokio::spawn(embedded(emulator, subscription, observer, token)),
            Source::External(endpoint) => {
                tokio::spawn(external::run(endpoint, subscription, observer, token))
            }
        };
        Self { stop, task }
    }

    /// Stops consuming and returns the observer.
    pub async fn stop(self) -> Result<O, ConsumerError> {
        self.stop.cancel();
        self.task.await.map_err(|e| ConsumerError::Task(e.to_string()))?
    }
}

async fn embedded<O: DeliveryObserver>(
    emulator: Emulator,
    subscription: String,
    mut observer: O,
    stop: CancellationToken,
) -> Result<O, ConsumerError> {
    let owner = emulator.new_owner();
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return Ok(observer),
            received = emulator.lease(&subscription, 1000, None, owner) => received?,
        };
        if received.is_empty() {
            return Ok(observer);
        }
        let now = emulator.now();
        let ack_ids: Vec<String> = received.iter().map(|r| r.ack_id.clone()).collect();
        for message in received {
            observer.observe(&Delivery::new(message, now));
        }
        emulator.acknowledge(&subscription, &ack_ids)?;
    }
}
