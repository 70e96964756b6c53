//! [`Emulator`]: the broker behind a lock, shared by the gRPC and REST front ends, the push
//! drivers and in-process callers (the bridge forwards telemetry through
//! [`Emulator::publish`]). It owns the waiting: pulls that block until messages arrive or a
//! lease ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use gcloud_googleapis::pubsub::v1::{PubsubMessage, ReceivedMessage, Snapshot, Subscription, Topic};
use tokio_util::sync::CancellationToken;

use crate::broker::delivery::{AckResults, Apply};
use crate::broker::snapshot::SeekTarget;
use crate::broker::{self, Broker, Page, update};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::push::{self, PushTokenSource};

/// Settings of an [`Emulator`].
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The wall clock for publish times, deadlines and backoffs.
    pub clock: Arc<dyn Clock>,
    /// Mints the OIDC token of every push to a subscription with an `oidcToken` configured; the
    /// runner wires in the identity crate's Google mock. Without one such pushes fail (nack).
    pub token_source: Option<Arc<dyn PushTokenSource>>,
    /// How long a unary pull without `return_immediately` waits for a first message.
    pub pull_wait: Duration,
    /// Concurrent push requests per push subscription.
    pub push_concurrency: usize,
    /// The most bytes of messages (data, attributes, ordering keys) stored at once; a publish
    /// beyond it is refused with `RESOURCE_EXHAUSTED`.
    pub max_stored_bytes: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            token_source: None,
            pull_wait: Duration::from_secs(10),
            push_concurrency: 32,
            max_stored_bytes: broker::DEFAULT_MAX_STORED_BYTES,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("token_source", &self.token_source.is_some())
            .field("pull_wait", &self.pull_wait)
            .field("push_concurrency", &self.push_concurrency)
            .field("max_stored_bytes", &self.max_stored_bytes)
            .finish_non_exhaustive()
    }
}

