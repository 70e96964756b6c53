//! Snapshots and seek (docs/protocol.md §9). A snapshot keeps a subscription's unacknowledged
//! messages at its creation and every message published to the topic after it (through the
//! subscription's filter); seeking to it makes exactly those unacknowledged again. Seeking to a
//! time makes the messages the subscription still knows — unacknowledged ones, acknowledged ones
//! kept by `retain_acked_messages`, and the topic's own retained messages — unacknowledged if
//! published at or after that time, acknowledged if before.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gcloud_googleapis::pubsub::v1::{Snapshot, Topic};

use super::filter::Filter;
use super::queue::Message;
use super::{Broker, DELETED_TOPIC, Page, config};
use crate::error::Error;
use crate::names::{self, Kind};

/// How long a snapshot lives after the oldest message it holds was published.
const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// A snapshot that would expire sooner than this after creation is refused, as Google does.
const SNAPSHOT_MIN_LIFETIME: Duration = Duration::from_secs(3600);

/// A snapshot: its resource and the messages it holds, with their publish times.
#[derive(Debug)]
pub struct SnapshotState {
    /// The resource as clients see it.
    pub config: Snapshot,
    filter: Option<Filter>,
    messages: Vec<(SystemTime, Message)>,
}

/// The messages a topic with a `message_retention_duration` keeps for seeking back in time.
#[derive(Debug)]
pub struct TopicLog {
    retention: Duration,
    messages: VecDeque<(SystemTime, Message)>,
}

/// Where a seek moves a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekTarget<'a> {
    /// Messages published at or after this time become unacknowledged, earlier ones acknowledged.
    Time(SystemTime),
    /// The acknowledgement state recorded by this snapshot.
    Snapshot(&'a str),
}

impl Broker {
    /// Starts, changes or stops the retained log of a topic after its creation or an update.
    pub(super) fn sync_topic_log(&mut self, topic: &Topic) {
        match topic.message_retention_duration.map(config::std_duration) {
            Some(retention) => {
                let log = self
                    .topic_logs
                    .entry(topic.name.clone())
                    .or_insert_with(|| TopicLog {
                        retention,
                        messages: VecDeque::new(),
                    });
                log.retention = retention;
            }
            None => {
                self.topic_logs.remove(&topic.name);
            }
        }
    }

