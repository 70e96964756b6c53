//! The bridge under test as the cases see it: where probes connect, the profile whose answers
//! are expected, the bridge's clock, and for the embedded bridge its registry, its movable
//! clock and its event stream (refusal reasons and disconnect causes as evidence).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_bridge::Bridge;
use fleetgate_bridge::events::{Event, Recorded};
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::Store;
use fleetgate_bridge::session::RegistryPath;
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::{DeviceKey, KeySpec};
use tokio::sync::{Notify, mpsc};

use super::probe::Endpoint;

/// Every bridge event seen so far, and a wake-up for those waiting on one.
#[derive(Default)]
pub(crate) struct EventLog {
    events: Mutex<Vec<Recorded>>,
    added: Notify,
}

impl EventLog {
    /// Copies events from `rx` into the log until the sender goes away or `stop` fires.
    pub(crate) async fn collect(
        self: Arc<Self>,
        rx: &mut mpsc::UnboundedReceiver<Recorded>,
        stop: Arc<Notify>,
    ) {
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => {
                        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(event);
                        self.added.notify_waiters();
                    }
                    None => return,
                },
                () = stop.notified() => return,
            }
        }
    }

    /// The first event `want` accepts, waiting up to `limit` for it.
    pub(crate) async fn find(&self, limit: Duration, want: impl Fn(&Event) -> bool) -> Option<Recorded> {
        let search = async {
            loop {
                let added = self.added.notified();
                tokio::pin!(added);
                added.as_mut().enable();
                if let Some(found) = self
                    .events
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .find(|r| want(&r.event))
                {
                    return found.clone();
                }
                added.await;
            }
        };
        tokio::time::timeout(limit, search).await.ok()
    }
}

/// The embedded bridge's handles.
pub(crate) struct Embedded {
    pub bridge: Bridge,
    pub store: Arc<Store>,
    pub events: Arc<EventLog>,
}

/// A device pre-registered on an external bridge, with its private key.
pub(crate) struct ExternalDevice {
    pub id: String,
    pub key: Arc<DeviceKey>,
}

/// The bridge under test.
pub(crate) struct Target {
    pub endpoint: Endpoint,
    pub profile: Profile,
    pub path: RegistryPath,
    pub embedded: Option<Embedded>,
    pub external_devices: Vec<ExternalDevice>,
    next_device: AtomicU32,
}

/// A device a case may use: its id and key.
#[derive(Clone)]
pub(crate) struct ProbeDevice {
    pub id: String,
    pub key: Arc<DeviceKey>,
}

impl Target {
    pub(crate) fn new(
        endpoint: Endpoint,
        profile: Profile,
        path: RegistryPath,
        embedded: Option<Embedded>,
        external_devices: Vec<ExternalDevice>,
    ) -> Self {
        Self {
            endpoint,
            profile,
            path,
            embedded,
            external_devices,
            next_device: AtomicU32::new(1),
        }
    }

    /// The bridge's clock, Unix seconds: the embedded bridge's movable clock, else this
    /// machine's.
    pub(crate) fn now(&self) -> i64 {
        match &self.embedded {
            Some(e) => e.bridge.now().div_euclid(1000),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        }
    }

    /// The client id of `device`.
    pub(crate) fn client_id(&self, device: &str) -> String {
        let p = &self.path;
        format!(
            "projects/{}/locations/{}/registries/{}/devices/{device}",
            p.project, p.region, p.registry
        )
    }

    /// A fresh device id of the embedded registry.
    pub(crate) fn fresh_id(&self) -> String {
        format!("conf-{}", self.next_device.fetch_add(1, Ordering::Relaxed))
    }

    /// A device to probe with: a new ES256 device in the embedded registry, or the external
    /// bridge's `index`-th registered device.
    pub(crate) fn device(&self, index: usize) -> Result<ProbeDevice, String> {
        match &self.embedded {
            Some(embedded) => {
                let key = Arc::new(DeviceKey::generate(KeySpec::P256).map_err(|e| e.to_string())?);
                let id = self.fresh_id();
                let credential = Credential {
                    format: CredentialFormat::Es256Pem,
                    pem: key.spki_pem(),
                    expiration: None,
                };
                embedded
                    .store
                    .create(&id, vec![credential], false, self.now())
                    .map_err(|e| format!("cannot register probe device {id}: {e}"))?;
                Ok(ProbeDevice { id, key })
            }
            None => self
                .external_devices
                .get(index)
                .map(|d| ProbeDevice {
                    id: d.id.clone(),
                    key: Arc::clone(&d.key),
                })
                .ok_or_else(|| {
                    format!(
                        "needs {} registered devices in [target.bridge] devices",
                        index + 1
                    )
                }),
        }
    }

    /// The embedded bridge, or why a case needs it.
    pub(crate) fn embedded(&self) -> Result<&Embedded, String> {
        self.embedded.as_ref().ok_or_else(|| {
            "needs the embedded bridge (it drives the registry or the bridge's clock)".to_owned()
        })
    }

    /// The bridge's answer to the last CONNECT of `client_id` (embedded only).
    pub(crate) async fn connect_verdict(&self, client_id: &str) -> Option<Event> {
        let embedded = self.embedded.as_ref()?;
        embedded
            .events
            .find(
                self.endpoint.timeout,
                |e| matches!(e, Event::ConnectAttempt(a) if a.client_id == client_id),
            )
            .await
            .map(|r| r.event)
    }

    /// The cause of `device`'s disconnect (embedded only).
    pub(crate) async fn disconnect_cause(&self, device: &str) -> Option<String> {
        let embedded = self.embedded.as_ref()?;
        embedded
            .events
            .find(
                self.endpoint.timeout,
                |e| matches!(e, Event::Disconnected { device: d, .. } if d == device),
            )
            .await
            .and_then(|r| match r.event {
                Event::Disconnected { cause, .. } => Some(cause.id().to_owned()),
                _ => None,
            })
    }
}