/// The emulator's shared state; cheap to clone.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Mutex<Broker>,
    config: EmulatorConfig,
    pushers: Mutex<HashMap<String, CancellationToken>>,
    shutdown: CancellationToken,
    next_owner: AtomicU64,
    http: reqwest::Client,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// An empty emulator.
    pub fn new(config: EmulatorConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                broker: Mutex::new(Broker::new(config.max_stored_bytes)),
                config,
                pushers: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                next_owner: AtomicU64::new(1),
                http: reqwest::Client::new(),
            }),
        }
    }

    /// Locks the broker for direct inspection or changes.
    pub fn broker(&self) -> MutexGuard<'_, Broker> {
        self.inner
            .broker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes of messages stored now, and the most stored at any one time since the start.
    pub fn stored_bytes(&self) -> (u64, u64) {
        let broker = self.broker();
        (broker.meter().current(), broker.meter().peak())
    }

    /// The current time of the emulator's clock.
    pub fn now(&self) -> SystemTime {
        self.inner.config.clock.now()
    }

    /// The emulator's settings.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// Cancelled when the emulator shuts down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Stops push delivery and ends streaming pulls.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// A new owner id for the leases of one consumer (a streaming pull or a push driver).
    pub fn new_owner(&self) -> u64 {
        self.inner.next_owner.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Creates a topic.
    pub fn create_topic(&self, topic: Topic) -> Result<Topic, Error> {
        self.broker().create_topic(topic)
    }

    /// A topic by name.
    pub fn get_topic(&self, name: &str) -> Result<Topic, Error> {
        self.broker().topic(name).cloned()
    }

    /// Updates the fields of a topic named by `paths`.
    pub fn update_topic(&self, topic: Topic, paths: &[String]) -> Result<Topic, Error> {
        let mut broker = self.broker();
        let current = broker.topic(&topic.name)?.clone();
        let updated = update::topic(current, topic, paths)?;
        broker.replace_topic(updated)
    }

    /// Topics of a project (`projects/{p}`): one page and the next page token.
    pub fn list_topics(&self, project: &str, page: Page<'_>) -> Result<(Vec<Topic>, String), Error> {
        self.broker().list_topics(project, page)
    }

    /// Subscription names of a topic: one page and the next page token.
    pub fn list_topic_subscriptions(
        &self,
        topic: &str,
        page: Page<'_>,
    ) -> Result<(Vec<String>, String), Error> {
        self.broker().topic_subscriptions(topic, page)
    }

    /// Deletes a topic.
    pub fn delete_topic(&self, name: &str) -> Result<(), Error> {
        self.broker().delete_topic(name)
    }

    /// Publishes messages; returns once they are stored in every subscription of the topic,
    /// with their message ids in order.
    pub fn publish(&self, topic: &str, messages: Vec<PubsubMessage>) -> Result<Vec<String>, Error> {
        let now = self.now();
        self.broker().publish(topic, messages, now)
    }

    /// Creates a subscription; a push subscription starts delivering at once.
    pub fn create_subscription(&self, sub: Subscription) -> Result<Subscription, Error> {
        let created = self.broker().create_subscription(sub)?;
        self.sync_pusher(&created);
        Ok(created)
    }

    /// A subscription by name.
    pub fn get_subscription(&self, name: &str) -> Result<Subscription, Error> {
        Ok(self.broker().subscription(name)?.config.clone())
    }

    /// Updates the fields of a subscription named by `paths`.
    pub fn update_subscription(&self, sub: Subscription, paths: &[String]) -> Result<Subscription, Error> {
        let updated = {
            let mut broker = self.broker();
            let current = broker.subscription(&sub.name)?.config.clone();
            let updated = update::subscription(current, sub, paths)?;
            broker.replace_subscription(updated)?
        };
        self.sync_pusher(&updated);
        Ok(updated)
    }

    /// Replaces the push configuration of a subscription (empty endpoint: pull delivery).
    pub fn modify_push_config(
        &self,
        name: &str,
        push: Option<gcloud_googleapis::pubsub::v1::PushConfig>,
    ) -> Result<(), Error> {
        let update = Subscription {
            name: name.to_owned(),
            push_config: push,
            ..Subscription::default()
        };
        self.update_subscription(update, &["push_config".to_owned()])
            .map(drop)
    }

    /// Subscriptions of a project: one page and the next page token.
    pub fn list_subscriptions(
        &self,
        project: &str,
        page: Page<'_>,
    ) -> Result<(Vec<Subscription>, String), Error> {
        self.broker().list_subscriptions(project, page)
    }

    /// Deletes a subscription (and stops its push delivery).
    pub fn delete_subscription(&self, name: &str) -> Result<(), Error> {
        self.broker().delete_subscription(name)?;
        self.stop_pusher(name);
        Ok(())
    }

    /// Acknowledges messages; with exactly-once delivery, failed ids are an error naming
    /// each (and if others were valid, none is applied: see [`Apply::AllOrNothing`]).
    pub fn acknowledge(&self, sub: &str, ack_ids: &[String]) -> Result<(), Error> {
        let now = self.now();
        let results = self
            .broker()
            .acknowledge(sub, ack_ids, Apply::AllOrNothing, now)?;
        results.into_result()
    }

    /// Acknowledges every valid id and says what became of each.
    pub fn acknowledge_each(&self, sub: &str, ack_ids: &[String]) -> Result<AckResults, Error> {
        let now = self.now();
        self.broker().acknowledge(sub, ack_ids, Apply::EachId, now)
    }

    /// Modifies ack deadlines (0 = nack); with exactly-once delivery, failed ids are an error
    /// naming each (and if others were valid, none is applied: see [`Apply::AllOrNothing`]).
    pub fn modify_ack_deadline(&self, sub: &str, ack_ids: &[String], seconds: i32) -> Result<(), Error> {
        let now = self.now();
        let results = self
            .broker()
            .modify_ack_deadline(sub, ack_ids, seconds, Apply::AllOrNothing, now)?;
        results.into_result()
    }

    /// Modifies the deadline of every valid id and says what became of each.
    pub fn modify_ack_deadline_each(
        &self,
        sub: &str,
        ack_ids: &[String],
        seconds: i32,
    ) -> Result<AckResults, Error> {
        let now = self.now();
        self.broker()
            .modify_ack_deadline(sub, ack_ids, seconds, Apply::EachId, now)
    }

    /// Creates a snapshot of a subscription.
    pub fn create_snapshot(
        &self,
        name: &str,
        subscription: &str,
        labels: HashMap<String, String>,
    ) -> Result<Snapshot, Error> {
        let now = self.now();
        self.broker().create_snapshot(name, subscription, labels, now)
    }

    /// A snapshot by name.
    pub fn get_snapshot(&self, name: &str) -> Result<Snapshot, Error> {
        let now = self.now();
        Ok(self.broker().snapshot(name, now)?.config.clone())
    }

    /// Updates the fields of a snapshot named by `paths` (its labels).
    pub fn update_snapshot(&self, snapshot: Snapshot, paths: &[String]) -> Result<Snapshot, Error> {
        let now = self.now();
        let mut broker = self.broker();
        let current = broker.snapshot(&snapshot.name, now)?.config.clone();
        let updated = update::snapshot(current, snapshot, paths)?;
        broker.replace_snapshot(updated)
    }

    /// Snapshots of a project: one page and the next page token.
    pub fn list_snapshots(&self, project: &str, page: Page<'_>) -> Result<(Vec<Snapshot>, String), Error> {
        let now = self.now();
        self.broker().list_snapshots(project, page, now)
    }

    /// Snapshot names of a topic: one page and the next page token.
    pub fn list_topic_snapshots(&self, topic: &str, page: Page<'_>) -> Result<(Vec<String>, String), Error> {
        let now = self.now();
        self.broker().topic_snapshots(topic, page, now)
    }

    /// Deletes a snapshot.
    pub fn delete_snapshot(&self, name: &str) -> Result<(), Error> {
        self.broker().delete_snapshot(name)
    }

    /// Seeks a subscription to a time or a snapshot.
    pub fn seek(&self, sub: &str, target: SeekTarget<'_>) -> Result<(), Error> {
        let now = self.now();
        self.broker().seek(sub, target, now)
    }

    /// Unary pull: up to `max` messages; unless `return_immediately`, waits up to
    /// [`EmulatorConfig::pull_wait`] for a first one.
    pub async fn pull(
        &self,
        sub: &str,
        max: i32,
        return_immediately: bool,
    ) -> Result<Vec<ReceivedMessage>, Error> {
        let max = usize::try_from(max)
            .ok()
            .filter(|m| *m > 0)
            .ok_or_else(|| Error::invalid(format!("Invalid max_messages: {max} (must be greater than 0)")))?;
        if return_immediately {
            let now = self.now();
            return self.broker().pull(sub, max, None, 0, now);
        }
        let wait = tokio::time::sleep(self.inner.config.pull_wait);
        tokio::select! {
            result = self.lease(sub, max, None, 0) => result,
            () = wait => Ok(Vec::new()),
        }
    }

    /// Waits until at least one message of `sub` is available and leases up to `max` of them
    /// to `owner`; ends with an empty list at shutdown.
    pub async fn lease(
        &self,
        sub: &str,
        max: usize,
        deadline: Option<Duration>,
        owner: u64,
    ) -> Result<Vec<ReceivedMessage>, Error> {
        loop {
            let wake = Arc::clone(&self.broker().subscription(sub)?.wake);
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = self.now();
            let next = {
                let mut broker = self.broker();
                let got = broker.pull(sub, max, deadline, owner, now)?;
                if !got.is_empty() {
                    return Ok(got);
                }
                broker.next_event(sub)?
            };
            let pause = next.map(|t| t.duration_since(now).unwrap_or_default());
            tokio::select! {
                () = &mut notified => {}
                () = sleep_or_forever(pause) => {}
                () = self.inner.shutdown.cancelled() => return Ok(Vec::new()),
            }
        }
    }

    fn sync_pusher(&self, sub: &Subscription) {
        self.stop_pusher(&sub.name);
        let Some(push) = sub.push_config.as_ref().filter(|p| !p.push_endpoint.is_empty()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let cancel = self.inner.shutdown.child_token();
        let driver = push::Driver::new(self.clone(), sub.name.clone(), push.clone(), cancel.clone());
        runtime.spawn(driver.run());
        let mut pushers = self
            .inner
            .pushers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pushers.insert(sub.name.clone(), cancel);
    }

    fn stop_pusher(&self, name: &str) {
        let mut pushers = self
            .inner
            .pushers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cancel) = pushers.remove(name) {
            cancel.cancel();
        }
    }
}

/// Sleeps for `pause`, or forever when there is nothing to wait for.
pub(crate) async fn sleep_or_forever(pause: Option<Duration>) {
    match pause {
        Some(pause) => tokio::time::sleep(pause).await,
        None => std::future::pending().await,
    }
}

/// The ack deadline of a subscription, for drivers.
pub(crate) fn ack_deadline(sub: &Subscription) -> Duration {
    broker::ack_deadline(sub)
}
