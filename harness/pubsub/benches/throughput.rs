//! Publish → pull throughput and latency of the embedded emulator (in-process, over gRPC
//! streaming pull, and with Google's Python client), memory per queued message, and the CPU
//! cost per message of publishing and of pull + ack on one thread (the figures least moved by
//! other load on a shared machine). Results go to BENCHMARKS.md; run with
//! `cargo bench -p fleetgate-pubsub --bench throughput`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fleetgate_pubsub::{Consumer, Delivery, EmulatorConfig, LatencyRecorder, Source, start};
use gcloud_googleapis::pubsub::v1::{PubsubMessage, Subscription, Topic};

const MESSAGES: usize = 200_000;
const BATCH: usize = 100;
const PAYLOAD: usize = 200;

fn stamp(delivery: &Delivery) -> Option<SystemTime> {
    let micros = u64::from_be_bytes(delivery.data.get(..8)?.try_into().ok()?);
    Some(UNIX_EPOCH + Duration::from_micros(micros))
}

fn message() -> PubsubMessage {
    let micros = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()).unwrap();
    let mut data = micros.to_be_bytes().to_vec();
    data.resize(PAYLOAD, b'x');
    let attributes = [
        ("deviceId", "pi-00042"),
        ("deviceRegistryId", "pi-fleet"),
        ("projectId", "bench"),
    ];
    PubsubMessage {
        data,
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..PubsubMessage::default()
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU time (user + system) of this process so far, in seconds, from `/proc/self/stat` (in
/// clock ticks of 10 ms): unlike throughput, it hardly moves with other load on the machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<u64>() as f64 / 100.0
}

async fn pipeline(external: bool) {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let emulator = handle.emulator().clone();
    emulator
        .create_topic(Topic {
            name: "projects/b/topics/tel".into(),
            ..Topic::default()
        })
        .unwrap();
    let sub = Subscription {
        name: "projects/b/subscriptions/sub".into(),
        topic: "projects/b/topics/tel".into(),
        ..Subscription::default()
    };
    emulator.create_subscription(sub).unwrap();
    let source = if external {
        Source::External(handle.local_addr().to_string())
    } else {
        Source::Embedded(emulator.clone())
    };
    let consumer = Consumer::start(
        source,
        "projects/b/subscriptions/sub".into(),
        LatencyRecorder::new(stamp),
    );
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    for _ in 0..MESSAGES / BATCH {
        emulator
            .publish("projects/b/topics/tel", (0..BATCH).map(|_| message()).collect())
            .unwrap();
        tokio::task::yield_now().await;
    }
    let published = started.elapsed();
    loop {
        let wake = emulator
            .broker()
            .subscription("projects/b/subscriptions/sub")
            .unwrap()
            .wake
            .clone();
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if emulator
            .broker()
            .subscription("projects/b/subscriptions/sub")
            .unwrap()
            .queue
            .is_empty()
        {
            break;
        }
        notified.await;
    }
    let elapsed = started.elapsed();
    let cpu_per_message = (cpu_seconds() - cpu_before) * 1e6 / MESSAGES as f64;
    let recorder = consumer.stop().await.unwrap();
    let h = recorder.histogram();
    println!(
        "{:<28} {MESSAGES} msgs ({PAYLOAD} B, batches of {BATCH}): publish {:>8.0} msg/s, end-to-end {:>8.0} msg/s, CPU {:.2} µs/msg, latency p50 {} µs p99 {} µs max {} µs, delivered {}",
        if external {
            "grpc streaming pull"
        } else {
            "in-process"
        },
        MESSAGES as f64 / published.as_secs_f64(),
        MESSAGES as f64 / elapsed.as_secs_f64(),
        cpu_per_message,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max(),
        recorder.delivered(),
    );
}

async fn memory() {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let emulator = handle.emulator().clone();
    emulator
        .create_topic(Topic {
            name: "projects/b/topics/mem".into(),
            ..Topic::default()
        })
        .unwrap();
    let sub = Subscription {
        name: "projects/b/subscriptions/mem".into(),
        topic: "projects/b/topics/mem".into(),
        ..Subscription::default()
    };
    emulator.create_subscription(sub).unwrap();
    let before = rss_bytes();
    let batches: Vec<Vec<PubsubMessage>> = (0..MESSAGES / BATCH)
        .map(|_| (0..BATCH).map(|_| message()).collect())
        .collect();
    let (started, cpu_before) = (Instant::now(), cpu_seconds());
    for batch in batches {
        emulator.publish("projects/b/topics/mem", batch).unwrap();
    }
    let (published, publish_cpu) = (started.elapsed(), cpu_seconds() - cpu_before);
    let after = rss_bytes();
    println!(
        "memory: {MESSAGES} queued messages ({PAYLOAD} B data, 3 attributes, 1 subscription): RSS +{} MiB, {} bytes per message",
        (after.saturating_sub(before)) / (1 << 20),
        after.saturating_sub(before) / MESSAGES as u64
    );
    let (started, cpu_before) = (Instant::now(), cpu_seconds());
    let mut drained = 0;
    loop {
        let received = emulator
            .pull("projects/b/subscriptions/mem", 1000, true)
            .await
            .unwrap();
        if received.is_empty() {
            break;
        }
        drained += received.len();
        let ids: Vec<String> = received.into_iter().map(|r| r.ack_id).collect();
        emulator
            .acknowledge("projects/b/subscriptions/mem", &ids)
            .unwrap();
    }
    let (drain, drain_cpu) = (started.elapsed(), cpu_seconds() - cpu_before);
    println!(
        "one thread, no waiting: publish {:.0} msg/s (CPU {:.2} µs/msg); pull 1000 + ack {:.0} msg/s (CPU {:.2} µs/msg), drained {drained}",
        MESSAGES as f64 / published.as_secs_f64(),
        publish_cpu * 1e6 / MESSAGES as f64,
        drained as f64 / drain.as_secs_f64(),
        drain_cpu * 1e6 / drained.max(1) as f64,
    );
}

async fn python() {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_throughput.py");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .env("PUBSUB_EMULATOR_HOST", handle.local_addr().to_string())
        .env("METADATA_SERVER_DETECTION", "none")
        .env("NO_GCE_CHECK", "True")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(300), output).await {
        Ok(Ok(out)) if out.status.success() => {
            print!("python client: {}", String::from_utf8_lossy(&out.stdout))
        }
        Ok(Ok(out)) => println!("python client failed: {}", String::from_utf8_lossy(&out.stderr)),
        Ok(Err(e)) => println!("python client skipped: {e}"),
        Err(_) => println!("python client timed out after 300 s"),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        memory().await;
        pipeline(false).await;
        pipeline(true).await;
        python().await;
    });
}
