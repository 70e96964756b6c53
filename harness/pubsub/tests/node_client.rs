//! Issue 16's features judged by Google's official Node.js client (`@google-cloud/pubsub`,
//! pinned in `tests/node/package.json`, installed by `.ci/run` with `npm ci`), unmodified and
//! pointed at the emulator through `PUBSUB_EMULATOR_HOST`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetgate_pubsub::clock::ManualClock;
use fleetgate_pubsub::{EmulatorConfig, EmulatorHandle, start};
use serde_json::{Value, json};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");

/// Runs `node features.js PROJECT CHECK` against `addr`; its one JSON line.
async fn node(addr: SocketAddr, project: &str, check: &str) -> Value {
    assert!(
        Path::new(DIR).join("node_modules/@google-cloud/pubsub").is_dir(),
        "the Node judge is not installed: run `npm ci --prefix harness/pubsub/tests/node` (as .ci/run does)"
    );
    let script = format!("{DIR}/features.js");
    common::judge("node", &[&script, project, check], addr, check).await
}

async fn emulator(config: EmulatorConfig) -> EmulatorHandle {
    start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn contains(value: &Value, words: &str) {
    let text = value.as_str().unwrap_or_default();
    assert!(text.contains(words), "{words:?} not in {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_filters_seeks_and_meets_the_limits() {
    let handle = emulator(EmulatorConfig::default()).await;
    let addr = handle.local_addr();
    let filters = node(addr, "node-filters", "filters").await;
    assert_eq!(
        filters["delivered"],
        json!({"telemetry-only": [0, 2], "fleet-a": [0, 1]})
    );
    contains(
        &filters["mixed"],
        "AND and OR cannot be mixed without parentheses",
    );

    let snapshots = node(addr, "node-snaps", "snapshots").await;
    assert_eq!(snapshots["afterSnapshot"], true, "{snapshots}");
    assert_eq!(snapshots["afterTime"], true, "{snapshots}");
    assert_eq!(snapshots["listed"], json!(["projects/node-snaps/snapshots/mark"]));
    contains(&snapshots["deleted"], "projects/node-snaps/snapshots/mark");

    let limits = node(addr, "node-limits", "limits").await;
    assert_eq!(limits["intact"], true);
    contains(&limits["errors"]["over10mb"], "exceeds the limit: 10000000 bytes");
    contains(&limits["errors"]["attributes101"], "at most 100 are allowed");
    contains(&limits["errors"]["key257"], "at most 256 bytes");
    contains(&limits["errors"]["detach"], "DetachSubscription is not supported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_gets_exactly_once_results_and_the_memory_bound() {
    let handle = emulator(EmulatorConfig {
        max_stored_bytes: 1000,
        ..EmulatorConfig::default()
    })
    .await;
    let eod = node(handle.local_addr(), "node-eod", "exactly-once").await;
    assert_eq!(eod["streamAcks"], json!(["SUCCESS", "SUCCESS"]));
    let acked = eod["ackedId"].as_str().unwrap();
    assert_eq!(eod["again"]["code"], 3, "INVALID_ARGUMENT: {eod}");
    assert_eq!(eod["again"]["reason"], "EXACTLY_ONCE_ACKID_FAILURE");
    assert_eq!(
        eod["again"]["metadata"],
        json!({acked: "PERMANENT_FAILURE_INVALID_ACK_ID", "bogus": "PERMANENT_FAILURE_INVALID_ACK_ID"}),
        "each failed ack id reported, as the Node client reads them"
    );
    assert_eq!(eod["leftover"], 0, "nothing acknowledged is delivered again");
    let memory = node(handle.local_addr(), "node-mem", "memory").await;
    contains(&memory["refusal"], "stores at most 1000 bytes of messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_stream_leases_come_back_after_the_client_exits() {
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let handle = emulator(EmulatorConfig {
        clock: Arc::clone(&clock) as _,
        ..EmulatorConfig::default()
    })
    .await;
    let first = node(handle.local_addr(), "node-lease", "lease-a").await;
    let sub = "projects/node-lease/subscriptions/by-stream";
    assert!(
        handle.emulator().pull(sub, 100, true).await.unwrap().is_empty(),
        "all leased to the departed stream"
    );
    clock.advance(Duration::from_secs(601));
    let second = node(handle.local_addr(), "node-lease", "lease-b").await;
    assert_eq!(
        second["ids"], first["published"],
        "every leased message is delivered again"
    );
}
