//! Writing to the terminal: messages to stderr, results to stdout. A closed pipe is not an
//! error worth dying over, so write failures are ignored.

use std::io::Write;

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

/// Writes `error: …` to stderr.
pub(crate) fn error(message: &str) {
    err(&format!("error: {message}"));
}
