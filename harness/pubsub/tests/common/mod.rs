//! Runs an official client's judge script against an emulator, with the environment Google's
//! libraries need (`PUBSUB_EMULATOR_HOST`, no metadata server), and reads its one JSON line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail loudly

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// Runs `program ARGS…` against the emulator at `addr` (180 s at most) and returns the JSON
/// line it printed; fails the test, naming `what`, when it fails or prints anything else.
pub(crate) async fn judge(program: &str, args: &[&str], addr: SocketAddr, what: &str) -> Value {
    let child = tokio::process::Command::new(program)
        .args(args)
        .env("PUBSUB_EMULATOR_HOST", addr.to_string())
        .env("METADATA_SERVER_DETECTION", "none")
        .env("NO_GCE_CHECK", "True")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} does not run ({e}); .ci/run installs the judges (pip install -r .ci/requirements.txt, npm ci --prefix harness/pubsub/tests/node)")
        });
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what}: the client did not finish within 180 s"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed (Python judges need `pip install -r .ci/requirements.txt`, the Node judge `npm ci --prefix harness/pubsub/tests/node`): {stderr}\n{stdout}"
    );
    let parsed = serde_json::from_str(stdout.trim());
    assert!(parsed.is_ok(), "{what}: not one JSON line: {stdout}");
    parsed.unwrap()
}
