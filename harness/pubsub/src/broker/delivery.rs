//! Delivery on a subscription: pulls lease messages, acknowledgements and deadline changes
//! end leases (with a result per ack id under exactly-once delivery), expired leases and
//! backoffs are applied on the clock, and messages out of attempts go to the dead-letter topic.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use gcloud_googleapis::pubsub::v1::{PubsubMessage, ReceivedMessage};

use super::queue::{AckId, DeadLettered, Queue};
use super::{Broker, ack_deadline, config, limits};
use crate::error::{AckFailure, Error};
use crate::names;

/// What became of each ack id of one acknowledge or deadline request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckResults {
    /// Ids that took effect.
    pub applied: Vec<String>,
    /// Ids that did not, and why.
    pub failed: BTreeMap<String, AckFailure>,
    /// Valid ids not applied because others in the same request failed.
    pub withheld: Vec<String>,
    /// Whether the subscription has exactly-once delivery: then failures are errors.
    pub exactly_once: bool,
}

/// How a request with some failing ids is applied under exactly-once delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply {
    /// Every valid id takes effect; each gets its own confirmation (streaming pull).
    EachId,
    /// All or nothing: if some ids fail, the valid ones are withheld (unary RPCs, whose error
    /// can only name the failed ids).
    AllOrNothing,
}

impl AckResults {
    fn new(exactly_once: bool) -> Self {
        Self {
            exactly_once,
            ..Self::default()
        }
    }

    /// Records what became of `id`; only exactly-once delivery reports it, so only then.
    fn record(&mut self, id: &str, outcome: Result<(), AckFailure>) {
        if !self.exactly_once {
            return;
        }
        match outcome {
            Ok(()) => self.applied.push(id.to_owned()),
            Err(failure) => {
                self.failed.insert(id.to_owned(), failure);
            }
        }
    }

    /// `Ok` unless the subscription has exactly-once delivery and some id failed: then
    /// [`Error::AckIds`], as Google answers, or [`Error::AckIdsWithheld`] when valid ids were
    /// held back.
    pub fn into_result(self) -> Result<(), Error> {
        match (self.exactly_once && !self.failed.is_empty(), self.withheld.len()) {
            (false, _) => Ok(()),
            (true, 0) => Err(Error::AckIds(self.failed)),
            (true, withheld) => Err(Error::AckIdsWithheld(self.failed, withheld)),
        }
    }

    /// Under [`Apply::AllOrNothing`], the results of a request of which some ids would fail and
    /// others would not: nothing is applied. `None` when the request can be applied as it is.
    fn withheld(queue: &Queue, ids: &[(&str, Option<AckId>)], now: SystemTime) -> Option<Self> {
        let mut results = Self::new(true);
        for (text, id) in ids {
            match id.ok_or(AckFailure::Invalid).and_then(|id| queue.check(id, now)) {
                Ok(()) => results.withheld.push((*text).to_owned()),
                Err(failure) => {
                    results.failed.insert((*text).to_owned(), failure);
                }
            }
        }
        (!results.failed.is_empty() && !results.withheld.is_empty()).then_some(results)
    }
}

impl Broker {
    /// Leases up to `max` messages of a subscription to `owner`, with the subscription's ack
    /// deadline unless `deadline` is given.
    pub fn pull(
        &mut self,
        name: &str,
        max: usize,
        deadline: Option<Duration>,
        owner: u64,
        now: SystemTime,
    ) -> Result<Vec<ReceivedMessage>, Error> {
        let state = self.subscription_mut(name)?;
        let deadline = deadline.unwrap_or_else(|| ack_deadline(&state.config));
        let with_attempts = state.config.dead_letter_policy.is_some();
        let (delivered, dead) = state.queue.pull(now, max, deadline, owner);
        self.dead_letter(name, dead, now);
        Ok(delivered
            .into_iter()
            .map(|d| ReceivedMessage {
                ack_id: d.ack_id,
                message: Some(PubsubMessage::clone(&d.message)),
                delivery_attempt: if with_attempts {
                    i32::try_from(d.attempt).unwrap_or(i32::MAX)
                } else {
                    0
                },
            })
            .collect())
    }

    /// Acknowledges messages of a subscription and says what became of each id. Without
    /// exactly-once delivery, ids of past deliveries are ignored, as Google does, and ids not
    /// made by this emulator are `INVALID_ARGUMENT`; with it, each failure is reported.
    pub fn acknowledge(
        &mut self,
        name: &str,
        ack_ids: &[String],
        apply: Apply,
        now: SystemTime,
    ) -> Result<AckResults, Error> {
        let state = self.subscription_mut(name)?;
        let mut results = AckResults::new(state.queue.rules().exactly_once);
        let ids = parse_ack_ids(ack_ids, results.exactly_once)?;
        if results.exactly_once
            && apply == Apply::AllOrNothing
            && let Some(withheld) = AckResults::withheld(&state.queue, &ids, now)
        {
            return Ok(withheld);
        }
        for (text, id) in ids {
            results.record(
                text,
                id.ok_or(AckFailure::Invalid)
                    .and_then(|id| state.queue.ack(id, now)),
            );
        }
        state.wake.notify_waiters();
        Ok(results)
    }

