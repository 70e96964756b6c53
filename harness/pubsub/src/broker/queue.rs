//! The delivery state of one subscription: available messages, leases with ack deadlines,
//! redelivery with the retry policy, ordering keys, retention, dead-lettering, acknowledged
//! messages kept for seeking, and exactly-once acknowledgement. Sans-I/O: every method takes
//! the current time, nothing sleeps.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::stored::Stored;
use crate::error::AckFailure;

/// A stored message, shared with the other subscriptions and snapshots holding it.
pub type Message = Arc<Stored>;

/// The delivery rules of a subscription, taken from its configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Deliver messages of one ordering key one at a time, in publish order.
    pub ordering: bool,
    /// Unacknowledged messages older than this are dropped.
    pub retention: Duration,
    /// Redelivery backoff after a nack or an expired lease, `(minimum, maximum)`; `None` means
    /// redeliver at once.
    pub retry: Option<(Duration, Duration)>,
    /// After this many delivery attempts a nacked message is dead-lettered.
    pub max_delivery_attempts: Option<u32>,
    /// Exactly-once delivery: an ack or deadline change takes effect only while the lease is
    /// held, and says so per ack id.
    pub exactly_once: bool,
    /// Keep acknowledged messages (within retention) so that a seek can bring them back.
    pub retain_acked: bool,
}

/// A message handed to a consumer under a lease.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivered {
    /// The id to acknowledge or modify the deadline with.
    pub ack_id: String,
    /// The message.
    pub message: Message,
    /// This delivery's attempt number, from 1.
    pub attempt: u32,
}

/// A message removed from the subscription after its last allowed delivery attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLettered {
    /// The message.
    pub message: Message,
    /// How many times it was delivered.
    pub attempts: u32,
}

#[derive(Debug)]
struct Entry {
    message: Message,
    published: SystemTime,
    attempts: u32,
    generation: u32,
    lease: Option<(SystemTime, u64)>,
    delayed_until: Option<SystemTime>,
}

#[derive(Debug, Default)]
struct KeyQueue {
    pending: VecDeque<u64>,
    queued: bool,
}

/// The delivery state of one subscription.
#[derive(Debug)]
pub struct Queue {
    rules: Rules,
    entries: HashMap<u64, Entry>,
    ready: VecDeque<u64>,
    delayed: BTreeSet<(SystemTime, u64)>,
    leases: BTreeSet<(SystemTime, u64)>,
    keys: HashMap<String, KeyQueue>,
    ready_keys: VecDeque<String>,
    outstanding: HashMap<u64, usize>,
    acked: BTreeMap<(SystemTime, u64), Message>,
    next_seq: u64,
}

impl Queue {
    /// An empty queue with `rules`.
    pub fn new(rules: Rules) -> Self {
        Self::starting_at(rules, 0)
    }

    /// An empty queue with `rules` whose ack ids start at `first_seq`, so that ack ids of
    /// another queue (a deleted subscription of the same name) never match its messages.
    pub fn starting_at(rules: Rules, first_seq: u64) -> Self {
        Self {
            rules,
            entries: HashMap::new(),
            ready: VecDeque::new(),
            delayed: BTreeSet::new(),
            leases: BTreeSet::new(),
            keys: HashMap::new(),
            ready_keys: VecDeque::new(),
            outstanding: HashMap::new(),
            acked: BTreeMap::new(),
            next_seq: first_seq,
        }
    }

    /// Replaces the rules; messages already queued keep their place.
    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// How many messages are stored (available, delayed or leased).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no message is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many leases `owner` holds.
    pub fn outstanding(&self, owner: u64) -> usize {
        self.outstanding.get(&owner).copied().unwrap_or(0)
    }

