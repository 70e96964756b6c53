//! The push driver of one subscription: leases messages, sends them concurrently with a
//! timeout equal to the ack deadline, acks on 102/200/201/202/204 and nacks otherwise, and
//! pauses new pushes by the subscription-wide backoff after a failure.

use gcloud_googleapis::pubsub::v1::push_config::AuthenticationMethod;
use gcloud_googleapis::pubsub::v1::{PushConfig, ReceivedMessage};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::PushBackoff;
use super::request::{PushRequest, is_ack_status};
use crate::emulator::{Emulator, ack_deadline};

/// The driver of one push subscription.
pub(crate) struct Driver {
    emulator: Emulator,
    subscription: String,
    config: PushConfig,
    cancel: CancellationToken,
    owner: u64,
}

/// How one push ended.
struct Outcome {
    ack_id: String,
    acked: bool,
}

impl Driver {
    pub(crate) fn new(
        emulator: Emulator,
        subscription: String,
        config: PushConfig,
        cancel: CancellationToken,
    ) -> Self {
        let owner = emulator.new_owner();
        Self {
            emulator,
            subscription,
            config,
            cancel,
            owner,
        }
    }

    /// Runs until cancelled or the subscription is deleted.
    pub(crate) async fn run(self) {
        let concurrency = self.emulator.config().push_concurrency.max(1);
        let mut in_flight: JoinSet<Outcome> = JoinSet::new();
        let mut backoff = PushBackoff::default();
        let mut paused_until: Option<Instant> = None;
        loop {
            let capacity = concurrency.saturating_sub(in_flight.len());
            let paused = paused_until.is_some();
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let Ok(outcome) = done else { continue };
                    if self.settle(outcome, &mut backoff).is_err() {
                        break;
                    }
                    if let Some(pause) = backoff.current() {
                        paused_until = Some(Instant::now() + pause);
                    }
                }
                () = tokio::time::sleep_until(paused_until.unwrap_or_else(Instant::now)), if paused => {
                    paused_until = None;
                }
                leased = self.emulator.lease(&self.subscription, capacity, None, self.owner), if capacity > 0 && !paused => {
                    let Ok(messages) = leased else { break };
                    let timeout = self.emulator.get_subscription(&self.subscription).map(|s| ack_deadline(&s));
                    let Ok(timeout) = timeout else { break };
                    for received in messages {
                        in_flight.spawn(self.send(received, timeout));
                    }
                }
            }
        }
        in_flight.abort_all();
    }

    fn settle(&self, outcome: Outcome, backoff: &mut PushBackoff) -> Result<(), crate::Error> {
        let ids = [outcome.ack_id];
        if outcome.acked {
            backoff.success();
            self.emulator.acknowledge(&self.subscription, &ids)
        } else {
            backoff.failure();
            self.emulator.modify_ack_deadline(&self.subscription, &ids, 0)
        }
    }

    fn send(
        &self,
        received: ReceivedMessage,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Outcome> + use<> {
        let request = PushRequest::build(&self.subscription, &self.config, &received);
        let token = self.token();
        let mut builder = self
            .emulator
            .http()
            .post(&self.config.push_endpoint)
            .timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let ack_id = received.ack_id;
        async move {
            let acked = match token {
                Ok(token) => {
                    if let Some(token) = token {
                        builder = builder.bearer_auth(token);
                    }
                    match builder.body(request.body).send().await {
                        Ok(response) => is_ack_status(response.status().as_u16()),
                        Err(_) => false,
                    }
                }
                Err(()) => false,
            };
            Outcome { ack_id, acked }
        }
    }

    /// The bearer token for the next push: `None` without `oidcToken`; `Err` when one is
    /// configured but cannot be minted (the push then counts as failed).
    fn token(&self) -> Result<Option<String>, ()> {
        let Some(AuthenticationMethod::OidcToken(oidc)) = &self.config.authentication_method else {
            return Ok(None);
        };
        let audience = if oidc.audience.is_empty() {
            &self.config.push_endpoint
        } else {
            &oidc.audience
        };
        let source = self.emulator.config().token_source.as_ref().ok_or(())?;
        source
            .token(audience, &oidc.service_account_email)
            .map(Some)
            .map_err(drop)
    }
}
