//! Fault injection, from the scenario, the admin API or device qualification: refuse a
//! device's next N connects, leave its next CONNECTs unanswered, drop its connection instead of
//! acknowledging its next telemetry, delay PUBACKs, stall forwarding to Pub/Sub, take the
//! listener down for a while (for everyone, or for one peer address), present another TLS
//! certificate to one peer address. Dropping one device's connection is
//! [`Bridge::disconnect`](crate::Bridge::disconnect).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_rustls::rustls::ServerConfig;

use crate::server::DeviceRegistry;
use crate::session::{AuthVerdict, ConfigVersion, DeviceInfo, Registry, UnixMillis};

/// The refusal reason of an injected connect refusal.
pub const REFUSED_BY_FAULT: &str = "fault-injected";

/// The faults in force.
#[derive(Debug)]
pub struct Faults {
    refusals: Mutex<HashMap<String, u32>>,
    withheld: Mutex<HashMap<String, u32>>,
    unacknowledged: Mutex<HashSet<String>>,
    puback_delay_ms: AtomicU64,
    stalled: watch::Sender<bool>,
    down_until: Mutex<Option<UnixMillis>>,
    peers_down: Mutex<HashMap<IpAddr, UnixMillis>>,
    peer_tls: Mutex<HashMap<IpAddr, Arc<ServerConfig>>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            refusals: Mutex::new(HashMap::new()),
            withheld: Mutex::new(HashMap::new()),
            unacknowledged: Mutex::new(HashSet::new()),
            puback_delay_ms: AtomicU64::new(0),
            stalled: watch::Sender::new(false),
            down_until: Mutex::new(None),
            peers_down: Mutex::new(HashMap::new()),
            peer_tls: Mutex::new(HashMap::new()),
        }
    }
}

/// Sets or clears a per-device countdown.
fn set_count(map: &Mutex<HashMap<String, u32>>, device: &str, count: u32) {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    if count == 0 {
        map.remove(device);
    } else {
        map.insert(device.to_owned(), count);
    }
}

/// Takes one from a per-device countdown; true when there was one to take.
fn take_count(map: &Mutex<HashMap<String, u32>>, device: &str) -> bool {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    match map.get_mut(device) {
        Some(left) => {
            *left -= 1;
            if *left == 0 {
                map.remove(device);
            }
            true
        }
        None => false,
    }
}

/// What is in force now, for the admin API.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultState {
    /// Connects still to refuse, by device.
    pub refusals: std::collections::BTreeMap<String, u32>,
    /// Connects still to leave unanswered, by device.
    pub withheld_connacks: std::collections::BTreeMap<String, u32>,
    /// PUBACK delay in milliseconds.
    pub puback_delay_ms: u64,
    /// Whether forwarding is stalled.
    pub forwarding_stalled: bool,
    /// Until when the listener refuses connections.
    pub listener_down_until: Option<UnixMillis>,
}

impl Faults {
    /// Refuses the device's next `count` connects (CONNACK with the profile's auth code).
    pub fn refuse_next(&self, device: &str, count: u32) {
        set_count(&self.refusals, device, count);
    }

    fn take_refusal(&self, device: &str) -> bool {
        take_count(&self.refusals, device)
    }

    /// Leaves the device's next `count` valid CONNECTs unanswered: no CONNACK, the connection
    /// left open until the device gives up.
    pub fn withhold_next(&self, device: &str, count: u32) {
        set_count(&self.withheld, device, count);
    }

    /// Closes the device's connection instead of acknowledging its next QoS 1 telemetry, which
    /// is not forwarded: a device that re-sends unacknowledged messages sends it again.
    pub fn drop_before_next_puback(&self, device: &str, armed: bool) {
        let mut unacknowledged = self.unacknowledged.lock().unwrap_or_else(PoisonError::into_inner);
        if armed {
            unacknowledged.insert(device.to_owned());
        } else {
            unacknowledged.remove(device);
        }
    }

    /// Whether to drop this telemetry's connection instead of acknowledging it (taking the
    /// fault once).
    pub(crate) fn take_drop_before_puback(&self, device: &str) -> bool {
        self.unacknowledged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(device)
    }

    /// Refuses connections from `peer` until `until` (they are closed as soon as accepted);
    /// `None` ends the outage.
    pub fn take_down_for(&self, peer: IpAddr, until: Option<UnixMillis>) {
        let mut down = self.peers_down.lock().unwrap_or_else(PoisonError::into_inner);
        match until {
            Some(until) => down.insert(peer, until),
            None => down.remove(&peer),
        };
    }

