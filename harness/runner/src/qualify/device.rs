//! One device under qualification: its events as they arrive (its own, and connections from
//! its address that failed before naming a device), the history of what it did, and the
//! bridge's levers on it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use fleetgate_bridge::Bridge;
use fleetgate_bridge::events::{ConnectAttempt, Event, Recorded, Verdict};
use fleetgate_bridge::registry::Store;
use fleetgate_bridge::tls::{BadCertificate, TlsMaterial};
use fleetgate_report::Verdict as CaseVerdict;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::catalogue::{DeviceCase, Settings};

/// How long a connection is left alone after CONNACK before a case closes it, in ms.
pub(crate) const SETTLE_MS: i64 = 1000;

/// What every device's cases share.
pub(crate) struct Shared {
    /// The embedded bridge.
    pub bridge: Bridge,
    /// Its registry (configs are set here).
    pub store: Arc<Store>,
    /// Its TLS material, when it serves TLS.
    pub tls: Option<Arc<TlsMaterial>>,
    /// The project id, the `aud` a device must present.
    pub project: String,
    /// The bridge's skew, seconds.
    pub skew_secs: i64,
    /// The scenario's case parameters.
    pub settings: fleetgate_scenario::model::CaseSettings,
}

impl Shared {
    pub(crate) fn settings(&self, case: DeviceCase) -> Settings {
        let skew = Duration::from_secs(u64::try_from(self.skew_secs).unwrap_or(600));
        Settings::of(case, &self.settings.params(case.id()), skew)
    }

    /// The bridge configuration presenting a certificate a device must refuse.
    pub(crate) fn bad_tls(
        &self,
        which: BadCertificate,
    ) -> Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>, String> {
        match &self.tls {
            None => Ok(None),
            Some(tls) => tls.bad(which).map_err(|e| e.to_string()),
        }
    }
}

/// A case's verdict and what it rests on.
pub(crate) struct Finding {
    pub verdict: CaseVerdict,
    pub message: Option<String>,
    pub evidence: BTreeMap<String, String>,
}

impl Finding {
    pub(crate) fn passed() -> Self {
        Self {
            verdict: CaseVerdict::Passed,
            message: None,
            evidence: BTreeMap::new(),
        }
    }

    pub(crate) fn failed(why: impl Into<String>) -> Self {
        Self {
            verdict: CaseVerdict::Failed,
            message: Some(why.into()),
            evidence: BTreeMap::new(),
        }
    }

    pub(crate) fn skipped(why: impl Into<String>) -> Self {
        Self {
            verdict: CaseVerdict::Skipped,
            message: Some(why.into()),
            evidence: BTreeMap::new(),
        }
    }

    /// Fails with `why` unless `holds`.
    pub(crate) fn unless(holds: bool, why: impl Into<String>) -> Self {
        if holds { Self::passed() } else { Self::failed(why) }
    }

    pub(crate) fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.evidence.insert(key.to_owned(), value.to_string());
        self
    }
}

/// One device under qualification.
pub(crate) struct Device {
    /// Its id.
    pub id: String,
    /// The address it connects from.
    pub ip: IpAddr,
    inbox: mpsc::UnboundedReceiver<Recorded>,
    /// Every event taken from the inbox, oldest first.
    pub history: Vec<Recorded>,
    /// What the cases share.
    pub shared: Arc<Shared>,
}

/// The connect attempt of an event, if it is one.
pub(crate) fn attempt(recorded: &Recorded) -> Option<&ConnectAttempt> {
    match &recorded.event {
        Event::ConnectAttempt(a) => Some(a),
        _ => None,
    }
}

/// Seconds between two bridge times, for evidence.
pub(crate) fn secs(from_ms: i64, to_ms: i64) -> f64 {
    ((to_ms - from_ms) as f64 / 10.0).round() / 100.0
}

/// A list of seconds, for evidence.
pub(crate) fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Device {
    pub(crate) fn new(
        id: String,
        ip: IpAddr,
        inbox: mpsc::UnboundedReceiver<Recorded>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            id,
            ip,
            inbox,
            history: Vec::new(),
            shared,
        }
    }

    /// The next event, or `None` at `until`.
    pub(crate) async fn next(&mut self, until: Instant) -> Option<Recorded> {
        let recorded = tokio::time::timeout_at(until, self.inbox.recv()).await.ok()??;
        self.history.push(recorded.clone());
        Some(recorded)
    }

    /// The first event `want` accepts, or `None` at `until`.
    pub(crate) async fn wait_for(
        &mut self,
        until: Instant,
        want: impl Fn(&Recorded) -> bool,
    ) -> Option<Recorded> {
        while let Some(recorded) = self.next(until).await {
            if want(&recorded) {
                return Some(recorded);
            }
        }
        None
    }

    /// Takes every event that has arrived into the history.
    pub(crate) fn drain(&mut self) {
        while let Ok(recorded) = self.inbox.try_recv() {
            self.history.push(recorded);
        }
    }

    /// The position in the history of the last accepted CONNECT, while its connection is open.
    pub(crate) fn open_since(&self) -> Option<usize> {
        for (i, recorded) in self.history.iter().enumerate().rev() {
            match &recorded.event {
                Event::Disconnected { .. } => return None,
                Event::ConnectAttempt(a) if a.verdict == Verdict::Accepted => return Some(i),
                _ => {}
            }
        }
        None
    }

    /// The accepted CONNECT of the open connection.
    pub(crate) fn current(&self) -> Option<&ConnectAttempt> {
        self.open_since().and_then(|i| attempt(&self.history[i]))
    }

    /// Waits until the device is connected and its connection has settled (been open for
    /// [`SETTLE_MS`], so that what a device does right after CONNACK — subscribing, re-sending,
    /// queued telemetry — is not cut off by a case that closes the connection); the reason
    /// when that does not happen within `limit`.
    pub(crate) async fn connected(&mut self, limit: Duration) -> Result<(), String> {
        let until = Instant::now() + limit;
        loop {
            self.drain();
            let wake = match self.open_since() {
                Some(i) => {
                    let left = self.history[i].at + SETTLE_MS - self.shared.bridge.now();
                    if left <= 0 {
                        return Ok(());
                    }
                    (Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(0))).min(until)
                }
                None => until,
            };
            if self.next(wake).await.is_none() && Instant::now() >= until {
                return Err(format!(
                    "not judged: the device was not connected, and did not connect within {}s",
                    limit.as_secs()
                ));
            }
        }
    }

    /// Closes the device's connection as `cause` would, and waits for the close to be recorded.
    pub(crate) async fn close(&mut self, cause: fleetgate_bridge::events::Cause) {
        if self.shared.bridge.close(&self.id, cause).await {
            let until = Instant::now() + Duration::from_secs(5);
            self.wait_for(until, |r| matches!(r.event, Event::Disconnected { .. }))
                .await;
        }
    }
}
