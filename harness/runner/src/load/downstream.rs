//! Watching what reaches Pub/Sub: every telemetry subscription is consumed while the fleet
//! runs, each payload's stamp is tallied (delivered, duplicated, reordered) and its intended
//! send time gives `pipeline.pubsub`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_fleet::payload;
use fleetgate_fleet::tally::Downstream;
use fleetgate_metrics::Recorder;
use fleetgate_pubsub::consumer::{Consumer, Delivery, DeliveryObserver, Source};
use fleetgate_scenario::Scenario;

/// What one downstream saw, shared between its consumers and the runner.
#[derive(Clone, Debug, Default)]
pub(super) struct Seen(Arc<Mutex<(Downstream, Recorder)>>);

impl Seen {
    /// The tally and the latencies so far.
    pub(super) fn lock(&self) -> MutexGuard<'_, (Downstream, Recorder)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a payload received at `at` into `metric`.
    pub(super) fn record(&self, data: &[u8], at: SystemTime, metric: &str) {
        let stamp = payload::decode(data);
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
    /// Starts consuming from `source`.
    pub(super) fn start(scenario: &Scenario, source: &Source) -> Self {
        let project = &scenario.project;
        let mut topics = vec![project.telemetry_topic.clone()];
        topics.extend(project.routes.iter().map(|r| r.topic.clone()));
        topics.sort();
        topics.dedup();
        let seen = Seen::default();
        let consumers = topics
            .iter()
            .map(|topic| {
                let subscription = format!("projects/{}/subscriptions/{topic}-fleetgate", project.id);
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