    /// Stores a published message.
    pub fn push(&mut self, message: Message, published: SystemTime) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.ordering_key(&message);
        self.entries.insert(
            seq,
            Entry {
                message,
                published,
                attempts: 0,
                generation: 0,
                lease: None,
                delayed_until: None,
            },
        );
        match key {
            Some(key) => {
                let queue = self.keys.entry(key.clone()).or_default();
                queue.pending.push_back(seq);
                if queue.pending.len() == 1 && !queue.queued {
                    queue.queued = true;
                    self.ready_keys.push_back(key);
                }
            }
            None => self.ready.push_back(seq),
        }
    }

    /// Leases up to `max` available messages to `owner` until `now + deadline`, after expiring
    /// leases and backoffs due at `now`.
    pub fn pull(
        &mut self,
        now: SystemTime,
        max: usize,
        deadline: Duration,
        owner: u64,
    ) -> (Vec<Delivered>, Vec<DeadLettered>) {
        let dead = self.tick(now);
        let mut out = Vec::new();
        while out.len() < max {
            let Some(seq) = self.next_available() else { break };
            let Some(entry) = self.entries.get_mut(&seq) else {
                continue;
            };
            if entry.published + self.rules.retention <= now {
                self.remove(seq);
                continue;
            }
            entry.attempts += 1;
            entry.generation += 1;
            let until = now + deadline;
            entry.lease = Some((until, owner));
            self.leases.insert((until, seq));
            *self.outstanding.entry(owner).or_default() += 1;
            out.push(Delivered {
                ack_id: format!("{seq}-{}", entry.generation),
                message: Arc::clone(&entry.message),
                attempt: entry.attempts,
            });
        }
        (out, dead)
    }

    /// Acknowledges `ack_id`: the message is removed (and kept aside if acknowledged messages
    /// are retained). A stale or unknown id changes nothing and says why; with exactly-once
    /// delivery an id whose lease has ended is refused as expired.
    pub fn ack(&mut self, ack_id: AckId, now: SystemTime) -> Result<(), AckFailure> {
        self.check(ack_id, now)?;
        if let Some(entry) = self.remove(ack_id.seq)
            && self.rules.retain_acked
        {
            self.acked.insert((entry.published, ack_id.seq), entry.message);
        }
        Ok(())
    }

    /// Whether `ack_id` may be acknowledged or have its deadline changed at `now`.
    pub fn check(&self, ack_id: AckId, now: SystemTime) -> Result<(), AckFailure> {
        let entry = self.entries.get(&ack_id.seq).ok_or(AckFailure::Invalid)?;
        if entry.generation != ack_id.generation {
            return Err(AckFailure::Expired);
        }
        let held = entry.lease.is_some_and(|(until, _)| until > now);
        if self.rules.exactly_once && !held {
            return Err(AckFailure::Expired);
        }
        Ok(())
    }

    /// Sets the lease of `ack_id` to end at `now + deadline`; a zero deadline is a nack (the
    /// message is redelivered after the retry backoff, or dead-lettered). Returns what was
    /// dead-lettered, or why the id was not applied.
    pub fn modify_deadline(
        &mut self,
        ack_id: AckId,
        now: SystemTime,
        deadline: Duration,
    ) -> Result<Vec<DeadLettered>, AckFailure> {
        self.check(ack_id, now)?;
        let Some(entry) = self.entries.get_mut(&ack_id.seq) else {
            return Err(AckFailure::Invalid);
        };
        let Some((until, owner)) = entry.lease else {
            return Err(AckFailure::Expired);
        };
        if deadline.is_zero() {
            return Ok(self.release(ack_id.seq, now).into_iter().collect());
        }
        self.leases.remove(&(until, ack_id.seq));
        let until = now + deadline;
        entry.lease = Some((until, owner));
        self.leases.insert((until, ack_id.seq));
        Ok(Vec::new())
    }

    /// Every message stored, unacknowledged, in publish order, with its publish time.
    pub fn unacked(&self) -> Vec<(SystemTime, Message)> {
        let mut all: Vec<_> = self.entries.iter().collect();
        all.sort_unstable_by_key(|(seq, _)| **seq);
        all.into_iter()
            .map(|(_, e)| (e.published, Arc::clone(&e.message)))
            .collect()
    }

    /// The acknowledged messages kept for seeking, oldest first.
    pub fn retained_acked(&self) -> Vec<(SystemTime, Message)> {
        self.acked
            .iter()
            .map(|((published, _), m)| (*published, Arc::clone(m)))
            .collect()
    }

    /// Replaces the whole state after a seek: `unacked` become available in the order given,
    /// `acked` are kept aside (if acknowledged messages are retained); every lease ends, and
    /// ack ids handed out before stay invalid (numbering goes on).
    pub fn reset(&mut self, unacked: Vec<(SystemTime, Message)>, acked: Vec<(SystemTime, Message)>) {
        let rules = self.rules.clone();
        *self = Self::starting_at(rules, self.next_seq);
        for (published, message) in unacked {
            self.push(message, published);
        }
        if self.rules.retain_acked {
            for (published, message) in acked {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.acked.insert((published, seq), message);
            }
        }
    }

    /// Expires leases and backoffs due at `now`; returns the messages dead-lettered by it.
    pub fn tick(&mut self, now: SystemTime) -> Vec<DeadLettered> {
        while let Some(entry) = self.acked.first_entry() {
            if entry.key().0 + self.rules.retention > now {
                break;
            }
            entry.remove();
        }
        let mut dead = Vec::new();
        while let Some(&(until, seq)) = self.leases.first() {
            if until > now {
                break;
            }
            dead.extend(self.release(seq, now));
        }
        while let Some(&(until, seq)) = self.delayed.first() {
            if until > now {
                break;
            }
            self.delayed.pop_first();
            if let Some(entry) = self.entries.get_mut(&seq) {
                entry.delayed_until = None;
                self.make_available(seq);
            }
        }
        dead
    }

    /// The next time at which [`Queue::tick`] changes something: a lease or backoff ending.
    pub fn next_event(&self) -> Option<SystemTime> {
        let lease = self.leases.first().map(|(t, _)| *t);
        let delay = self.delayed.first().map(|(t, _)| *t);
        lease.into_iter().chain(delay).min()
    }

    /// Whether a message could be delivered now without waiting for a deadline or a backoff.
    pub fn has_available(&self) -> bool {
        let ready = self.ready.iter().any(|seq| self.is_deliverable(*seq));
        ready || self.ready_keys.iter().any(|key| self.key_head(key).is_some())
    }

    fn ordering_key(&self, message: &Stored) -> Option<String> {
        (self.rules.ordering && !message.ordering_key.is_empty()).then(|| message.ordering_key.clone())
    }

    fn is_deliverable(&self, seq: u64) -> bool {
        self.entries
            .get(&seq)
            .is_some_and(|e| e.lease.is_none() && e.delayed_until.is_none())
    }

    fn key_head(&self, key: &str) -> Option<u64> {
        let head = *self.keys.get(key)?.pending.front()?;
        self.is_deliverable(head).then_some(head)
    }

    fn next_available(&mut self) -> Option<u64> {
        while let Some(seq) = self.ready.pop_front() {
            if self.is_deliverable(seq) {
                return Some(seq);
            }
        }
        while let Some(key) = self.ready_keys.pop_front() {
            match self.keys.get_mut(&key) {
                Some(queue) if queue.pending.is_empty() => {
                    self.keys.remove(&key);
                    continue;
                }
                Some(queue) => queue.queued = false,
                None => continue,
            }
            if let Some(head) = self.key_head(&key) {
                return Some(head);
            }
        }
        None
    }

    fn make_available(&mut self, seq: u64) {
        let Some(entry) = self.entries.get(&seq) else {
            return;
        };
        match self.ordering_key(&entry.message) {
            Some(key) => self.queue_key(&key),
            None => self.ready.push_back(seq),
        }
    }

    fn queue_key(&mut self, key: &str) {
        if let Some(queue) = self.keys.get_mut(key)
            && !queue.queued
            && !queue.pending.is_empty()
        {
            queue.queued = true;
            self.ready_keys.push_back(key.to_owned());
        }
    }

    /// Ends the lease of `seq` without an ack: dead-letters it, or makes it available again
    /// (after the retry backoff, if the subscription has a retry policy).
    fn release(&mut self, seq: u64, now: SystemTime) -> Option<DeadLettered> {
        let entry = self.entries.get_mut(&seq)?;
        if let Some((until, owner)) = entry.lease.take() {
            self.leases.remove(&(until, seq));
            decrement(&mut self.outstanding, owner);
        }
        if self
            .rules
            .max_delivery_attempts
            .is_some_and(|max| entry.attempts >= max)
        {
            let dead = DeadLettered {
                message: Arc::clone(&entry.message),
                attempts: entry.attempts,
            };
            self.remove(seq);
            return Some(dead);
        }
        match self.rules.retry {
            Some((min, max)) => {
                let doublings = entry.attempts.saturating_sub(1).min(16);
                let delay = min.saturating_mul(1 << doublings).min(max);
                let until = now + delay;
                entry.delayed_until = Some(until);
                self.delayed.insert((until, seq));
            }
            None => self.make_available(seq),
        }
        None
    }

    fn remove(&mut self, seq: u64) -> Option<Entry> {
        let entry = self.entries.remove(&seq)?;
        if let Some((until, owner)) = entry.lease {
            self.leases.remove(&(until, seq));
            decrement(&mut self.outstanding, owner);
        }
        if let Some(until) = entry.delayed_until {
            self.delayed.remove(&(until, seq));
        }
        if let Some(key) = self.ordering_key(&entry.message) {
            if let Some(queue) = self.keys.get_mut(&key) {
                queue.pending.retain(|s| *s != seq);
                if queue.pending.is_empty() && !queue.queued {
                    self.keys.remove(&key);
                    return Some(entry);
                }
            }
            self.queue_key(&key);
        }
        Some(entry)
    }
}

fn decrement(outstanding: &mut HashMap<u64, usize>, owner: u64) {
    if let Some(count) = outstanding.get_mut(&owner) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            outstanding.remove(&owner);
        }
    }
}

/// A parsed ack id: the message's place in the subscription and the delivery it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckId {
    seq: u64,
    generation: u32,
}

impl AckId {
    /// Parses an ack id this queue handed out; `None` when it is not of that form.
    pub fn parse(text: &str) -> Option<Self> {
        let (seq, generation) = text.split_once('-')?;
        Some(Self {
            seq: seq.parse().ok()?,
            generation: generation.parse().ok()?,
        })
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
