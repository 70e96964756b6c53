//! `fleetgate validate FILE|DIR…`: every error and warning of every file (a folder stands for
//! every `*.toml` file in it), then exit 2 if any file is invalid.

use std::path::{Path, PathBuf};

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

/// The files named, a folder replaced by its `*.toml` files in name order. A folder that
/// cannot be read or holds no scenario is an error naming it.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries =
            std::fs::read_dir(path).map_err(|e| format!("cannot read the folder {}: {e}", path.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
            .collect();
        if found.is_empty() {
            return Err(format!(
                "the folder {} holds no scenario file (*.toml)",
                path.display()
            ));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

pub(crate) fn validate(args: &ValidateArgs) -> anyhow::Result<u8> {
    let files = match expand(&args.files) {
        Ok(files) => files,
        Err(message) => {
            error(&message);
            return Ok(exit_codes::INVALID);
        }
    };
    let mut all_valid = true;
    for path in &files {
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
