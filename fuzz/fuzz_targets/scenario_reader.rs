//! The scenario reader and compiler on arbitrary text: diagnostics, never a panic.
#![no_main]

use fleetgate_scenario::{SourceFile, compile, render_all};
use libfuzzer_sys::fuzz_target;

const CASES: &[&str] = &["auth.valid", "clock.expired", "connect.no-username", "push.valid"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = SourceFile::new("fuzz.toml", text.as_ref());
    let compiled = compile(&file, CASES);
    let _ = render_all(&file, &compiled.diagnostics);
});
