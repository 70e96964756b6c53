//! Watching what arrives downstream while the fleet runs: every telemetry subscription of
//! Pub/Sub (`pipeline.pubsub`) and, with `[push] subscribe`, the pushes the embedded verifier
//! accepts (`pipeline.push`). Each payload's stamp is tallied (delivered, duplicated,
//! reordered) and its intended send time gives the latency.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_fleet::engine::FleetRun;
use fleetgate_fleet::payload;
use fleetgate_fleet::shard::Shard;
use fleetgate_fleet::tally::Downstream;
use fleetgate_metrics::Recorder;
use fleetgate_pubsub::consumer::{Consumer, Delivery, DeliveryObserver, Source};
use fleetgate_push::verifier::{Deliveries, Verdict};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{BridgeTarget, PubsubTarget};

use crate::environment::{Environment, subscription_suffix};

/// The device ids of `shard`'s slice of every cohort.
fn devices_of(scenario: &Scenario, shard: Shard) -> HashSet<String> {
    scenario
        .cohorts
        .iter()
        .flat_map(|c| shard.indices(u64::from(c.devices)).map(|i| c.device_id.render(i)))
        .collect()
}

/// What one downstream saw, shared between its consumers and the runner. A shard's downstream
/// counts only its own devices' messages: the others belong to other shards' tallies.
#[derive(Clone, Debug, Default)]
pub(super) struct Seen {
    tally: Arc<Mutex<(Downstream, Recorder)>>,
    mine: Option<Arc<HashSet<String>>>,
}

impl Seen {
    /// Counts only the messages of `mine`, when given (a shard's devices).
    fn of(mine: Option<Arc<HashSet<String>>>) -> Self {
        Self {
            tally: Arc::default(),
            mine,
        }
    }

    /// The tally and the latencies so far.
    pub(super) fn lock(&self) -> MutexGuard<'_, (Downstream, Recorder)> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a payload received at `at` into `metric`.
    pub(super) fn record(&self, data: &[u8], at: SystemTime, metric: &str) {
        let stamp = payload::decode(data);
        if let (Some(mine), Some(stamp)) = (&self.mine, &stamp)
            && !mine.contains(&stamp.device)
        {
            self.lock().0.others += 1;
            return;
        }
        let mut seen = self.lock();
        seen.0.record(stamp.as_ref());
        if let Some(stamp) = stamp {
            let at_us = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64;
            seen.1.record(metric, at_us.saturating_sub(stamp.intended_us));
        }
    }
}

struct Observer(Seen);

impl DeliveryObserver for Observer {
    fn observe(&mut self, delivery: &Delivery) {
        self.0
            .record(&delivery.data, delivery.received_at, "pipeline.pubsub");
    }
}

/// Consumers of every subscription telemetry can reach (the telemetry topic and routes).
pub(super) struct PubsubWatch {
    consumers: Vec<Consumer<Observer>>,
    /// What they saw.
    pub(super) seen: Seen,
}

impl PubsubWatch {
    /// Starts consuming from `source`, from the subscriptions of `shard`.
    fn start(scenario: &Scenario, source: &Source, shard: Shard, seen: Seen) -> Self {
        let project = &scenario.project;
        let mut topics = vec![project.telemetry_topic.clone()];
        topics.extend(project.routes.iter().map(|r| r.topic.clone()));
        topics.sort();
        topics.dedup();
        let suffix = subscription_suffix(shard);
        let consumers = topics
            .iter()
            .map(|topic| {
                let subscription = format!("projects/{}/subscriptions/{topic}{suffix}", project.id);
                Consumer::start(source.clone(), subscription, Observer(seen.clone()))
            })
            .collect();
        Self { consumers, seen }
    }

    /// Stops consuming; errors of the consumers are returned as notes.
    pub(super) async fn stop(self) -> Vec<String> {
        let mut notes = Vec::new();
        for consumer in self.consumers {
            if let Err(error) = consumer.stop().await {
                notes.push(format!("Pub/Sub consumer: {error}"));
            }
        }
        notes
    }
}

/// Watches the pushes the embedded verifier accepts, from the authenticated push subscription
/// on the telemetry topic: `pipeline.push` and the push hop's tally. Refused pushes are
/// counted (`push.refused`); Pub/Sub retries them.
pub(super) struct PushWatch {
    task: tokio::task::JoinHandle<()>,
    /// What arrived.
    pub(super) seen: Seen,
}

impl PushWatch {
    /// Starts reading `deliveries`, after forgetting what arrived before (the push cases').
    fn start(mut deliveries: Deliveries, seen: Seen) -> Self {
        while deliveries.try_recv().is_ok() {}
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            while let Some(delivery) = deliveries.recv().await {
                match (&delivery.verdict, &delivery.message) {
                    (Verdict::Accepted, Some(message)) => {
                        sink.record(&message.data, delivery.received_at, "pipeline.push");
                    }
                    _ => sink.lock().1.count("push.refused", 1),
                }
            }
        });
        Self { task, seen }
    }

    /// Stops reading.
    pub(super) fn stop(self) {
        self.task.abort();
    }
}

