//! Helpers shared by the CLI tests: run the real binary from the workspace root.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on a broken workspace

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root, where relative paths in messages start.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `fleetgate ARGS…` from the workspace root.
pub(crate) fn fleetgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

/// Exit code, stdout and stderr as text.
pub(crate) fn text(output: &Output) -> (i32, String, String) {
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout.clone()).unwrap(),
        String::from_utf8(output.stderr.clone()).unwrap(),
    )
}