    /// Whether connections from `peer` are refused at `now`.
    pub fn down_for(&self, peer: IpAddr, now: UnixMillis) -> bool {
        self.listener_down(now)
            || self
                .peers_down
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&peer)
                .is_some_and(|until| now < *until)
    }

    /// Presents `config`'s certificate to connections from `peer` instead of the bridge's own;
    /// `None` restores the bridge's own.
    pub fn present_tls(&self, peer: IpAddr, config: Option<Arc<ServerConfig>>) {
        let mut tls = self.peer_tls.lock().unwrap_or_else(PoisonError::into_inner);
        match config {
            Some(config) => tls.insert(peer, config),
            None => tls.remove(&peer),
        };
    }

    /// The TLS configuration presented to `peer` instead of the bridge's own, if any.
    pub(crate) fn tls_for(&self, peer: IpAddr) -> Option<Arc<ServerConfig>> {
        self.peer_tls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&peer)
            .cloned()
    }

    /// Delays every PUBACK of telemetry by `delay` after Pub/Sub accepted it.
    pub fn delay_pubacks(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.puback_delay_ms.store(millis, Ordering::Relaxed);
    }

    /// The PUBACK delay in force.
    pub fn puback_delay(&self) -> Duration {
        Duration::from_millis(self.puback_delay_ms.load(Ordering::Relaxed))
    }

    /// Stalls (or resumes) forwarding: stalled telemetry waits, unacknowledged, until resumed.
    pub fn stall_forwarding(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    /// Waits while forwarding is stalled.
    pub async fn forwarding_open(&self) {
        let mut stalled = self.stalled.subscribe();
        let _ = stalled.wait_for(|s| !*s).await;
    }

    /// Refuses connections until `until`.
    pub fn take_down_until(&self, until: UnixMillis) {
        *self.down_until.lock().unwrap_or_else(PoisonError::into_inner) = Some(until);
    }

    /// Whether the listener refuses connections at `now`.
    pub fn listener_down(&self, now: UnixMillis) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|until| now < until)
    }

    /// What is in force.
    pub fn state(&self) -> FaultState {
        FaultState {
            refusals: self
                .refusals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            withheld_connacks: self
                .withheld
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            puback_delay_ms: self.puback_delay_ms.load(Ordering::Relaxed),
            forwarding_stalled: *self.stalled.borrow(),
            listener_down_until: *self.down_until.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// The registry as a session sees it, with injected connect refusals applied.
pub(crate) struct Faulty<'a> {
    pub(crate) registry: &'a dyn DeviceRegistry,
    pub(crate) faults: &'a Faults,
}

impl Registry for Faulty<'_> {
    fn device(&self, id: &str) -> Option<DeviceInfo> {
        self.registry.device(id)
    }

    fn is_bound(&self, gateway: &str, device: &str) -> bool {
        self.registry.is_bound(gateway, device)
    }

    fn authenticate(&self, device: &str, jwt: &str, now_secs: i64) -> AuthVerdict {
        let mut verdict = self.registry.authenticate(device, jwt, now_secs);
        if verdict.result.is_ok() && self.faults.take_refusal(device) {
            verdict.result = Err(REFUSED_BY_FAULT.to_owned());
        }
        verdict
    }

    fn latest_config(&self, device: &str) -> Option<ConfigVersion> {
        self.registry.latest_config(device)
    }

    fn withhold_connack(&self, device: &str) -> bool {
        take_count(&self.faults.withheld, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_count_down_per_device() {
        let faults = Faults::default();
        faults.refuse_next("pi-1", 2);
        assert!(faults.take_refusal("pi-1"));
        assert!(!faults.take_refusal("pi-2"));
        assert!(faults.take_refusal("pi-1"));
        assert!(!faults.take_refusal("pi-1"));
        assert_eq!(faults.state().refusals.len(), 0);
    }

    #[test]
    fn withheld_connacks_and_dropped_pubacks_are_taken_once_per_arming() {
        let faults = Faults::default();
        faults.withhold_next("pi-1", 1);
        assert!(take_count(&faults.withheld, "pi-1"));
        assert!(!take_count(&faults.withheld, "pi-1"));
        faults.drop_before_next_puback("pi-1", true);
        assert!(!faults.take_drop_before_puback("pi-2"));
        assert!(faults.take_drop_before_puback("pi-1"));
        assert!(!faults.take_drop_before_puback("pi-1"));
    }

    #[test]
    fn one_peer_can_be_down_while_others_connect() {
        let faults = Faults::default();
        let (a, b) = (IpAddr::from([127, 0, 0, 2]), IpAddr::from([127, 0, 0, 3]));
        faults.take_down_for(a, Some(200));
        assert!(faults.down_for(a, 100));
        assert!(!faults.down_for(b, 100));
        assert!(!faults.down_for(a, 200));
        faults.take_down_for(a, Some(500));
        faults.take_down_for(a, None);
        assert!(!faults.down_for(a, 300));
    }

    #[test]
    fn the_listener_is_down_until_the_given_time() {
        let faults = Faults::default();
        assert!(!faults.listener_down(100));
        faults.take_down_until(200);
        assert!(faults.listener_down(199));
        assert!(!faults.listener_down(200));
    }
}
