use super::*;
use crate::backoff::BackoffPolicy;
use crate::payload::PayloadKind;

const S: Duration = Duration::from_secs(1);

fn spec(queue_limit: usize) -> DeviceSpec {
    DeviceSpec {
        telemetry: Some(TelemetrySpec {
            every: S,
            schedule: ScheduleKind::Fixed,
            payload_bytes: 100,
            kind: PayloadKind::Json,
            qos: 1,
            subfolder: None,
            count: None,
        }),
        queue_limit,
        backoff: BackoffPolicy {
            min: S,
            max: 8 * S,
            multiplier: 2.0,
        },
        token: TokenPolicy {
            lifetime: 100 * S,
            refresh_at: 0.75,
        },
        ..DeviceSpec::default()
    }
}

/// A device and the actions it has returned so far.
struct Sim {
    device: Device,
    now: Duration,
}

impl Sim {
    fn new(spec: DeviceSpec, windows: &[(u32, u32)]) -> Self {
        let windows = windows
            .iter()
            .map(|&(a, b)| Window {
                start: S * a,
                stop: S * b,
                churn_per_min: 0.0,
            })
            .collect();
        Self {
            device: Device::new(Arc::new(spec), windows, Rng::new(1, 1)),
            now: Duration::ZERO,
        }
    }

    /// Runs every deadline up to `until` and returns what the device did.
    fn run_until(&mut self, until: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(next) = self.device.next_deadline().filter(|t| *t <= until) {
            self.now = self.now.max(next);
            self.device.tick(self.now, &mut out);
        }
        self.now = until;
        self.device.tick(until, &mut out);
        out
    }

    fn feed(&mut self, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        self.device.handle(self.now, input, &mut out);
        out
    }
}

fn publishes(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Publish(m) => Some(m.seq),
            _ => None,
        })
        .collect()
}

fn observed(actions: &[Action]) -> Vec<Observation> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Observe(o) => Some(*o),
            _ => None,
        })
        .collect()
}

#[test]
fn connects_at_window_start_queues_until_connack_then_publishes_and_measures_acks() {
    let mut sim = Sim::new(spec(100), &[(2, 60)]);
    assert_eq!(sim.device.next_deadline(), Some(2 * S));
    let actions = sim.run_until(2 * S);
    assert_eq!(actions, [Action::Connect(ConnectReason::Start)]);
    // Two messages fall due before the CONNACK: queued, not lost.
    let actions = sim.run_until(4 * S);
    assert!(publishes(&actions).is_empty());
    let actions = sim.feed(Input::ConnAck);
    assert!(matches!(
        actions[0],
        Action::Observe(Observation::Connected {
            reason: ConnectReason::Start,
            latency
        }) if latency == 2 * S
    ));
    assert_eq!(actions[1], Action::Subscribe);
    assert_eq!(publishes(&actions), [0, 1]);
    sim.feed(Input::Sent(1));
    sim.feed(Input::Sent(2));
    sim.now += Duration::from_millis(30);
    let acked = observed(&sim.feed(Input::PubAck(1)));
    let Observation::Acked {
        from_intended,
        from_sent,
    } = acked[0]
    else {
        panic!("{acked:?}")
    };
    assert_eq!(from_sent, Duration::from_millis(30));
    assert!(from_intended > from_sent, "the wait for the connection counts");
    assert!(sim.device.acked().contains(0) && !sim.device.acked().contains(1));
}

#[test]
fn a_lost_connection_requeues_everything_unacknowledged_and_retries_after_backoff() {
    let mut sim = Sim::new(spec(100), &[(0, 600)]);
    sim.run_until(Duration::ZERO);
    sim.feed(Input::ConnAck);
    let actions = sim.run_until(3 * S);
    assert_eq!(publishes(&actions), [0, 1, 2]);
    sim.feed(Input::Sent(1));
    sim.feed(Input::Sent(2));
    sim.feed(Input::PubAck(1));
    let actions = sim.feed(Input::Down);
    assert_eq!(
        observed(&actions),
        [Observation::Unconfirmed(1), Observation::ConnectionLost]
    );
    let retry = sim.device.next_deadline().unwrap();
    // Backoff after one failure: between min/2 and min, but telemetry keeps its schedule.
    let actions = sim.run_until(sim.now + S);
    assert!(
        actions.contains(&Action::Connect(ConnectReason::Retry)),
        "{actions:?} {retry:?}"
    );
    let actions = sim.feed(Input::ConnAck);
    assert_eq!(
        publishes(&actions),
        [1, 2, 3],
        "unacked 1 and 2 resent in order, then 3"
    );
}

#[test]
fn consecutive_refusals_back_off_exponentially() {
    let mut sim = Sim::new(spec(100), &[(0, 600)]);
    sim.run_until(Duration::ZERO);
    let mut waits = Vec::new();
    for _ in 0..4 {
        let actions = sim.feed(Input::Refused(5));
        assert_eq!(observed(&actions), [Observation::Refused(5)]);
        let at = sim.device.next_deadline().unwrap();
        let retry = match sim.device.link {
            Link::Waiting(t) => t,
            other => panic!("{other:?}"),
        };
        assert!(at <= retry);
        waits.push((retry - sim.now).as_secs_f64());
        let actions = sim.run_until(retry);
        assert!(actions.contains(&Action::Connect(ConnectReason::Retry)));
    }
    for (n, wait) in waits.iter().enumerate() {
        let ceiling = f64::from(1u32 << n);
        assert!(
            (ceiling / 2.0..=ceiling).contains(wait),
            "failure {}: {wait}",
            n + 1
        );
    }
}

