//! Writing to the terminal: messages to stderr, results to stdout. A closed pipe is not an
//! error worth dying over, so write failures are ignored.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Writes one line to stdout.
pub(crate) fn out(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Writes text (already ending in a newline) to stderr.
pub(crate) fn err_text(text: &str) {
    let _ = write!(std::io::stderr().lock(), "{text}");
}

/// Writes one line to stderr.
pub(crate) fn err(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes one line to stderr behind the UTC time (for long-running commands a person watches).
pub(crate) fn stamped(line: &str) {
    let now = humantime::format_rfc3339_millis(SystemTime::now());
    err(&format!("{now} {line}"));
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A token cancelled by the first Ctrl-C (SIGINT) or SIGTERM, so that a run can stop in
/// order and write its reports; a second signal ends the process at once (exit 130). The
/// signals are caught from the moment this returns.
pub(crate) fn stop_on_signals() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    let (ready, registered) = std::sync::mpsc::channel();
    let watcher = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                let _ = ready.send(());
                return;
            };
            runtime.block_on(async move {
                let mut signals = Signals::register();
                let _ = ready.send(());
                signals.next().await;
                err("fleetgate: interrupted: stopping the run and writing its reports (interrupt again to quit at once)");
                cancel.cancel();
                signals.next().await;
                err("fleetgate: interrupted again: quitting without reports");
                std::process::exit(130);
            });
        });
    if watcher.is_ok() {
        let _ = registered.recv();
    }
    token
}

/// SIGINT and SIGTERM, registered as soon as this is built.
struct Signals {
    #[cfg(unix)]
    both: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                both: signal(SignalKind::interrupt())
                    .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Completes on the next signal.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.both {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes `error: …` to stderr.
pub(crate) fn error(message: &str) {
    err(&format!("error: {message}"));
}

/// `--out DIR`, or a new `reports/<scenario>-<UTC time>/`.
pub(crate) fn prepare_out_dir(out: Option<&Path>, scenario: &str) -> Result<PathBuf, String> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => {
            let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
                .to_string()
                .chars()
                .filter(|c| !matches!(c, '-' | ':'))
                .collect();
            let base = PathBuf::from("reports").join(format!("{scenario}-{stamp}"));
            (1..)
                .map(|n| {
                    if n == 1 {
                        base.clone()
                    } else {
                        PathBuf::from(format!("{}-{n}", base.display()))
                    }
                })
                .find(|candidate| !candidate.exists())
                .unwrap_or(base)
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the report folder {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Progress of cohort key generation on stderr: a rewritten line on a terminal, every tenth
/// otherwise.
pub(crate) fn key_progress() -> fleetgate_runner::environment::KeyProgress {
    let terminal = std::io::stderr().is_terminal();
    std::sync::Arc::new(move |cohort: &str, done: usize, total: usize| {
        let tenth = total.div_ceil(10).max(1);
        if terminal {
            let end = if done == total { "\n" } else { "" };
            err_text(&format!(
                "\rgenerating keys of cohort `{cohort}`: {done}/{total}{end}"
            ));
        } else if done.is_multiple_of(tenth) || done == total {
            err(&format!("generating keys of cohort `{cohort}`: {done}/{total}"));
        }
    })
}
