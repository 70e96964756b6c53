//! Issue 16's features judged by Google's official Python client (`google-cloud-pubsub`, from
//! `.ci/requirements.txt`), unmodified and pointed at the emulator through
//! `PUBSUB_EMULATOR_HOST`: filters, snapshots and seek, Google's limits, exactly-once delivery,
//! lease expiry after the client disappears, and the bound on stored bytes. Time-dependent
//! checks run on a [`ManualClock`] that the test moves between the script's phases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fleetgate_pubsub::clock::ManualClock;
use fleetgate_pubsub::{EmulatorConfig, EmulatorHandle, start};
use serde_json::{Value, json};

/// Runs `features.py PROJECT CHECK [INPUT]` against `addr`; its one JSON line.
async fn python(addr: SocketAddr, project: &str, check: &str, input: Option<&Value>) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/features.py");
    let input = input.map(Value::to_string);
    let mut args = vec![script, project, check];
    args.extend(input.as_deref());
    common::judge("python3", &args, addr, check).await
}

async fn emulator(clock: Option<Arc<ManualClock>>, max_stored_bytes: Option<u64>) -> EmulatorHandle {
    let mut config = EmulatorConfig::default();
    if let Some(clock) = clock {
        config.clock = clock;
    }
    if let Some(bytes) = max_stored_bytes {
        config.max_stored_bytes = bytes;
    }
    start("127.0.0.1:0".parse().unwrap(), config).await.unwrap()
}