    /// Keeps a just-published message in the topic's log and in the topic's snapshots.
    pub(super) fn keep_published(&mut self, topic: &str, message: &Message, now: SystemTime) {
        if let Some(log) = self.topic_logs.get_mut(topic) {
            while log
                .messages
                .front()
                .is_some_and(|(published, _)| *published + log.retention <= now)
            {
                log.messages.pop_front();
            }
            log.messages.push_back((now, Arc::clone(message)));
        }
        if self.snapshots.is_empty() {
            return;
        }
        self.prune_snapshots(now);
        for snapshot in self.snapshots.values_mut().filter(|s| s.config.topic == topic) {
            if snapshot
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(&message.attributes))
            {
                snapshot.messages.push((now, Arc::clone(message)));
            }
        }
    }

    fn prune_snapshots(&mut self, now: SystemTime) {
        let now = prost_types::Timestamp::from(now);
        self.snapshots.retain(|_, s| {
            s.config
                .expire_time
                .is_none_or(|t| (t.seconds, t.nanos) > (now.seconds, now.nanos))
        });
    }

    /// Creates snapshot `name` of `subscription` as it stands at `now`.
    pub fn create_snapshot(
        &mut self,
        name: &str,
        subscription: &str,
        labels: std::collections::HashMap<String, String>,
        now: SystemTime,
    ) -> Result<Snapshot, Error> {
        names::check(Kind::Snapshot, name)?;
        self.prune_snapshots(now);
        if self.snapshots.contains_key(name) {
            return Err(Error::AlreadyExists(name.to_owned()));
        }
        let state = self.subscription(subscription)?;
        if state.config.topic == DELETED_TOPIC {
            return Err(Error::FailedPrecondition(format!(
                "The subscription {subscription} is attached to a deleted topic: it cannot be snapshotted."
            )));
        }
        let messages = state.queue.unacked();
        let oldest = messages.iter().map(|(t, _)| *t).min().unwrap_or(now);
        let expire = oldest + SNAPSHOT_LIFETIME;
        if expire < now + SNAPSHOT_MIN_LIFETIME {
            return Err(Error::FailedPrecondition(format!(
                "The snapshot would expire in less than 1 hour after creation: the oldest unacknowledged message of {subscription} is almost 7 days old."
            )));
        }
        let config = Snapshot {
            name: name.to_owned(),
            topic: state.config.topic.clone(),
            expire_time: Some(expire.into()),
            labels,
        };
        let snapshot = SnapshotState {
            config: config.clone(),
            filter: state.filter.clone(),
            messages,
        };
        self.snapshots.insert(name.to_owned(), snapshot);
        Ok(config)
    }

    /// A snapshot by name.
    pub fn snapshot(&mut self, name: &str, now: SystemTime) -> Result<&SnapshotState, Error> {
        names::check(Kind::Snapshot, name)?;
        self.prune_snapshots(now);
        self.snapshots
            .get(name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Replaces a snapshot's resource (after an update); its messages stay.
    pub fn replace_snapshot(&mut self, snapshot: Snapshot) -> Result<Snapshot, Error> {
        let state = self
            .snapshots
            .get_mut(&snapshot.name)
            .ok_or_else(|| Error::NotFound(snapshot.name.clone()))?;
        state.config = snapshot.clone();
        Ok(snapshot)
    }

    /// Snapshots of `project`, in name order, one page after `page_token`.
    pub fn list_snapshots(
        &mut self,
        project: &str,
        page: Page<'_>,
        now: SystemTime,
    ) -> Result<(Vec<Snapshot>, String), Error> {
        names::check_project(project)?;
        self.prune_snapshots(now);
        let prefix = format!("{project}/snapshots/");
        let items = self
            .snapshots
            .iter()
            .filter(|(name, _)| name.starts_with(&prefix));
        Ok(page.take(items.map(|(name, s)| (name.as_str(), s.config.clone()))))
    }

    /// Names of the snapshots of a topic.
    pub fn topic_snapshots(
        &mut self,
        topic: &str,
        page: Page<'_>,
        now: SystemTime,
    ) -> Result<(Vec<String>, String), Error> {
        self.topic(topic)?;
        self.prune_snapshots(now);
        let items = self.snapshots.iter().filter(|(_, s)| s.config.topic == topic);
        Ok(page.take(items.map(|(name, _)| (name.as_str(), name.clone()))))
    }

    /// Deletes a snapshot and lets go of its messages.
    pub fn delete_snapshot(&mut self, name: &str) -> Result<(), Error> {
        names::check(Kind::Snapshot, name)?;
        self.snapshots
            .remove(name)
            .map(drop)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Moves subscription `name` to a time or a snapshot; every lease ends.
    pub fn seek(&mut self, name: &str, target: SeekTarget<'_>, now: SystemTime) -> Result<(), Error> {
        self.prune_snapshots(now);
        let state = self.subscription(name)?;
        let mut known = state.queue.unacked();
        known.extend(state.queue.retained_acked());
        let (unacked, acked) = match target {
            SeekTarget::Time(time) => {
                if let Some(log) = self.topic_logs.get(&state.config.topic) {
                    let matching = log.messages.iter().filter(|(_, m)| state.accepts(m));
                    known.extend(matching.cloned());
                }
                distinct(known).into_iter().partition(|(t, _)| *t >= time)
            }
            SeekTarget::Snapshot(snapshot) => {
                names::check(Kind::Snapshot, snapshot)?;
                let snap = self
                    .snapshots
                    .get(snapshot)
                    .ok_or_else(|| Error::NotFound(snapshot.to_owned()))?;
                if snap.config.topic != state.config.topic {
                    return Err(Error::invalid(format!(
                        "The snapshot {snapshot} is of topic {} but the subscription {name} is of topic {}: a subscription can seek only to a snapshot of its own topic.",
                        snap.config.topic, state.config.topic
                    )));
                }
                let unacked = distinct(snap.messages.clone());
                let held: HashSet<&str> = unacked.iter().map(|(_, m)| m.message_id.as_str()).collect();
                let acked = distinct(known)
                    .into_iter()
                    .filter(|(_, m)| !held.contains(m.message_id.as_str()))
                    .collect();
                (unacked, acked)
            }
        };
        let state = self.subscription_mut(name)?;
        state.queue.reset(unacked, acked);
        state.wake.notify_waiters();
        Ok(())
    }
}

/// Messages in publish order, each once.
fn distinct(mut messages: Vec<(SystemTime, Message)>) -> Vec<(SystemTime, Message)> {
    let order = |m: &Message| m.message_id.parse::<u64>().unwrap_or(u64::MAX);
    messages.sort_by_key(|(t, m)| (*t, order(m)));
    messages.dedup_by(|a, b| a.1.message_id == b.1.message_id);
    messages
}
