//! What the embedded bridge saw during the load: its refusals by reason and its disconnects by
//! cause, which devices cannot see (they get a CONNACK code, or a closed socket).

use fleetgate_bridge::events::{Event, Recorded, Verdict};
use fleetgate_metrics::Recorder;
use fleetgate_metrics::names::refusal_counter;
use tokio::sync::mpsc::UnboundedReceiver;

/// Forgets the events recorded so far (those of the conformance cases, which ran before).
pub(super) fn discard(events: &mut UnboundedReceiver<Recorded>) {
    while events.try_recv().is_ok() {}
}

/// Counts every event recorded so far: `refusals.<reason>`, `disconnects.<cause>`,
/// `bridge.dropped` (connections dropped before a CONNECT verdict).
pub(super) fn count(events: &mut UnboundedReceiver<Recorded>, metrics: &mut Recorder) {
    while let Ok(recorded) = events.try_recv() {
        match recorded.event {
            Event::ConnectAttempt(attempt) => {
                if let Verdict::Refused { reason, .. } = attempt.verdict {
                    metrics.count(&refusal_counter(&reason), 1);
                }
            }
            Event::Dropped { .. } => metrics.count("bridge.dropped", 1),
            Event::Disconnected { cause, .. } => {
                metrics.count(&format!("disconnects.{}", cause.id()), 1);
            }
        }
    }
}
