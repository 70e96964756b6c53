//! The emulator's whole state as a plain struct: topics, subscriptions and their queues. Every
//! method takes the current time and returns results; nothing here does I/O or waits, so the
//! rules are tested without sockets. [`crate::Emulator`] wraps it for concurrent use.
//!
//! - [`config`]: defaults and bounds of topic and subscription settings.
//! - [`queue`]: the delivery state of one subscription.
//! - [`update`]: field-mask updates of topics and subscriptions.

pub mod config;
pub mod queue;
pub mod update;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gcloud_googleapis::pubsub::v1::{PubsubMessage, ReceivedMessage, Subscription, Topic};
use tokio::sync::Notify;

use crate::error::Error;
use crate::names::{self, Kind};
use queue::{AckId, DeadLettered, Queue};

/// The topic name Google gives the subscriptions of a deleted topic.
pub const DELETED_TOPIC: &str = "_deleted-topic_";

/// A subscription: its settings, its queue and the signal its consumers wait on.
#[derive(Debug)]
pub struct SubscriptionState {
    /// The checked settings.
    pub config: Subscription,
    /// The delivery state.
    pub queue: Queue,
    /// Notified whenever messages may have become available.
    pub wake: Arc<Notify>,
}

/// Topics and subscriptions.
#[derive(Debug, Default)]
pub struct Broker {
    topics: BTreeMap<String, Topic>,
    subscriptions: BTreeMap<String, SubscriptionState>,
    by_topic: HashMap<String, Vec<String>>,
    next_message_id: u64,
}

