//! The embedded emulator judged by Google's official Python client (`google-cloud-pubsub`,
//! installed from `.ci/requirements.txt`), run as a subprocess with a bounded timeout and
//! pointed at the emulator through `PUBSUB_EMULATOR_HOST`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use fleetgate_pubsub::{EmulatorConfig, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_python_client_publishes_pulls_and_streams_100_messages() {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/official_client.py");
    let summary = common::judge(
        "python3",
        &[script, "official"],
        handle.local_addr(),
        "the Python client",
    )
    .await;
    assert_eq!(summary["published"], 100);
    assert_eq!(summary["unary"], 100);
    assert_eq!(summary["streaming"], 100);
    assert_eq!(
        summary["errors"],
        serde_json::json!({"get_missing_topic": "NotFound", "create_existing_topic": "AlreadyExists", "bad_topic_name": "InvalidArgument"})
    );
    let broker = handle.emulator().broker();
    for sub in ["official-by-pull", "official-by-stream"] {
        let state = broker
            .subscription(&format!("projects/official/subscriptions/{sub}"))
            .unwrap();
        assert!(
            state.queue.is_empty(),
            "{sub}: every message was acked, none left to redeliver"
        );
    }
}
