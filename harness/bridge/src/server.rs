//! The bridge server: accepts TLS (or plain TCP) connections on a listener and runs one
//! [`connection`](crate::connection) task per device; keeps the one-connection-per-device map;
//! offers config pushes, commands and disconnects to the admin side.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::clock::Clock;
use crate::events::{Cause, Event, Recorded};
use crate::faults::Faults;
use crate::forward::{Forwarder, Routing};
use crate::profile::Profile;
use crate::safety::SafetyCheck;
use crate::session::{CommandError, ConfigVersion, Registry, RegistryPath, UnixMillis};

/// How long to pause after a failed accept (for example when descriptors run out).
pub(crate) const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The registry as the server uses it: what sessions read, plus routing and state storage.
pub trait DeviceRegistry: Registry + Send + Sync + 'static {
    /// Where telemetry goes.
    fn routing(&self) -> Routing;
    /// Stores a device's state.
    fn store_state(&self, device: &str, payload: Bytes, at: UnixMillis);
}

/// Which devices' connections the bridge traces packet by packet ([`Event::Packet`],
/// [`Event::Forwarded`]): real devices under observation, never a virtual fleet's thousands.
#[derive(Clone, Debug, Default)]
pub enum Observe {
    /// No device (load runs of virtual devices only).
    #[default]
    Nobody,
    /// Every device (`serve`, `qualify`: every device there is a real one).
    Everyone,
    /// These devices (real devices joining a run of virtual ones).
    Only(HashSet<String>),
}

impl Observe {
    /// Whether `device` is observed.
    pub fn covers(&self, device: &str) -> bool {
        match self {
            Self::Nobody => false,
            Self::Everyone => true,
            Self::Only(devices) => devices.contains(device),
        }
    }
}

/// Messages from the bridge to one connection task.
#[derive(Debug)]
pub(crate) enum Control {
    Close(Cause),
    Config {
        device: String,
        config: ConfigVersion,
    },
    Command {
        device: String,
        subfolder: Option<String>,
        payload: Bytes,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
}

#[derive(Clone, Debug)]
struct Live {
    connection: u64,
    control: mpsc::Sender<Control>,
}

/// Everything connection tasks share.
pub(crate) struct Shared {
    pub(crate) path: RegistryPath,
    pub(crate) profile: Arc<Profile>,
    pub(crate) registry: Arc<dyn DeviceRegistry>,
    pub(crate) forwarder: Arc<dyn Forwarder>,
    pub(crate) clock: Arc<Clock>,
    pub(crate) events: Option<mpsc::UnboundedSender<Recorded>>,
    pub(crate) max_packet: usize,
    pub(crate) faults: Faults,
    pub(crate) observe: Observe,
    live: Mutex<HashMap<String, Live>>,
    next_connection: AtomicU64,
}

impl Shared {
    pub(crate) fn record(&self, peer: SocketAddr, event: Event) {
        if let Some(events) = &self.events {
            let _ = events.send(Recorded {
                at: self.clock.now(),
                peer,
                event,
            });
        }
    }

    pub(crate) fn connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes `connection` the device's live connection, closing an older one.
    pub(crate) fn claim(&self, device: &str, connection: u64, control: mpsc::Sender<Control>) {
        let older = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(device.to_owned(), Live { connection, control });
        let one_connection = self.profile.enforces(SafetyCheck::OneConnectionPerDevice);
        if let Some(older) = older.filter(|o| o.connection != connection && one_connection) {
            let _ = older.control.try_send(Control::Close(Cause::Replaced));
        }
    }

    /// Forgets the device's live connection if it is still `connection`.
    pub(crate) fn release(&self, device: &str, connection: u64) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.get(device).is_some_and(|l| l.connection == connection) {
            live.remove(device);
        }
    }

    fn control(&self, device: &str) -> Option<mpsc::Sender<Control>> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.get(device).map(|l| l.control.clone())
    }
}

/// How to build a bridge.
pub struct BridgeConfig {
    /// The registry client ids must name.
    pub path: RegistryPath,
    /// Profile answers and limits.
    pub profile: Profile,
    /// TLS server configuration; plain TCP when `None`.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The device registry.
    pub registry: Arc<dyn DeviceRegistry>,
    /// Where telemetry goes.
    pub forwarder: Arc<dyn Forwarder>,
    /// The bridge's clock.
    pub clock: Arc<Clock>,
    /// Where events go, if anywhere.
    pub events: Option<mpsc::UnboundedSender<Recorded>>,
    /// Whose packets are traced as events.
    pub observe: Observe,
}

