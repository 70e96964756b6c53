//! Turns device observations into metrics (the worker's shard) and live progress counters;
//! with a [`Scope`], every measurement is also recorded under the device's cohort.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use fleetgate_identity::Alg;
use fleetgate_metrics::Recorder;
use fleetgate_metrics::names::{COHORT_PREFIX, CONNECT_ERRORS_PREFIX, refusal_counter};

use super::Session;
use crate::device::{ConnectReason, MessageKind, Observation};

/// Metrics every device records; a [`Scope`] renders each once under its cohort.
const SCOPED: &[&str] = &[
    "connect",
    "publish.puback",
    "publish.puback.actual",
    "sign.rs256",
    "sign.es256",
    "connects.attempts",
    "connects.accepted",
    "connects.failed",
    "connects.refused",
    "connack.1",
    "connack.2",
    "connack.3",
    "connack.4",
    "connack.5",
    "connections.lost",
    "reconnects",
    "token.refreshes",
    "messages.sent",
    "messages.acked",
    "messages.dropped_by_device",
    "messages.publish_failed",
    "messages.unacked",
    "state.updates",
    "config.received",
    "commands.received",
    "client.errors",
];

/// One cohort's metric names: `cohort.<name>.<metric>`, rendered once.
#[derive(Debug)]
pub struct Scope {
    names: HashMap<&'static str, String>,
}

impl Scope {
    /// The names of cohort `cohort`.
    pub fn new(cohort: &str) -> Self {
        Self {
            names: SCOPED
                .iter()
                .map(|name| (*name, format!("{COHORT_PREFIX}{cohort}.{name}")))
                .collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.names.get(name).map(String::as_str)
    }
}

/// A worker's recorder, recording each measurement for the fleet and for the device's cohort.
struct Scoped<'a> {
    recorder: &'a mut Recorder,
    scope: Option<&'a Scope>,
}

impl Scoped<'_> {
    fn count(&mut self, name: &str, n: u64) {
        self.recorder.count(name, n);
        if let Some(scoped) = self.scope.and_then(|s| s.get(name)) {
            self.recorder.count(scoped, n);
        }
    }

    fn duration(&mut self, name: &str, value: Duration) {
        self.recorder.record_duration(name, value);
        if let Some(scoped) = self.scope.and_then(|s| s.get(name)) {
            self.recorder.record_duration(scoped, value);
        }
    }
}

/// Runs `f` on the session's worker recorder, scoped to its cohort.
fn with(session: &Session<'_>, f: impl FnOnce(&mut Scoped<'_>)) {
    let scope = session.identity.scope.as_deref();
    session.shared.shards.with(session.worker, |recorder| {
        f(&mut Scoped { recorder, scope });
    });
}

/// Counters a progress display reads while the run goes on.
#[derive(Debug, Default)]
pub struct Live {
    fleet: AtomicI64,
    all_up: OnceLock<Instant>,
    connected: AtomicI64,
    attempts: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
}

/// A reading of [`Live`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveReading {
    /// Devices connected now.
    pub connected: u64,
    /// Connect attempts so far (accepted, refused, or ended before a CONNACK).
    pub attempts: u64,
    /// Telemetry messages sent so far.
    pub sent: u64,
    /// Telemetry messages acknowledged so far.
    pub acked: u64,
    /// Refusals, lost connections and client errors so far.
    pub errors: u64,
}

impl Live {
    /// The counters now.
    pub fn read(&self) -> LiveReading {
        LiveReading {
            connected: self.connected.load(Ordering::Relaxed).max(0) as u64,
            attempts: self.attempts.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// Sets the fleet size, so that the moment every device is connected is noted.
    pub fn expect(&self, devices: u64) {
        self.fleet
            .store(i64::try_from(devices).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// When every device of the fleet was first connected at once.
    pub fn all_connected_at(&self) -> Option<Instant> {
        self.all_up.get().copied()
    }

    pub(super) fn connected(&self, up: bool) {
        let step = if up { 1 } else { -1 };
        let now = self.connected.fetch_add(step, Ordering::Relaxed) + step;
        if up && now == self.fleet.load(Ordering::Relaxed) {
            let _ = self.all_up.set(Instant::now());
        }
    }

    pub(super) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Records `observation` of the session's device.
pub(super) fn observe(session: &mut Session<'_>, observation: Observation) {
    let live = &session.shared.live;
    match observation {
        Observation::Connected { reason, latency } => {
            session.set_online(true);
            with(session, |r| {
                r.duration("connect", latency);
                r.count("connects.accepted", 1);
                match reason {
                    ConnectReason::Refresh => r.count("token.refreshes", 1),
                    ConnectReason::Retry | ConnectReason::Churn => r.count("reconnects", 1),
                    ConnectReason::Start => {}
                }
            });
        }
        Observation::Refused(code) => {
            live.error();
            with(session, |r| {
                r.count("connects.refused", 1);
                r.count(&format!("connack.{code}"), 1);
            });
        }
        Observation::ConnectionLost => {
            session.set_online(false);
            session.shared.live.error();
            with(session, |r| r.count("connections.lost", 1));
        }
        Observation::Sent(kind) => {
            let counter = match kind {
                MessageKind::Telemetry => {
                    live.sent.fetch_add(1, Ordering::Relaxed);
                    "messages.sent"
                }
                MessageKind::State => "state.updates",
            };
            with(session, |r| r.count(counter, 1));
        }
        Observation::Acked {
            from_intended,
            from_sent,
        } => {
            live.acked.fetch_add(1, Ordering::Relaxed);
            with(session, |r| {
                r.duration("publish.puback", from_intended);
                r.duration("publish.puback.actual", from_sent);
                r.count("messages.acked", 1);
            });
        }
        Observation::Dropped(n) => with(session, |r| r.count("messages.dropped_by_device", n)),
        Observation::Unconfirmed(n) => with(session, |r| r.count("messages.publish_failed", n)),
        Observation::Unacked(n) => with(session, |r| r.count("messages.unacked", n)),
        Observation::Config => with(session, |r| r.count("config.received", 1)),
        Observation::Command => with(session, |r| r.count("commands.received", 1)),
    }
}

/// Records one JWT minted in `took`.
pub(super) fn signed(session: &Session<'_>, took: Duration) {
    let metric = match session.identity.alg {
        Alg::Rs256 => "sign.rs256",
        Alg::Es256 => "sign.es256",
    };
    with(session, |r| r.duration(metric, took));
}

/// Records a JWT that could not be minted; the device stays offline and backs off.
pub(super) fn mint_failed(session: &Session<'_>) {
    session.shared.live.error();
    with(session, |r| r.count(&refusal_counter("mint-failed"), 1));
}

/// Records a connect attempt started (CONNECT about to go out).
pub(super) fn attempt(session: &Session<'_>) {
    session.shared.live.attempts.fetch_add(1, Ordering::Relaxed);
    with(session, |r| r.count("connects.attempts", 1));
}

/// Records a connect attempt that ended before any CONNACK, by its cause
/// (`connect_errors.<cause>`).
pub(super) fn connect_failed(session: &Session<'_>, cause: &str) {
    session.shared.live.error();
    let counter = format!("{CONNECT_ERRORS_PREFIX}{cause}");
    with(session, |r| {
        r.count("connects.failed", 1);
        r.count(&counter, 1);
    });
}

/// Records a publish without a connection to take it.
pub(super) fn client_error(session: &Session<'_>) {
    session.shared.live.error();
    with(session, |r| r.count("client.errors", 1));
}
