//! QoS 1 telemetry through the bridge into the embedded emulator: every device connects, then
//! on one signal publishes a fixed count as fast as its in-flight window allows. The PUBACK
//! comes only after the emulator stored the message, so its latency covers the whole path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rumqttc::{Event, Outgoing, Packet, QoS};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::rustls::ClientConfig;

use crate::clients::{client, connack, histogram, micros};
use crate::setup::{Device, SUBSCRIPTION, Setup};

/// How a throughput run is shaped.
pub(crate) struct Shape {
    /// Messages each device publishes.
    pub(crate) per_device: u64,
    /// Each device's QoS 1 in-flight window.
    pub(crate) inflight: u16,
    /// Payload bytes per message.
    pub(crate) payload: usize,
}

/// What a throughput run measured.
pub(crate) struct Outcome {
    /// PUBACKs received.
    pub(crate) acked: u64,
    /// From the start signal to the last PUBACK.
    pub(crate) elapsed: Duration,
    /// Publish written → PUBACK received, in µs.
    pub(crate) latency: Histogram<u64>,
    /// Messages stored in the emulator's subscription afterwards.
    pub(crate) stored: usize,
    /// Devices whose run failed, with the first reasons.
    pub(crate) failures: Vec<String>,
}

/// One device: connect, report ready, wait for the start, publish, count PUBACKs.
async fn device(
    device: Device,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    shape: Arc<Shape>,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    mut start: watch::Receiver<bool>,
) -> Result<Histogram<u64>, String> {
    let (client, mut events) = client(
        &device,
        port,
        tls.as_ref(),
        shape.inflight,
        usize::from(shape.inflight),
    );
    let connected = connack(&mut events).await;
    let _ = ready.send(connected.clone());
    connected?;
    start.wait_for(|go| *go).await.map_err(|e| e.to_string())?;
    let topic = format!("/devices/{}/events", device.id);
    let payload = vec![0x5a_u8; shape.payload];
    let count = shape.per_device;
    tokio::spawn(async move {
        for _ in 0..count {
            if client
                .publish(topic.as_str(), QoS::AtLeastOnce, false, payload.clone())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut sent: Vec<Option<Instant>> = vec![None; usize::from(shape.inflight) + 1];
    let mut latency = histogram();
    let mut acked = 0;
    while acked < count {
        match events.poll().await {
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                if let Some(slot) = sent.get_mut(usize::from(pkid)) {
                    *slot = Some(Instant::now());
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                acked += 1;
                if let Some(at) = sent.get_mut(usize::from(ack.pkid)).and_then(Option::take) {
                    latency.saturating_record(micros(at.elapsed()));
                }
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{} after {acked} PUBACKs: {e}", device.id)),
        }
    }
    Ok(latency)
}

/// Runs every device of `setup` through one throughput round.
pub(crate) async fn run(setup: Setup, tls: Option<Arc<ClientConfig>>, shape: Shape) -> Outcome {
    let port = setup.bridge.local_addr().port();
    let shape = Arc::new(shape);
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let (go, start) = watch::channel(false);
    let count = setup.devices.len();
    let mut tasks = JoinSet::new();
    for d in setup.devices {
        tasks.spawn(device(
            d,
            port,
            tls.clone(),
            Arc::clone(&shape),
            ready_tx.clone(),
            start.clone(),
        ));
    }
    let mut failures = Vec::new();
    for _ in 0..count {
        if let Err(reason) = ready.recv().await.expect("every device reports") {
            failures.push(format!("connect: {reason}"));
        }
    }
    let started = Instant::now();
    go.send_replace(true);
    let mut latency = histogram();
    let mut acked = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("device task") {
            Ok(h) => {
                acked += h.len();
                latency.add(&h).expect("histograms of one shape");
            }
            Err(reason) if failures.len() < 5 => failures.push(reason),
            Err(_) => {}
        }
    }
    let elapsed = started.elapsed();
    let stored = setup
        .emulator
        .broker()
        .subscription(SUBSCRIPTION)
        .map(|s| s.queue.len())
        .unwrap_or(0);
    setup.bridge.shutdown().await;
    Outcome {
        acked,
        elapsed,
        latency,
        stored,
        failures,
    }
}
