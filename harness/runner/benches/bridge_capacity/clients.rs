//! Device clients: rumqttc over TLS with one shared rustls configuration (aws-lc-rs, session
//! resumption off so every connect is a full handshake, as for independent devices), each
//! polling its own event loop in a task; and the process figures (RSS, CPU time) the report uses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, MqttOptions, Packet, TlsConfiguration, Transport,
};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::setup::Device;

/// The client TLS configuration all devices share: trusts the run's CA, no resumption.
pub(crate) fn tls_config(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM");
    roots.add(ca).expect("CA certificate");
    let mut config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Arc::new(config)
}

/// A device's client and event loop (60 s keep-alive, `inflight` QoS 1 window), over TLS
/// unless `tls` is `None`.
pub(crate) fn client(
    device: &Device,
    port: u16,
    tls: Option<&Arc<ClientConfig>>,
    inflight: u16,
    requests: usize,
) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(device.client_id(), "localhost", port);
    options
        .set_credentials("unused", device.jwt.clone())
        .set_keep_alive(Duration::from_secs(60))
        .set_inflight(inflight);
    if let Some(tls) = tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::clone(
            tls,
        ))));
    }
    let (client, mut events) = AsyncClient::new(options, requests);
    let mut network = events.network_options();
    network.set_connection_timeout(30);
    events.set_network_options(network);
    (client, events)
}

/// Polls until the CONNACK; `Err` names why the connect failed.
pub(crate) async fn connack(events: &mut EventLoop) -> Result<(), String> {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {
                return Ok(());
            }
            Ok(Event::Incoming(Packet::ConnAck(ack))) => return Err(format!("CONNACK {:?}", ack.code)),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Devices connected and held open by their tasks.
pub(crate) struct Held {
    /// How many got a successful CONNACK.
    pub(crate) connected: usize,
    /// How many did not, with up to five reasons.
    pub(crate) failed: usize,
    /// The first reasons for failure.
    pub(crate) reasons: Vec<String>,
    /// From the first connect attempt to the last CONNACK.
    pub(crate) elapsed: Duration,
    /// Per device: TCP connect + TLS handshake + CONNECT/JWT check until CONNACK, in µs.
    pub(crate) latency: Histogram<u64>,
    /// Connections that closed after their CONNACK.
    pub(crate) lost: Arc<AtomicUsize>,
    /// The tasks holding the connections; dropping this closes them.
    pub(crate) tasks: JoinSet<()>,
}

impl Held {
    /// Ends every client task, closing its connection.
    pub(crate) async fn close(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Connects every device, at most `concurrency` connect attempts in flight at once, and keeps
/// each connection open (answering keep-alives) in its own task.
pub(crate) async fn connect_all(
    devices: &[Device],
    port: u16,
    tls: &Arc<ClientConfig>,
    concurrency: usize,
) -> Held {
    let slots = Arc::new(Semaphore::new(concurrency));
    let lost = Arc::new(AtomicUsize::new(0));
    let (results, mut outcomes) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    for device in devices {
        let slot = Arc::clone(&slots).acquire_owned().await.expect("semaphore open");
        let (client, mut events) = client(device, port, Some(tls), 4, 4);
        let results = results.clone();
        let lost = Arc::clone(&lost);
        tasks.spawn(async move {
            let _client = client;
            let attempt = Instant::now();
            let outcome = connack(&mut events).await.map(|()| attempt.elapsed());
            drop(slot);
            let connected = outcome.is_ok();
            let _ = results.send(outcome);
            if connected {
                while events.poll().await.is_ok() {}
                lost.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let mut held = Held {
        connected: 0,
        failed: 0,
        reasons: Vec::new(),
        elapsed: Duration::ZERO,
        latency: histogram(),
        lost,
        tasks,
    };
    for _ in devices {
        match outcomes.recv().await.expect("every task reports") {
            Ok(latency) => {
                held.connected += 1;
                held.latency.saturating_record(micros(latency));
            }
            Err(reason) => {
                held.failed += 1;
                if held.reasons.len() < 5 {
                    held.reasons.push(reason);
                }
            }
        }
    }
    held.elapsed = started.elapsed();
    held
}

/// An empty latency histogram: 1 µs to 10 minutes, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// A duration in whole microseconds.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// This process's resident set size in KiB (`VmRSS` of `/proc/self/status`).
pub(crate) fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// CPU time this process has used (user + system), from `/proc/self/stat` (100 ticks a second).
pub(crate) fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("tick count"))
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}