fn contains(value: &Value, words: &str) {
    let text = value.as_str().unwrap_or_default();
    assert!(text.contains(words), "{words:?} not in {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_deliver_only_matching_messages_and_refuse_bad_expressions() {
    let handle = emulator(None, None).await;
    let out = python(handle.local_addr(), "filters", "filters", None).await;
    assert_eq!(
        out["delivered"],
        json!({"telemetry-only": [0, 2], "fleet-a": [0, 1, 3], "not-state": [0, 2, 3, 4, 5]})
    );
    let errors = &out["errors"];
    contains(&errors["mixed"], "AND and OR cannot be mixed without parentheses");
    contains(&errors["too_long"], "the maximum length is 256 bytes");
    contains(&errors["immutable"], "filter");
    let broker = handle.emulator().broker();
    let sub = broker
        .subscription("projects/filters/subscriptions/telemetry-only")
        .unwrap();
    assert!(sub.queue.is_empty(), "non-matching messages were never stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_and_seek_replay_what_google_would() {
    let handle = emulator(None, None).await;
    let out = python(handle.local_addr(), "snaps", "snapshots", None).await;
    assert_eq!(out["snapshot_topic"], "projects/snaps/topics/events");
    assert_eq!(out["expire_set"], true);
    assert_eq!(out["after_snapshot_is_later"], true, "{out}");
    assert_eq!(
        out["after_time_is_all"], true,
        "retained acked messages come back: {out}"
    );
    assert_eq!(out["after_now"], 0);
    assert_eq!(
        out["topic_retention"],
        json!({"kept-early": true, "kept-late": true}),
        "a topic's retention brings back acknowledged messages, and ones published before the subscription"
    );
    assert_eq!(out["listed"], json!(["projects/snaps/snapshots/after-five"]));
    assert_eq!(out["by_topic"], json!(["projects/snaps/snapshots/after-five"]));
    assert_eq!(out["labels"], json!({"k": "w"}));
    assert_eq!(out["fetched_labels"], json!({"k": "w"}));
    assert_eq!(
        out["errors"],
        json!({"duplicate": "AlreadyExists", "missing_sub": "NotFound", "deleted": "NotFound", "seek_deleted": "NotFound"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_limits_are_enforced_with_invalid_argument_and_5_mb_passes() {
    let handle = emulator(None, None).await;
    let out = python(handle.local_addr(), "limits", "limits", None).await;
    assert_eq!(out["five_mb_intact"], true);
    assert_eq!(out["at_limits_published"], 1001);
    assert_eq!(out["retention_seconds"], 31.0 * 86400.0);
    let errors = &out["errors"];
    contains(&errors["message_over_10mb"], "exceeds the limit: 10000000 bytes");
    contains(&errors["attributes_101"], "at most 100 are allowed");
    contains(&errors["key_257"], "at most 256 bytes");
    contains(&errors["value_1025"], "at most 1024 bytes");
    contains(
        &errors["ordering_key_1025"],
        "ordering keys may have at most 1024 bytes",
    );
    contains(&errors["count_1001"], "maximum value is 1000");
    contains(&errors["retention_32_days"], "must be between 600s and 2678400s");
    contains(&errors["iam"], "IAM policies are not supported by this emulator");
    contains(
        &errors["detach"],
        "DetachSubscription is not supported by this emulator",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_reports_each_ack_id_and_never_redelivers_an_acked_message() {
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let handle = emulator(Some(Arc::clone(&clock)), None).await;
    let first = python(handle.local_addr(), "eod", "exactly-once-a", None).await;
    assert_eq!(
        first["stream_acks"],
        json!([
            ["SUCCESS", "INVALID_ACK_ID"],
            ["SUCCESS", "INVALID_ACK_ID"],
            ["SUCCESS", "INVALID_ACK_ID"]
        ]),
        "the client saw exactly-once: a second ack of a message is refused"
    );
    assert_eq!(first["leftover_after_stream"], 0);
    let leased: Vec<String> = first["leased"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(leased.len(), 2);
    clock.advance(Duration::from_secs(11));
    let second = python(handle.local_addr(), "eod", "exactly-once-b", Some(&first)).await;
    assert_eq!(second["expired"]["reason"], "EXACTLY_ONCE_ACKID_FAILURE");
    let failures = second["expired"]["metadata"].as_object().unwrap();
    assert_eq!(
        failures.len(),
        3,
        "two expired ids and one malformed: {failures:?}"
    );
    assert!(failures.values().all(|v| v == "PERMANENT_FAILURE_INVALID_ACK_ID"));
    assert!(failures.contains_key("bogus"));
    contains(&second["message"], "expired: 2, invalid: 1");
    assert_eq!(second["redelivered"], true, "expired leases come back");
    assert_eq!(second["second_ack"], json!(["PERMANENT_FAILURE_INVALID_ACK_ID"]));
    assert_eq!(second["after"], 0, "nothing acknowledged is delivered again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_a_client_that_disappears_come_back_after_the_ack_deadline() {
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let handle = emulator(Some(Arc::clone(&clock)), None).await;
    let addr = handle.local_addr();
    let first = python(addr, "lease", "lease-a", None).await;
    assert_eq!(
        (first["pulled"].as_u64(), first["streamed"].as_u64()),
        (Some(50), Some(50))
    );
    let emulator = handle.emulator().clone();
    let by_pull = "projects/lease/subscriptions/by-pull";
    for sub in [by_pull, "projects/lease/subscriptions/by-stream"] {
        assert_eq!(
            emulator.broker().subscription(sub).unwrap().queue.len(),
            50,
            "{sub}"
        );
    }
    clock.advance(Duration::from_secs(9));
    assert!(
        emulator.pull(by_pull, 100, true).await.unwrap().is_empty(),
        "leased until the 10 s ack deadline"
    );
    clock.advance(Duration::from_secs(600));
    let second = python(addr, "lease", "lease-b", None).await;
    let mut published: Vec<&str> = first["published"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    published.sort_unstable();
    for sub in ["by-pull", "by-stream"] {
        let ids: Vec<&str> = second[sub]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(ids, published, "{sub}: every leased message is delivered again");
        assert_eq!(
            second[sub]["attempts"],
            json!([2]),
            "{sub}: the lost delivery is counted"
        );
    }
    let mut late: Vec<&str> = first["late"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    late.sort_unstable();
    let late_ids: Vec<&str> = second["late"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(late_ids, late, "published after a pull timed out: none lost");
    let attempts = second["late"]["attempts"].as_array().unwrap();
    assert!(attempts.iter().all(|a| a == 1 || a == 2), "{attempts:?}");
    eprintln!("late: delivery attempts {attempts:?} (2: leased to the pull that had timed out)");
    for sub in ["by-pull", "by-stream", "late"] {
        let name = format!("projects/lease/subscriptions/{sub}");
        assert!(
            emulator.broker().subscription(&name).unwrap().queue.is_empty(),
            "{sub}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_beyond_the_stored_bytes_bound_are_resource_exhausted() {
    let handle = emulator(None, Some(1000)).await;
    let out = python(handle.local_addr(), "memory", "memory", None).await;
    contains(
        &out["refusal"],
        "stores at most 1000 bytes of messages (max_stored_bytes): 600 bytes are stored and this request adds 600",
    );
    assert_eq!(out["drained"], 1);
    assert_eq!(handle.emulator().stored_bytes(), (600, 600));
}