#[test]
fn the_token_is_refreshed_at_its_share_of_the_lifetime_by_reconnecting() {
    let mut sim = Sim::new(
        DeviceSpec {
            telemetry: None,
            ..spec(10)
        },
        &[(0, 600)],
    );
    sim.run_until(Duration::ZERO);
    sim.feed(Input::ConnAck);
    assert!(!sim.run_until(74 * S).contains(&Action::Disconnect));
    assert_eq!(sim.run_until(75 * S), [Action::Disconnect]);
    let actions = sim.feed(Input::Down);
    assert_eq!(actions, [Action::Connect(ConnectReason::Refresh)]);
    let actions = sim.feed(Input::ConnAck);
    assert!(matches!(
        actions[0],
        Action::Observe(Observation::Connected {
            reason: ConnectReason::Refresh,
            ..
        })
    ));
}

#[test]
fn a_full_offline_queue_drops_its_oldest_messages_and_counts_them() {
    let mut sim = Sim::new(spec(3), &[(0, 600)]);
    sim.run_until(Duration::ZERO);
    sim.feed(Input::Refused(5));
    sim.device.link = Link::Waiting(1000 * S);
    let actions = sim.run_until(6 * S);
    let dropped: u64 = observed(&actions)
        .iter()
        .map(|o| match o {
            Observation::Dropped(n) => *n,
            _ => 0,
        })
        .sum();
    let queued: Vec<u64> = sim.device.queue.iter().map(|m| m.seq).collect();
    assert_eq!(queued.len(), 3);
    assert_eq!(
        dropped + 3,
        *queued.last().unwrap() + 1,
        "every message is queued or counted"
    );
    assert_eq!(queued, [dropped, dropped + 1, dropped + 2], "the newest are kept");
}

#[test]
fn a_window_end_drains_acks_then_disconnects_and_reports_what_never_got_acked() {
    let mut sim = Sim::new(spec(100), &[(0, 3)]);
    sim.run_until(Duration::ZERO);
    sim.feed(Input::ConnAck);
    let actions = sim.run_until(3 * S);
    assert_eq!(publishes(&actions), [0, 1, 2]);
    assert!(!actions.contains(&Action::Disconnect), "waits for the PUBACKs");
    sim.feed(Input::Sent(1));
    sim.feed(Input::Sent(2));
    sim.feed(Input::Sent(3));
    sim.feed(Input::PubAck(1));
    // The drain timeout passes with two PUBACKs missing.
    let actions = sim.run_until(sim.now + 10 * S);
    assert!(actions.contains(&Action::Disconnect));
    let actions = sim.feed(Input::Down);
    assert_eq!(
        observed(&actions),
        [Observation::Unconfirmed(2), Observation::Unacked(2)]
    );
    assert!(sim.device.is_done());
    assert_eq!(sim.device.next_deadline(), None);
}

#[test]
fn a_device_comes_back_for_the_next_window_with_its_sequence_continuing() {
    let mut sim = Sim::new(spec(100), &[(0, 2), (10, 12)]);
    sim.run_until(Duration::ZERO);
    sim.feed(Input::ConnAck);
    let first = publishes(&sim.run_until(2 * S));
    let mut actions = Vec::new();
    for (pkid, _) in first.iter().enumerate() {
        actions.extend(sim.feed(Input::Sent(pkid as u16 + 1)));
        actions.extend(sim.feed(Input::PubAck(pkid as u16 + 1)));
    }
    assert_eq!(
        actions.last(),
        Some(&Action::Disconnect),
        "closes after the last PUBACK"
    );
    assert_eq!(observed(&sim.feed(Input::Down)), []);
    assert!(!sim.device.is_done());
    let actions = sim.run_until(10 * S);
    assert_eq!(actions.first(), Some(&Action::Connect(ConnectReason::Start)));
    sim.feed(Input::ConnAck);
    let second = publishes(&sim.run_until(11 * S));
    assert_eq!(second.first().copied(), Some(first.len() as u64));
}

#[test]
fn a_device_with_a_count_stops_for_good_once_all_its_messages_are_acknowledged() {
    let mut spec = spec(100);
    if let Some(t) = spec.telemetry.as_mut() {
        t.count = Some(3);
    }
    let mut sim = Sim::new(spec, &[(0, 600), (700, 800)]);
    sim.run_until(Duration::ZERO);
    sim.feed(Input::ConnAck);
    let sent = publishes(&sim.run_until(10 * S));
    assert_eq!(sent, [0, 1, 2], "exactly the count");
    let mut actions = Vec::new();
    for pkid in 1..=3 {
        actions.extend(sim.feed(Input::Sent(pkid)));
        actions.extend(sim.feed(Input::PubAck(pkid)));
    }
    assert_eq!(actions.last(), Some(&Action::Disconnect));
    sim.feed(Input::Down);
    assert!(sim.device.is_done(), "later windows are given up");
}