impl Broker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a topic.
    pub fn create_topic(&mut self, topic: Topic) -> Result<Topic, Error> {
        let topic = config::topic(topic)?;
        if self.topics.contains_key(&topic.name) {
            return Err(Error::AlreadyExists(topic.name));
        }
        self.topics.insert(topic.name.clone(), topic.clone());
        Ok(topic)
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Result<&Topic, Error> {
        names::check(Kind::Topic, name)?;
        self.topics
            .get(name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Replaces a topic (after an update).
    pub fn replace_topic(&mut self, topic: Topic) -> Result<Topic, Error> {
        let topic = config::topic(topic)?;
        let slot = self
            .topics
            .get_mut(&topic.name)
            .ok_or_else(|| Error::NotFound(topic.name.clone()))?;
        *slot = topic.clone();
        Ok(topic)
    }

    /// Topics of `project`, in name order, one page after `page_token`.
    pub fn list_topics(&self, project: &str, page: Page<'_>) -> Result<(Vec<Topic>, String), Error> {
        names::check_project(project)?;
        let prefix = format!("{project}/topics/");
        let items = self.topics.iter().filter(|(name, _)| name.starts_with(&prefix));
        Ok(page.take(items.map(|(name, topic)| (name.as_str(), topic.clone()))))
    }

    /// Deletes a topic; its subscriptions stay, attached to [`DELETED_TOPIC`].
    pub fn delete_topic(&mut self, name: &str) -> Result<(), Error> {
        names::check(Kind::Topic, name)?;
        self.topics
            .remove(name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        for sub in self.by_topic.remove(name).unwrap_or_default() {
            if let Some(state) = self.subscriptions.get_mut(&sub) {
                state.config.topic = DELETED_TOPIC.to_owned();
            }
        }
        Ok(())
    }

    /// Names of the subscriptions attached to a topic.
    pub fn topic_subscriptions(&self, topic: &str, page: Page<'_>) -> Result<(Vec<String>, String), Error> {
        self.topic(topic)?;
        let mut subs: Vec<&String> = self
            .by_topic
            .get(topic)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        subs.sort();
        Ok(page.take(subs.into_iter().map(|name| (name.as_str(), name.clone()))))
    }

    /// Publishes messages to a topic; returns their message ids, in order. Each message gets
    /// an id and the publish time `now`, and is stored in every subscription of the topic.
    pub fn publish(
        &mut self,
        topic: &str,
        messages: Vec<PubsubMessage>,
        now: SystemTime,
    ) -> Result<Vec<String>, Error> {
        self.topic(topic)?;
        if messages.is_empty() {
            return Err(Error::invalid(
                "The value for message_count is too small. You passed 0 in the request, but the minimum value is 1.",
            ));
        }
        if messages
            .iter()
            .any(|m| m.data.is_empty() && m.attributes.is_empty())
        {
            return Err(Error::invalid(
                "Some messages contain no data and no attributes: a message needs at least one of them.",
            ));
        }
        if messages.iter().any(|m| m.attributes.keys().any(String::is_empty)) {
            return Err(Error::invalid(
                "Some messages have an attribute with an empty key.",
            ));
        }
        Ok(self.store(topic, messages, now))
    }

    fn store(&mut self, topic: &str, messages: Vec<PubsubMessage>, now: SystemTime) -> Vec<String> {
        let publish_time = prost_types::Timestamp::from(now);
        let subs = self.by_topic.get(topic).cloned().unwrap_or_default();
        let mut ids = Vec::with_capacity(messages.len());
        for mut message in messages {
            self.next_message_id += 1;
            message.message_id = self.next_message_id.to_string();
            message.publish_time = Some(publish_time);
            ids.push(message.message_id.clone());
            let message = Arc::new(message);
            for sub in &subs {
                if let Some(state) = self.subscriptions.get_mut(sub) {
                    state.queue.push(Arc::clone(&message), now);
                }
            }
        }
        for sub in &subs {
            if let Some(state) = self.subscriptions.get(sub) {
                state.wake.notify_waiters();
            }
        }
        ids
    }

    /// Creates a subscription to an existing topic.
    pub fn create_subscription(&mut self, sub: Subscription) -> Result<Subscription, Error> {
        let sub = config::subscription(sub)?;
        if self.subscriptions.contains_key(&sub.name) {
            return Err(Error::AlreadyExists(sub.name));
        }
        self.topic(&sub.topic)?;
        if let Some(policy) = &sub.dead_letter_policy
            && !policy.dead_letter_topic.is_empty()
        {
            self.topic(&policy.dead_letter_topic)?;
        }
        let state = SubscriptionState {
            queue: Queue::new(config::rules(&sub)),
            config: sub.clone(),
            wake: Arc::new(Notify::new()),
        };
        self.by_topic
            .entry(sub.topic.clone())
            .or_default()
            .push(sub.name.clone());
        self.subscriptions.insert(sub.name.clone(), state);
        Ok(sub)
    }

    /// A subscription by name.
    pub fn subscription(&self, name: &str) -> Result<&SubscriptionState, Error> {
        names::check(Kind::Subscription, name)?;
        self.subscriptions
            .get(name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    fn subscription_mut(&mut self, name: &str) -> Result<&mut SubscriptionState, Error> {
        names::check(Kind::Subscription, name)?;
        self.subscriptions
            .get_mut(name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Replaces the settings of a subscription (after an update); its messages stay.
    pub fn replace_subscription(&mut self, sub: Subscription) -> Result<Subscription, Error> {
        let sub = config::subscription(sub)?;
        let state = self.subscription_mut(&sub.name)?;
        if state.config.topic != sub.topic
            || state.config.enable_message_ordering != sub.enable_message_ordering
        {
            return Err(Error::invalid(
                "topic and enable_message_ordering cannot be changed",
            ));
        }
        state.queue.set_rules(config::rules(&sub));
        state.config = sub.clone();
        state.wake.notify_waiters();
        Ok(sub)
    }

    /// Subscriptions of `project`, in name order, one page after `page_token`.
    pub fn list_subscriptions(
        &self,
        project: &str,
        page: Page<'_>,
    ) -> Result<(Vec<Subscription>, String), Error> {
        names::check_project(project)?;
        let prefix = format!("{project}/subscriptions/");
        let items = self
            .subscriptions
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix));
        Ok(page.take(items.map(|(name, state)| (name.as_str(), state.config.clone()))))
    }

    /// Deletes a subscription and its messages.
    pub fn delete_subscription(&mut self, name: &str) -> Result<(), Error> {
        names::check(Kind::Subscription, name)?;
        let state = self
            .subscriptions
            .remove(name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        if let Some(subs) = self.by_topic.get_mut(&state.config.topic) {
            subs.retain(|s| s != name);
        }
        state.wake.notify_waiters();
        Ok(())
    }

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

    /// Acknowledges messages of a subscription. Ids of past deliveries are ignored, as
    /// Google does; ids not made by this emulator are `INVALID_ARGUMENT`.
    pub fn acknowledge(&mut self, name: &str, ack_ids: &[String]) -> Result<(), Error> {
        let ids = parse_ack_ids(ack_ids)?;
        let state = self.subscription_mut(name)?;
        for id in ids {
            state.queue.ack(id);
        }
        state.wake.notify_waiters();
        Ok(())
    }

    /// Sets the ack deadline of leased messages to `seconds` from `now` (0 = nack).
    pub fn modify_ack_deadline(
        &mut self,
        name: &str,
        ack_ids: &[String],
        seconds: i32,
        now: SystemTime,
    ) -> Result<(), Error> {
        let max = config::ACK_DEADLINE_SECONDS.2;
        let Ok(secs) = u64::try_from(seconds) else {
            return Err(Error::invalid(format!(
                "Invalid ack_deadline_seconds: {seconds} (must be between 0 and {max})"
            )));
        };
        if seconds > max {
            return Err(Error::invalid(format!(
                "Invalid ack_deadline_seconds: {seconds} (must be between 0 and {max})"
            )));
        }
        let ids = parse_ack_ids(ack_ids)?;
        let state = self.subscription_mut(name)?;
        let mut dead = Vec::new();
        for id in ids {
            dead.extend(state.queue.modify_deadline(id, now, Duration::from_secs(secs)));
        }
        state.wake.notify_waiters();
        self.dead_letter(name, dead, now);
        Ok(())
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
        let messages = dead
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
        self.store(&topic, messages, now);
    }
}

/// The ack deadline of a subscription.
pub fn ack_deadline(sub: &Subscription) -> Duration {
    Duration::from_secs(u64::try_from(sub.ack_deadline_seconds).unwrap_or(10))
}

fn parse_ack_ids(ack_ids: &[String]) -> Result<Vec<AckId>, Error> {
    ack_ids
        .iter()
        .map(|id| {
            AckId::parse(id).ok_or_else(|| {
                Error::invalid(format!(
                    "You have passed an invalid ack ID to the service (ack_id={id})."
                ))
            })
        })
        .collect()
}

/// One page of a listing: at most `size` items (0 = no limit) after the name `token`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Page<'a> {
    /// The largest number of items to return; 0 or less means all.
    pub size: i32,
    /// The `next_page_token` of the previous page, or empty.
    pub token: &'a str,
}

impl Page<'_> {
    fn take<'n, T>(self, items: impl Iterator<Item = (&'n str, T)>) -> (Vec<T>, String) {
        let limit = usize::try_from(self.size)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut last = "";
        for (name, item) in items.filter(|(name, _)| self.token.is_empty() || *name > self.token) {
            if out.len() == limit {
                return (out, last.to_owned());
            }
            last = name;
            out.push(item);
        }
        (out, String::new())
    }
}
