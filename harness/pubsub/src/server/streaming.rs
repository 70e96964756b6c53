//! `StreamingPull`: one task per stream leases messages to the stream (up to its
//! `max_outstanding_messages`), applies the acks and deadline changes the client sends on it
//! (confirming each id on the stream when the subscription has exactly-once delivery), and
//! ends when the client closes, the subscription is deleted or the emulator shuts down.

use std::time::Duration;

use gcloud_googleapis::pubsub::v1::streaming_pull_response::{
    AcknowledgeConfirmation, ModifyAckDeadlineConfirmation, SubscriptionProperties,
};
use gcloud_googleapis::pubsub::v1::{StreamingPullRequest, StreamingPullResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status, Streaming};

use crate::emulator::{Emulator, sleep_or_forever};
use crate::error::Error;

/// Messages per response when the client sets no outstanding limit.
const DEFAULT_OUTSTANDING: i64 = 1000;

type ResponseStream = ReceiverStream<Result<StreamingPullResponse, Status>>;

/// Checks the first request and starts the stream's task.
pub async fn start(
    emulator: Emulator,
    mut inbound: Streaming<StreamingPullRequest>,
) -> Result<Response<ResponseStream>, Status> {
    let first = inbound
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("the stream ended before its first request"))?;
    let sub = emulator.get_subscription(&first.subscription)?;
    let deadline = stream_deadline(first.stream_ack_deadline_seconds)?;
    let limit = if first.max_outstanding_messages > 0 {
        first.max_outstanding_messages
    } else {
        DEFAULT_OUTSTANDING
    };
    let properties = SubscriptionProperties {
        exactly_once_delivery_enabled: sub.enable_exactly_once_delivery,
        message_ordering_enabled: sub.enable_message_ordering,
    };
    let stream = Stream {
        owner: emulator.new_owner(),
        emulator,
        subscription: first.subscription.clone(),
        deadline,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        properties,
    };
    let confirmation = stream.apply(&first)?;
    let (tx, rx) = mpsc::channel(4);
    if let Some(confirmation) = confirmation {
        let _ = tx.try_send(Ok(confirmation));
    }
    tokio::spawn(stream.run(inbound, tx));
    Ok(Response::new(ReceiverStream::new(rx)))
}

struct Stream {
    emulator: Emulator,
    subscription: String,
    owner: u64,
    deadline: Duration,
    limit: usize,
    properties: SubscriptionProperties,
}

impl Stream {
    async fn run(
        mut self,
        mut inbound: Streaming<StreamingPullRequest>,
        tx: mpsc::Sender<Result<StreamingPullResponse, Status>>,
    ) {
        loop {
            let room = self.limit.saturating_sub(self.outstanding());
            tokio::select! {
                request = inbound.message() => match request {
                    Ok(Some(request)) => {
                        let reply = self.update(&request).transpose();
                        let failed = matches!(reply, Some(Err(_)));
                        if let Some(reply) = reply
                            && (tx.send(reply).await.is_err() || failed)
                        {
                            break;
                        }
                    }
                    Ok(None) | Err(_) => break,
                },
                leased = self.emulator.lease(&self.subscription, room, Some(self.deadline), self.owner), if room > 0 => {
                    let response = match leased {
                        Ok(received_messages) if received_messages.is_empty() => break,
                        Ok(received_messages) => Ok(StreamingPullResponse {
                            received_messages,
                            subscription_properties: Some(self.properties),
                            ..StreamingPullResponse::default()
                        }),
                        Err(error) => Err(Status::from(error)),
                    };
                    let failed = response.is_err();
                    if tx.send(response).await.is_err() || failed {
                        break;
                    }
                }
                () = self.capacity_freed(), if room == 0 => {}
                () = tx.closed() => break,
            }
        }
    }

    /// Leases held by this stream, after expiring the subscription's overdue leases.
    fn outstanding(&self) -> usize {
        let now = self.emulator.now();
        let mut broker = self.emulator.broker();
        if broker.tick(&self.subscription, now).is_err() {
            return 0;
        }
        broker
            .subscription(&self.subscription)
            .map_or(0, |s| s.queue.outstanding(self.owner))
    }

    /// Waits until an ack, a nack or an expired lease may have freed room on this stream.
    async fn capacity_freed(&self) {
        let (wake, next) = {
            let broker = self.emulator.broker();
            let Ok(sub) = broker.subscription(&self.subscription) else {
                return;
            };
            (sub.wake.clone(), sub.queue.next_event())
        };
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.outstanding() < self.limit {
            return;
        }
        let pause = next.map(|t| t.duration_since(self.emulator.now()).unwrap_or_default());
        tokio::select! {
            () = notified => {}
            () = sleep_or_forever(pause) => {}
        }
    }

    fn update(&mut self, request: &StreamingPullRequest) -> Result<Option<StreamingPullResponse>, Status> {
        if request.stream_ack_deadline_seconds != 0 {
            self.deadline = stream_deadline(request.stream_ack_deadline_seconds)?;
        }
        if request.max_outstanding_messages > 0 {
            self.limit = usize::try_from(request.max_outstanding_messages).unwrap_or(usize::MAX);
        }
        self.apply(request)
    }

    /// Applies the acks and deadline modifications carried by a request. With exactly-once
    /// delivery, returns the confirmations to send: which ids took effect and which did not.
    fn apply(&self, request: &StreamingPullRequest) -> Result<Option<StreamingPullResponse>, Status> {
        if request.modify_deadline_seconds.len() != request.modify_deadline_ack_ids.len() {
            return Err(Error::invalid(format!(
                "modify_deadline_seconds has {} entries but modify_deadline_ack_ids has {}",
                request.modify_deadline_seconds.len(),
                request.modify_deadline_ack_ids.len()
            ))
            .into());
        }
        let mut acks = AcknowledgeConfirmation::default();
        if !request.ack_ids.is_empty() {
            let results = self
                .emulator
                .acknowledge_each(&self.subscription, &request.ack_ids)?;
            acks.ack_ids = results.applied;
            acks.invalid_ack_ids = results.failed.into_keys().collect();
        }
        let mut modacks = ModifyAckDeadlineConfirmation::default();
        for (seconds, id) in request
            .modify_deadline_seconds
            .iter()
            .zip(&request.modify_deadline_ack_ids)
        {
            let results = self.emulator.modify_ack_deadline_each(
                &self.subscription,
                std::slice::from_ref(id),
                *seconds,
            )?;
            modacks.ack_ids.extend(results.applied);
            modacks.invalid_ack_ids.extend(results.failed.into_keys());
        }
        let nothing = request.ack_ids.is_empty() && request.modify_deadline_ack_ids.is_empty();
        if !self.properties.exactly_once_delivery_enabled || nothing {
            return Ok(None);
        }
        Ok(Some(StreamingPullResponse {
            acknowledge_confirmation: Some(acks),
            modify_ack_deadline_confirmation: Some(modacks),
            ..StreamingPullResponse::default()
        }))
    }
}

fn stream_deadline(seconds: i32) -> Result<Duration, Status> {
    match u64::try_from(seconds) {
        Ok(secs @ 10..=600) => Ok(Duration::from_secs(secs)),
        _ => Err(Error::invalid(format!(
            "Invalid stream_ack_deadline_seconds: {seconds} (must be between 10 and 600)"
        ))
        .into()),
    }
}
