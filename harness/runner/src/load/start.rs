//! The common start of a sharded run: every shard is given the same `--start-at` instant and
//! waits for it once its environment is up, so that the shards' ramps and holds line up.

use std::time::SystemTime;

/// Waits until `start_at`; a note when that instant had already passed (the phases start at
/// once, late against the other shards).
pub(super) async fn wait(start_at: Option<SystemTime>) -> Option<String> {
    let start_at = start_at?;
    match start_at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            tokio::time::sleep(wait).await;
            None
        }
        Err(late) => Some(format!(
            "the start time {} had passed {:.1} s before this run was ready: its phases started late",
            humantime::format_rfc3339_seconds(start_at),
            late.duration().as_secs_f64()
        )),
    }
}
