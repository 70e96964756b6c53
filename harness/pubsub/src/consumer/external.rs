//! Consuming from an emulator over gRPC streaming pull; acks travel back on the same stream.

use std::time::SystemTime;

use gcloud_googleapis::pubsub::v1::StreamingPullRequest;
use gcloud_googleapis::pubsub::v1::subscriber_client::SubscriberClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::{ConsumerError, Delivery, DeliveryObserver};

pub(super) async fn run<O: DeliveryObserver>(
    endpoint: String,
    subscription: String,
    mut observer: O,
    stop: CancellationToken,
) -> Result<O, ConsumerError> {
    let connect = |source| ConsumerError::Connect {
        endpoint: endpoint.clone(),
        source,
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{endpoint}"))
        .map_err(connect)?
        .connect()
        .await
        .map_err(connect)?;
    let mut client = SubscriberClient::new(channel);
    let (requests, outbound) = mpsc::channel(16);
    let first = StreamingPullRequest {
        subscription,
        stream_ack_deadline_seconds: 60,
        max_outstanding_messages: 1000,
        ..StreamingPullRequest::default()
    };
    let failed = |status| ConsumerError::Stream {
        endpoint: endpoint.clone(),
        status,
    };
    requests
        .send(first)
        .await
        .map_err(|_| failed(tonic::Status::cancelled("request stream closed")))?;
    let mut inbound = client
        .streaming_pull(ReceiverStream::new(outbound))
        .await
        .map_err(failed)?
        .into_inner();
    loop {
        let response = tokio::select! {
            () = stop.cancelled() => return Ok(observer),
            response = inbound.message() => response.map_err(failed)?,
        };
        let Some(response) = response else {
            return Ok(observer);
        };
        let now = SystemTime::now();
        let ack_ids = response
            .received_messages
            .iter()
            .map(|r| r.ack_id.clone())
            .collect();
        for received in response.received_messages {
            observer.observe(&Delivery::new(received, now));
        }
        let ack = StreamingPullRequest {
            ack_ids,
            ..StreamingPullRequest::default()
        };
        if requests.send(ack).await.is_err() {
            return Ok(observer);
        }
    }
}