/// Waits until `seen` holds `expected` distinct messages, or nothing new arrived for `quiet`,
/// or `limit` passed; returns how long it waited.
pub(super) async fn settle(seen: &Seen, expected: u64, quiet: Duration, limit: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    let mut last = (seen.lock().0.received, started);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let received = seen.lock().0.received;
        let now = tokio::time::Instant::now();
        if received != last.0 {
            last = (received, now);
        }
        if seen.lock().0.distinct() >= expected || now - last.1 >= quiet || now - started >= limit {
            return now - started;
        }
    }
}

/// How long the runner waits for stragglers downstream once the fleet stopped: until nothing
/// arrived for `QUIET`, at most `SETTLE_LIMIT`.
const QUIET: Duration = Duration::from_secs(5);
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// One downstream's tally and the fleet's count of acknowledged messages.
pub(super) struct Tally {
    /// What arrived.
    pub(super) seen: Downstream,
    /// Acknowledged messages never seen here.
    pub(super) lost: u64,
    /// Acknowledged messages (QoS 0: sent).
    pub(super) acked: u64,
}

/// What the downstreams saw.
#[derive(Default)]
pub(super) struct Tallies {
    /// The Pub/Sub subscriptions.
    pub(super) pubsub: Option<Tally>,
    /// The push endpoint.
    pub(super) push: Option<Tally>,
}

/// Every downstream watched during a load.
pub(super) struct Downstreams {
    pubsub: Option<PubsubWatch>,
    push: Option<PushWatch>,
}

impl Downstreams {
    /// Starts watching what the scenario can see: Pub/Sub unless the bridge is external and
    /// Pub/Sub embedded (nothing could reach it), pushes when the environment subscribed the
    /// verifier. A shard watches its own subscriptions and counts its own devices only.
    pub(super) fn start(scenario: &Scenario, env: &mut Environment, shard: Shard) -> Self {
        let mine = (!shard.is_whole()).then(|| Arc::new(devices_of(scenario, shard)));
        let reachable = !matches!(
            (&scenario.target.bridge, &scenario.target.pubsub),
            (BridgeTarget::External { .. }, PubsubTarget::Embedded)
        );
        let pubsub = reachable
            .then(|| PubsubWatch::start(scenario, &env.pubsub.source(), shard, Seen::of(mine.clone())));
        let push = env
            .push
            .as_mut()
            .filter(|p| p.subscription.is_some())
            .and_then(|p| p.deliveries.take())
            .filter(|_| reachable)
            .map(|deliveries| PushWatch::start(deliveries, Seen::of(mine)));
        Self { pubsub, push }
    }

    /// Waits for stragglers, stops watching, merges the latencies into `metrics` and tallies
    /// each downstream against what `fleet` had acknowledged.
    pub(super) async fn finish(
        self,
        fleet: &FleetRun,
        metrics: &mut Recorder,
        notes: &mut Vec<String>,
    ) -> Tallies {
        let acked: u64 = fleet.devices.iter().map(|d| d.acked.len()).sum();
        let tally = |seen: &Seen, metrics: &mut Recorder| {
            let (seen, latencies) = std::mem::take(&mut *seen.lock());
            metrics.merge(&latencies);
            let lost = seen.lost(fleet.devices.iter().map(|d| (d.id.as_str(), &d.acked)));
            Tally { seen, lost, acked }
        };
        let mut tallies = Tallies::default();
        match self.pubsub {
            Some(watch) => {
                settle(&watch.seen, acked, QUIET, SETTLE_LIMIT).await;
                let seen = watch.seen.clone();
                notes.extend(watch.stop().await);
                tallies.pubsub = Some(tally(&seen, metrics));
            }
            None => notes.push(
                "the bridge under test is external and Pub/Sub embedded, so nothing downstream was watched: no delivery or loss counts".to_owned(),
            ),
        }
        if let Some(watch) = self.push {
            settle(&watch.seen, acked, QUIET, SETTLE_LIMIT).await;
            let seen = watch.seen.clone();
            watch.stop();
            tallies.push = Some(tally(&seen, metrics));
        }
        if let Some(others) = tallies.pubsub.as_ref().map(|t| t.seen.others).filter(|n| *n > 0) {
            notes.push(format!(
                "{others} messages of other shards' devices arrived in this shard's subscriptions and were left to their shards"
            ));
        }
        if let Some(foreign) = tallies.pubsub.as_ref().map(|t| t.seen.foreign).filter(|n| *n > 0) {
            notes.push(format!(
                "{foreign} messages in the telemetry subscriptions carried no fleetgate stamp"
            ));
        }
        tallies
    }
}