/// A running bridge; clones are handles to the same bridge.
#[derive(Clone)]
pub struct Bridge {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Bridge {
    /// Starts serving on `listener` (bind it to `127.0.0.1:0` for an ephemeral port).
    pub fn start(listener: TcpListener, config: BridgeConfig) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let max_packet = config
            .profile
            .max_telemetry_bytes
            .max(config.profile.max_state_bytes)
            + 64 * 1024;
        let shared = Arc::new(Shared {
            path: config.path,
            profile: Arc::new(config.profile),
            registry: config.registry,
            forwarder: config.forwarder,
            clock: config.clock,
            events: config.events,
            max_packet,
            faults: Faults::default(),
            observe: config.observe,
            live: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
        });
        let (shutdown, stop) = watch::channel(false);
        let acceptor = config.tls.map(TlsAcceptor::from);
        let accept = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&shared), stop));
        Ok(Self {
            shared,
            local_addr,
            shutdown,
            accept: Arc::new(Mutex::new(Some(accept))),
        })
    }

    /// The address the bridge listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bridge's clock, in Unix milliseconds.
    pub fn now(&self) -> UnixMillis {
        self.shared.clock.now()
    }

    /// The bridge's clock (conformance cases move it).
    pub fn clock(&self) -> &Arc<Clock> {
        &self.shared.clock
    }

    /// The devices connected now.
    pub fn connected_devices(&self) -> Vec<String> {
        let live = self.shared.live.lock().unwrap_or_else(PoisonError::into_inner);
        let mut devices: Vec<String> = live.keys().cloned().collect();
        devices.sort();
        devices
    }

    /// Delivers a new config version to the device's connection, if it has one.
    pub async fn push_config(&self, device: &str, config: ConfigVersion) {
        if let Some(control) = self.shared.control(device) {
            let _ = control
                .send(Control::Config {
                    device: device.to_owned(),
                    config,
                })
                .await;
        }
    }

    /// Sends a command; refused when the device is not connected or not subscribed.
    pub async fn send_command(
        &self,
        device: &str,
        subfolder: Option<&str>,
        payload: Bytes,
    ) -> Result<(), CommandError> {
        let control = self.shared.control(device).ok_or(CommandError::NotConnected)?;
        let (reply, answer) = oneshot::channel();
        let command = Control::Command {
            device: device.to_owned(),
            subfolder: subfolder.map(str::to_owned),
            payload,
            reply,
        };
        control
            .send(command)
            .await
            .map_err(|_| CommandError::NotConnected)?;
        answer.await.unwrap_or(Err(CommandError::NotConnected))
    }

    /// Closes the device's connection, if it has one.
    pub async fn disconnect(&self, device: &str, reason: &str) -> bool {
        self.close(device, Cause::Admin(reason.to_owned())).await
    }

    /// Closes the device's connection, if it has one, as `cause` would (device qualification
    /// closes as for an expired token).
    pub async fn close(&self, device: &str, cause: Cause) -> bool {
        match self.shared.control(device) {
            Some(control) => control.send(Control::Close(cause)).await.is_ok(),
            None => false,
        }
    }

    /// The faults in force; change them to inject faults.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Closes every connection and refuses new ones for `down`, as a restarted bridge would.
    pub async fn restart_listener(&self, down: std::time::Duration) {
        let until = self.shared.clock.now() + i64::try_from(down.as_millis()).unwrap_or(i64::MAX / 4);
        self.shared.faults.take_down_until(until);
        let controls: Vec<mpsc::Sender<Control>> = {
            let live = self.shared.live.lock().unwrap_or_else(PoisonError::into_inner);
            live.values().map(|l| l.control.clone()).collect()
        };
        for control in controls {
            let _ = control
                .send(Control::Close(Cause::Admin("listener restart".into())))
                .await;
        }
    }

    /// Stops accepting, closes every connection with cause `shutdown`, and waits for the
    /// accept loop to end.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let accept = self.accept.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(accept) = accept {
            let _ = accept.await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        // Out of descriptors or a transient error: pause instead of spinning.
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if shared.faults.down_for(peer.ip(), shared.clock.now()) {
                    shared.record(peer, Event::Dropped { reason: "listener down (injected fault)".into() });
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let stop = stop.clone();
                let tls = tls
                    .as_ref()
                    .map(|own| shared.faults.tls_for(peer.ip()).map_or_else(|| own.clone(), TlsAcceptor::from));
                tasks.spawn(async move {
                    match tls {
                        None => crate::connection::serve(stream, peer, shared, stop).await,
                        Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => crate::connection::serve(stream, peer, shared, stop).await,
                            Ok(Err(e)) => shared.record(peer, Event::Dropped { reason: format!("tls: {e}") }),
                            Err(_) => shared.record(peer, Event::Dropped { reason: "tls: no handshake within 10s".into() }),
                        },
                    }
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    while tasks.join_next().await.is_some() {}
}
