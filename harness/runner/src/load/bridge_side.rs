//! What the embedded bridge saw during the load: its refusals by reason and its disconnects by
//! cause, which devices cannot see (they get a CONNACK code, or a closed socket).

use fleetgate_bridge::events::{Event, Recorded, Verdict};
use fleetgate_metrics::Recorder;
use fleetgate_metrics::names::refusal_counter;
use tokio::sync::mpsc::UnboundedReceiver;

use super::cohorts::Reasons;
use crate::observe::Observer;

/// Forgets the events recorded so far (those of the conformance cases, which ran before),
/// except what real devices did.
pub(super) fn discard(events: &mut UnboundedReceiver<Recorded>, observer: &mut Observer) {
    while let Ok(recorded) = events.try_recv() {
        observer.record(&recorded);
    }
}

/// Counts every event recorded so far: `refusals.<reason>`, `disconnects.<cause>`,
/// `bridge.dropped` (connections dropped before a CONNECT verdict), and each device's refusals
/// by reason; real devices' events go to the observer too.
pub(super) fn count(
    events: &mut UnboundedReceiver<Recorded>,
    metrics: &mut Recorder,
    observer: &mut Observer,
) -> Reasons {
    let mut reasons = Reasons::new();
    while let Ok(recorded) = events.try_recv() {
        observer.record(&recorded);
        match recorded.event {
            Event::ConnectAttempt(attempt) => {
                if let Verdict::Refused { reason, .. } = attempt.verdict {
                    metrics.count(&refusal_counter(&reason), 1);
                    if let Some(device) = attempt.device {
                        *reasons.entry(device).or_default().entry(reason).or_default() += 1;
                    }
                }
            }
            Event::Dropped { .. } => metrics.count("bridge.dropped", 1),
            Event::Disconnected { cause, .. } => {
                metrics.count(&format!("disconnects.{}", cause.id()), 1);
            }
            Event::Packet { .. } | Event::Forwarded { .. } => {}
        }
    }
    reasons
}
