//! Live progress of a load run on stderr: on a terminal one line rewritten in place every
//! second; otherwise (CI logs) one plain status line every few seconds.

use std::io::IsTerminal;
use std::time::Duration;

use fleetgate_runner::Progress;

use crate::output::{err, err_text};

/// How often a plain status line is written without a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The progress display.
pub(crate) struct LiveLine {
    terminal: bool,
    drawn: bool,
    next_plain: Duration,
}

impl LiveLine {
    /// A display for this process's stderr.
    pub(crate) fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            drawn: false,
            next_plain: Duration::ZERO,
        }
    }

    /// Shows one reading.
    pub(crate) fn show(&mut self, progress: &Progress) {
        let line = status(progress);
        if self.terminal {
            err_text(&format!("\r\x1b[2K{line}"));
            self.drawn = true;
        } else if progress.elapsed >= self.next_plain {
            err(&line);
            self.next_plain = progress.elapsed + PLAIN_EVERY;
        }
    }

    /// Clears the live line before other output.
    pub(crate) fn clear(&mut self) {
        if self.drawn {
            err_text("\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// `  12s steady  connected 980/1000 (1020 attempts)  1203 msg/s  puback p99 12.3ms  sent 14002  acked 13990  errors 2`
pub(crate) fn status(p: &Progress) -> String {
    let p99 = p.puback_p99.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1}ms", d.as_secs_f64() * 1000.0),
    );
    format!(
        "  {:>4}s {}  connected {}/{} ({} attempts)  {:.0} msg/s  puback p99 {p99}  sent {}  acked {}  errors {}",
        p.elapsed.as_secs(),
        p.phase.as_deref().unwrap_or("-"),
        p.connected,
        p.devices,
        p.attempts,
        p.acked_per_sec,
        p.sent,
        p.acked,
        p.errors
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_connections_rate_latency_and_errors() {
        let line = status(&Progress {
            elapsed: Duration::from_secs(12),
            phase: Some("steady".into()),
            devices: 1000,
            connected: 980,
            attempts: 1020,
            sent: 14_002,
            acked: 13_990,
            acked_per_sec: 1203.4,
            puback_p99: Some(Duration::from_micros(12_345)),
            errors: 2,
            interval: Duration::from_secs(1),
            latency: Vec::new(),
        });
        assert_eq!(
            line,
            "    12s steady  connected 980/1000 (1020 attempts)  1203 msg/s  puback p99 12.3ms  sent 14002  acked 13990  errors 2"
        );
    }
}