    /// Sets the ack deadline of leased messages to `seconds` from `now` (0 = nack), and says
    /// what became of each id (as [`Broker::acknowledge`]).
    pub fn modify_ack_deadline(
        &mut self,
        name: &str,
        ack_ids: &[String],
        seconds: i32,
        apply: Apply,
        now: SystemTime,
    ) -> Result<AckResults, Error> {
        let max = config::ACK_DEADLINE_SECONDS.2;
        let deadline = u64::try_from(seconds)
            .ok()
            .filter(|_| seconds <= max)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Invalid ack_deadline_seconds: {seconds} (must be between 0 and {max})"
                ))
            })?;
        let state = self.subscription_mut(name)?;
        let mut results = AckResults::new(state.queue.rules().exactly_once);
        let ids = parse_ack_ids(ack_ids, results.exactly_once)?;
        if results.exactly_once
            && apply == Apply::AllOrNothing
            && let Some(withheld) = AckResults::withheld(&state.queue, &ids, now)
        {
            return Ok(withheld);
        }
        let mut dead = Vec::new();
        for (text, id) in ids {
            let outcome = id
                .ok_or(AckFailure::Invalid)
                .and_then(|id| state.queue.modify_deadline(id, now, deadline));
            results.record(text, outcome.map(|d| dead.extend(d)));
        }
        state.wake.notify_waiters();
        self.dead_letter(name, dead, now);
        Ok(results)
    }

    /// When the next lease or backoff of a subscription ends, if any.
    pub fn next_event(&self, name: &str) -> Result<Option<SystemTime>, Error> {
        Ok(self.subscription(name)?.queue.next_event())
    }

    /// Expires leases and backoffs of a subscription due at `now`; returns when the next one
    /// is due.
    pub fn tick(&mut self, name: &str, now: SystemTime) -> Result<Option<SystemTime>, Error> {
        let state = self.subscription_mut(name)?;
        let dead = state.queue.tick(now);
        let next = state.queue.next_event();
        self.dead_letter(name, dead, now);
        Ok(next)
    }

    /// Forwards dead-lettered messages to the subscription's dead-letter topic, with the
    /// attributes Google adds.
    fn dead_letter(&mut self, name: &str, dead: Vec<DeadLettered>, now: SystemTime) {
        if dead.is_empty() {
            return;
        }
        let Some(topic) = self
            .subscriptions
            .get(name)
            .and_then(|s| s.config.dead_letter_policy.as_ref())
            .map(|p| p.dead_letter_topic.clone())
        else {
            return;
        };
        if !self.topics.contains_key(&topic) {
            return;
        }
        let messages: Vec<PubsubMessage> = dead
            .into_iter()
            .map(|d| {
                let mut message = PubsubMessage::clone(&d.message);
                let source_time = message
                    .publish_time
                    .take()
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                message.message_id.clear();
                let attributes = [
                    ("CloudPubSubDeadLetterSourceDeliveryCount", d.attempts.to_string()),
                    (
                        "CloudPubSubDeadLetterSourceSubscription",
                        names::id_of(name).to_owned(),
                    ),
                    (
                        "CloudPubSubDeadLetterSourceSubscriptionProject",
                        names::project_of(name).to_owned(),
                    ),
                    ("CloudPubSubDeadLetterSourceTopicPublishTime", source_time),
                ];
                message
                    .attributes
                    .extend(attributes.map(|(k, v)| (k.to_owned(), v)));
                message
            })
            .collect();
        let sizes = messages.iter().map(limits::message_size).collect();
        self.store(&topic, messages, sizes, now);
    }
}

/// Parses ack ids; an id not of this emulator's form is `INVALID_ARGUMENT` for the whole
/// request, or (with exactly-once delivery) `None`, reported per id.
fn parse_ack_ids(ack_ids: &[String], per_id: bool) -> Result<Vec<(&str, Option<AckId>)>, Error> {
    ack_ids
        .iter()
        .map(|text| match AckId::parse(text) {
            Some(id) => Ok((text.as_str(), Some(id))),
            None if per_id => Ok((text.as_str(), None)),
            None => Err(Error::invalid(format!(
                "You have passed an invalid ack ID to the service (ack_id={text})."
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use gcloud_googleapis::pubsub::v1::{Subscription, Topic};

    use super::*;

    const SUB: &str = "projects/p/subscriptions/eod";

    fn exactly_once_broker() -> Broker {
        let mut broker = Broker::default();
        let topic = Topic {
            name: "projects/p/topics/orders".into(),
            ..Topic::default()
        };
        broker.create_topic(topic).unwrap();
        let sub = Subscription {
            name: SUB.into(),
            topic: "projects/p/topics/orders".into(),
            enable_exactly_once_delivery: true,
            ..Subscription::default()
        };
        broker.create_subscription(sub).unwrap();
        broker
    }

    #[test]
    fn a_unary_request_with_some_failing_ids_applies_none_and_names_the_failures() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let mut broker = exactly_once_broker();
        let message = PubsubMessage {
            data: b"x".to_vec(),
            ..PubsubMessage::default()
        };
        broker
            .publish("projects/p/topics/orders", vec![message], now)
            .unwrap();
        let leased = broker.pull(SUB, 1, None, 0, now).unwrap();
        let ids = vec![leased[0].ack_id.clone(), "bogus".to_owned()];
        let results = broker.acknowledge(SUB, &ids, Apply::AllOrNothing, now).unwrap();
        let err = results.into_result().unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::Aborted,
            "transient, so clients resend the rest"
        );
        assert_eq!(
            err.ack_id_metadata().unwrap().keys().copied().collect::<Vec<_>>(),
            ["bogus"]
        );
        assert_eq!(
            broker.subscription(SUB).unwrap().queue.len(),
            1,
            "nothing applied"
        );
        let alone = broker
            .acknowledge(SUB, &ids[..1], Apply::AllOrNothing, now)
            .unwrap();
        assert_eq!(alone.into_result(), Ok(()));
        assert!(broker.subscription(SUB).unwrap().queue.is_empty());
        let again = broker.acknowledge(SUB, &ids[..1], Apply::EachId, now).unwrap();
        assert_eq!(again.failed.get(&ids[0]), Some(&AckFailure::Invalid));
        assert_eq!(
            again.into_result().unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
