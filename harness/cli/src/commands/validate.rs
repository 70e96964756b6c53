//! `fleetgate validate FILE…`: every error and warning of every file, then exit 2 if any file
//! is invalid.

use std::path::Path;

use fleetgate_runner::catalogue::case_ids;
use fleetgate_scenario::{Compiled, SourceFile, compile, render_all};

use crate::args::ValidateArgs;
use crate::exit_codes;
use crate::output::{err, err_text, error};

/// Reads and compiles one scenario file, printing its diagnostics to stderr. `None` when the
/// file cannot be read (the reason is printed).
pub(crate) fn load(path: &Path) -> Option<(SourceFile, Compiled)> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            error(&format!("cannot read scenario file {name}: {e}"));
            return None;
        }
    };
    let file = match SourceFile::from_bytes(name, bytes) {
        Ok(file) => file,
        Err(e) => {
            error(&e);
            return None;
        }
    };
    let compiled = compile(&file, &case_ids());
    if !compiled.diagnostics.is_empty() {
        err_text(&render_all(&file, &compiled.diagnostics));
    }
    Some((file, compiled))
}

/// Whether a compiled file may run: no errors, and no warnings when they are denied.
/// The scenario of `path` when it may run (its diagnostics printed either way); `None` when it
/// cannot, with the reason printed (exit 2 follows).
pub(crate) fn runnable(path: &Path, deny_warnings: bool) -> Option<fleetgate_scenario::Scenario> {
    let (file, mut compiled) = load(path)?;
    let scenario = compiled
        .scenario
        .take()
        .filter(|_| acceptable(&compiled, deny_warnings));
    if scenario.is_none() {
        error(&format!(
            "{} is not a runnable scenario; nothing was run",
            file.name
        ));
    }
    scenario
}

pub(crate) fn acceptable(compiled: &Compiled, deny_warnings: bool) -> bool {
    compiled.errors().next().is_none() && !(deny_warnings && compiled.warnings().next().is_some())
}

pub(crate) fn validate(args: &ValidateArgs) -> anyhow::Result<u8> {
    let mut all_valid = true;
    for path in &args.files {
        let valid = match load(path) {
            Some((file, compiled)) => {
                let ok = acceptable(&compiled, args.deny_warnings);
                if ok && compiled.diagnostics.is_empty() {
                    err(&format!("{}: valid", file.name));
                } else if !ok && compiled.errors().next().is_none() {
                    err(&format!(
                        "{}: refused because warnings are denied (--deny-warnings)",
                        file.name
                    ));
                }
                ok
            }
            None => false,
        };
        all_valid &= valid;
    }
    Ok(if all_valid {
        exit_codes::PASSED
    } else {
        exit_codes::INVALID
    })
}
