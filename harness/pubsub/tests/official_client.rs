//! The embedded emulator judged by Google's official Python client (`google-cloud-pubsub`,
//! installed from `.ci/requirements.txt`), run as a subprocess with a bounded timeout and
//! pointed at the emulator through `PUBSUB_EMULATOR_HOST`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use fleetgate_pubsub::{EmulatorConfig, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_python_client_publishes_pulls_and_streams_100_messages() {
    let handle = start("127.0.0.1:0".parse().unwrap(), EmulatorConfig::default())
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/official_client.py");
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .arg("official")
        .env("PUBSUB_EMULATOR_HOST", handle.local_addr().to_string())
        .env("METADATA_SERVER_DETECTION", "none")
        .env("NO_GCE_CHECK", "True")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (google-cloud-pubsub comes from .ci/requirements.txt)");
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the Python client finishes within 180 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed: {stderr}\n{stdout}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
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
