//! Fault injection, from the scenario or the admin API: refuse a device's next N connects,
//! delay PUBACKs, stall forwarding to Pub/Sub, take the listener down for a while. Dropping one
//! device's connection is [`Bridge::disconnect`](crate::Bridge::disconnect).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::server::DeviceRegistry;
use crate::session::{AuthVerdict, ConfigVersion, DeviceInfo, Registry, UnixMillis};

/// The refusal reason of an injected connect refusal.
pub const REFUSED_BY_FAULT: &str = "fault-injected";

/// The faults in force.
#[derive(Debug)]
pub struct Faults {
    refusals: Mutex<HashMap<String, u32>>,
    puback_delay_ms: AtomicU64,
    stalled: watch::Sender<bool>,
    down_until: Mutex<Option<UnixMillis>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            refusals: Mutex::new(HashMap::new()),
            puback_delay_ms: AtomicU64::new(0),
            stalled: watch::Sender::new(false),
            down_until: Mutex::new(None),
        }
    }
}

/// What is in force now, for the admin API.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultState {
    /// Connects still to refuse, by device.
    pub refusals: std::collections::BTreeMap<String, u32>,
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
        let mut refusals = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        if count == 0 {
            refusals.remove(device);
        } else {
            refusals.insert(device.to_owned(), count);
        }
    }

    fn take_refusal(&self, device: &str) -> bool {
        let mut refusals = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        match refusals.get_mut(device) {
            Some(left) => {
                *left -= 1;
                if *left == 0 {
                    refusals.remove(device);
                }
                true
            }
            None => false,
        }
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
    fn the_listener_is_down_until_the_given_time() {
        let faults = Faults::default();
        assert!(!faults.listener_down(100));
        faults.take_down_until(200);
        assert!(faults.listener_down(199));
        assert!(!faults.listener_down(200));
    }
}
