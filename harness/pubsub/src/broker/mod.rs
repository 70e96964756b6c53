//! The emulator's whole state as a plain struct: topics, subscriptions and their queues. Every
//! method takes the current time and returns results; nothing here does I/O or waits, so the
//! rules are tested without sockets. [`crate::Emulator`] wraps it for concurrent use.
//!
//! - [`config`]: defaults and bounds of topic and subscription settings.
//! - [`delivery`]: pulls, acknowledgements (exactly-once results), deadlines, dead letters.
//! - [`filter`]: the subscription filter language.
//! - [`limits`]: Google's publish limits.
//! - [`queue`]: the delivery state of one subscription.
//! - [`snapshot`]: snapshots, seek, and messages kept by topic retention.
//! - [`stored`]: stored messages and the meter of stored bytes.
//! - [`update`]: field-mask updates of topics, subscriptions and snapshots.

pub mod config;
pub mod delivery;
pub mod filter;
pub mod limits;
pub mod queue;
pub mod snapshot;
pub mod stored;
pub mod update;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gcloud_googleapis::pubsub::v1::{PubsubMessage, Subscription, Topic};
use tokio::sync::Notify;

use crate::error::Error;
use crate::names::{self, Kind};
use filter::Filter;
use queue::Queue;
use snapshot::{SnapshotState, TopicLog};
use stored::{Meter, Stored};

/// The default bound on stored bytes: 1 GiB of message data, attributes and ordering keys.
pub const DEFAULT_MAX_STORED_BYTES: u64 = 1 << 30;

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
    /// The parsed filter; messages it refuses are acknowledged at publish.
    pub filter: Option<Filter>,
}

impl SubscriptionState {
    fn accepts(&self, message: &PubsubMessage) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.matches(&message.attributes))
    }
}

/// Topics, subscriptions and snapshots.
#[derive(Debug)]
pub struct Broker {
    topics: BTreeMap<String, Topic>,
    subscriptions: BTreeMap<String, SubscriptionState>,
    by_topic: HashMap<String, Vec<String>>,
    snapshots: BTreeMap<String, SnapshotState>,
    topic_logs: HashMap<String, TopicLog>,
    next_message_id: u64,
    meter: Meter,
    max_stored_bytes: u64,
    queues_created: u64,
}

impl Default for Broker {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_STORED_BYTES)
    }
}

impl Broker {
    /// An empty broker that stores at most `max_stored_bytes` of messages at once.
    pub fn new(max_stored_bytes: u64) -> Self {
        Self {
            topics: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            by_topic: HashMap::new(),
            snapshots: BTreeMap::new(),
            topic_logs: HashMap::new(),
            next_message_id: 0,
            meter: Meter::default(),
            max_stored_bytes,
            queues_created: 0,
        }
    }

    /// The meter of stored bytes (current and peak).
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Creates a topic.
    pub fn create_topic(&mut self, topic: Topic) -> Result<Topic, Error> {
        let topic = config::topic(topic)?;
        if self.topics.contains_key(&topic.name) {
            return Err(Error::AlreadyExists(topic.name));
        }
        self.topics.insert(topic.name.clone(), topic.clone());
        self.sync_topic_log(&topic);
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
        self.sync_topic_log(&topic);
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
        self.topic_logs.remove(name);
        for snapshot in self.snapshots.values_mut().filter(|s| s.config.topic == name) {
            snapshot.config.topic = DELETED_TOPIC.to_owned();
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
        let sizes = limits::check_publish(topic, &messages)?;
        self.check_room(topic, &sizes)?;
        Ok(self.store(topic, messages, sizes, now))
    }

    /// Refuses a publish whose messages would take the stored bytes past the bound.
    fn check_room(&self, topic: &str, sizes: &[usize]) -> Result<(), Error> {
        let held = self.by_topic.get(topic).is_some_and(|subs| !subs.is_empty())
            || self.topic_logs.contains_key(topic)
            || !self.snapshots.is_empty();
        if !held {
            return Ok(());
        }
        let incoming = u64::try_from(sizes.iter().sum::<usize>()).unwrap_or(u64::MAX);
        let stored = self.meter.current();
        if stored.saturating_add(incoming) > self.max_stored_bytes {
            return Err(Error::ResourceExhausted(format!(
                "The emulator stores at most {} bytes of messages (max_stored_bytes): {stored} bytes are stored and this request adds {incoming}. Acknowledge or seek past stored messages, delete subscriptions or snapshots, or raise the bound.",
                self.max_stored_bytes
            )));
        }
        Ok(())
    }

    /// Stores messages (of the given sizes) in every subscription of the topic whose filter
    /// accepts them, and in the topic's log and snapshots; returns their ids.
    fn store(
        &mut self,
        topic: &str,
        messages: Vec<PubsubMessage>,
        sizes: Vec<usize>,
        now: SystemTime,
    ) -> Vec<String> {
        let publish_time = prost_types::Timestamp::from(now);
        let subs = self.by_topic.get(topic).cloned().unwrap_or_default();
        let kept = self.topic_logs.contains_key(topic) || !self.snapshots.is_empty();
        let mut ids = Vec::with_capacity(messages.len());
        let numbered = messages.into_iter().zip(sizes).map(|(mut message, size)| {
            self.next_message_id += 1;
            message.message_id = self.next_message_id.to_string();
            message.publish_time = Some(publish_time);
            ids.push(message.message_id.clone());
            (message, size)
        });
        let batch = Stored::batch(numbered.collect(), &self.meter);
        for message in batch {
            for sub in &subs {
                if let Some(state) = self.subscriptions.get_mut(sub)
                    && state.accepts(&message)
                {
                    state.queue.push(Arc::clone(&message), now);
                }
            }
            if kept {
                self.keep_published(topic, &message, now);
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
        let filter = (!sub.filter.is_empty())
            .then(|| Filter::parse(&sub.filter))
            .transpose()?;
        let state = SubscriptionState {
            queue: Queue::starting_at(config::rules(&sub), self.queues_created << 40),
            config: sub.clone(),
            wake: Arc::new(Notify::new()),
            filter,
        };
        self.queues_created += 1;
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
            || state.config.filter != sub.filter
        {
            return Err(Error::invalid(
                "topic, enable_message_ordering and filter cannot be changed",
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
}

/// The ack deadline of a subscription.
pub fn ack_deadline(sub: &Subscription) -> Duration {
    Duration::from_secs(u64::try_from(sub.ack_deadline_seconds).unwrap_or(10))
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
