//! Diagnostics: one error or warning about a scenario file, with its location, key path and what
//! would have been accepted; rendered the way `fleetgate validate` prints them.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::sync::OnceLock;

/// A scenario file's text and the name it is shown under.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user named it (shown in every diagnostic).
    pub name: String,
    /// The whole text.
    pub text: String,
    /// Byte offsets where each line starts, computed once: every diagnostic is located in
    /// O(log n), so rendering thousands of them stays linear.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    /// A source file from its display name and text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    /// A source file from bytes read from disk. Text that is not UTF-8 is refused with where the
    /// first invalid byte is, as `name:line:column: …`.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Self, String> {
        let name = name.into();
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Self::new(name, text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                // Everything before `at` is valid UTF-8 by definition.
                let valid = String::from_utf8_lossy(&bytes[..at]).into_owned();
                let (line, col) = Self::new("", valid).line_col(at);
                let byte = bytes.get(at).copied().unwrap_or_default();
                Err(format!(
                    "{name}:{line}:{col}: the file is not UTF-8 text (byte 0x{byte:02x} at offset {at}); scenario files are UTF-8 TOML"
                ))
            }
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let starts = self.line_starts();
        let index = starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let line_start = starts.get(index).copied().unwrap_or(0);
        let col = self.text[line_start..offset].chars().count() + 1;
        (index + 1, col)
    }

    /// The text of a 1-based line, without its line ending.
    fn line_text(&self, line: usize) -> &str {
        let starts = self.line_starts();
        let Some(&start) = starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = starts.get(line).map_or(self.text.len(), |next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The scenario cannot run.
    Error,
    /// The scenario runs, but probably not as meant.
    Warning,
}

/// One problem found in a scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The key path, such as `cohort[0].telemetry.every` (empty for the whole file).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Byte range in the file the problem is at.
    pub span: Range<usize>,
    /// What would be accepted instead.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(path: impl Into<String>, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            message: bounded(&message.into()),
            span,
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(path: impl Into<String>, span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(path, span, message)
        }
    }

    /// Adds what would be accepted.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic against its file, rustc-style:
    ///
    /// ```text
    /// error: cohort[0].devices: must be at least 1, found 0
    ///   --> scenarios/x.toml:9:11
    ///    |
    ///  9 | devices = 0
    ///    |           ^
    ///    = accepted: a whole number from 1 to 1000000
    /// ```
    pub fn render(&self, file: &SourceFile) -> String {
        let (line, col) = file.line_col(self.span.start);
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = String::new();
        let subject = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path)
        };
        let gutter = " ".repeat(line.to_string().len());
        let (text, at) = window(file.line_text(line), col);
        let width = marker_width(&text, at, &file.text[self.span.clone().clamp_to(&file.text)]);
        let _ = writeln!(out, "{label}: {subject}{}", self.message);
        let _ = writeln!(out, "{gutter}--> {}:{line}:{col}", file.name);
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{line} | {text}");
        let _ = writeln!(
            out,
            "{gutter} | {}{}",
            " ".repeat(at.saturating_sub(1)),
            "^".repeat(width)
        );
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{gutter} = accepted: {help}");
        }
        out
    }
}

/// How many characters of a source line a diagnostic shows around its column.
const WINDOW: usize = 120;

/// The part of `line` shown for column `col`, escaped, and the column within it: a long line
/// (a 100 MB value on one line) is cut to [`WINDOW`] characters around the column, each cut
/// marked `…`.
fn window(line: &str, col: usize) -> (String, usize) {
    let chars = line.chars().count();
    let start = col
        .saturating_sub(WINDOW / 2 + 1)
        .min(chars.saturating_sub(WINDOW));
    let shown: String = line
        .chars()
        .skip(start)
        .take(WINDOW)
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let mut text = String::new();
    let mut col = col - start;
    if start > 0 {
        text.push('…');
        col += 1;
    }
    text.push_str(&shown);
    if start + WINDOW < chars {
        text.push('…');
    }
    (text, col)
}

/// A value from the file as a message quotes it: control characters escaped, and cut to 60
/// characters with the original length said, so a huge or hostile value is never echoed whole.
pub fn quote(value: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX {
            let _ = write!(out, "… ({} bytes in all)", value.len());
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A whole message bounded the same way, the safety net for messages that embed a value without
/// [`quote`]: a message is never more than a few hundred characters, whatever the file held.
fn bounded(message: &str) -> String {
    if message.len() <= 400 && !message.chars().any(char::is_control) {
        return message.to_owned();
    }
    let mut out = String::new();
    for (i, c) in message.chars().enumerate() {
        if i == 400 {
            let _ = write!(out, "… (a message of {} bytes)", message.len());
            break;
        }
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Clamps a span to the text so that slicing never panics.
trait SpanClamp {
    fn clamp_to(self, text: &str) -> Range<usize>;
}

impl SpanClamp for Range<usize> {
    fn clamp_to(self, text: &str) -> Range<usize> {
        let start = floor_char_boundary(text, self.start.min(text.len()));
        let end = floor_char_boundary(text, self.end.clamp(start, text.len()));
        start..end
    }
}

/// How many `^` to draw: the span's first line, at least one, within the line.
fn marker_width(line: &str, col: usize, spanned: &str) -> usize {
    let first_line = spanned.lines().next().unwrap_or("");
    let room = line.chars().count().saturating_sub(col - 1).max(1);
    first_line.chars().count().clamp(1, room)
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// Renders every diagnostic and a closing count line, as `fleetgate validate` prints them.
pub fn render_all(file: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&diagnostic.render(file));
        out.push('\n');
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let _ = writeln!(
        out,
        "{}: {} {}, {} {}",
        file.name,
        errors,
        plural(errors, "error"),
        warnings,
        plural(warnings, "warning")
    );
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_not_bytes() {
        let file = SourceFile::new("x.toml", "a = 1\nname = \"ü\" x\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(6), (2, 1));
        let x = file.text.find(" x").unwrap() + 1;
        assert_eq!(file.line_col(x), (2, 12));
    }

    #[test]
    fn render_points_at_the_span_and_says_what_is_accepted() {
        let file = SourceFile::new("s.toml", "[cohort]\ndevices = 0\n");
        let start = file.text.find('0').unwrap();
        let diagnostic = Diagnostic::error("cohort.devices", start..start + 1, "must be at least 1")
            .with_help("a whole number from 1 to 10");
        let text = diagnostic.render(&file);
        assert_eq!(
            text,
            "error: cohort.devices: must be at least 1\n --> s.toml:2:11\n  |\n2 | devices = 0\n  |           ^\n  = accepted: a whole number from 1 to 10\n"
        );
    }

    #[test]
    fn long_lines_are_shown_around_the_column_and_values_quoted_short() {
        let long = "x".repeat(10_000);
        let file = SourceFile::new("l.toml", format!("a = \"{long}\" b"));
        let at = file.text.len() - 1;
        let text = Diagnostic::error("a", at..at + 1, "here").render(&file);
        assert!(text.len() < 600, "{text}");
        assert!(text.contains("l.toml:1:10008"), "{text}");
        assert!(text.contains("…x") && text.contains("\" b\n"), "{text}");
        let quoted = quote(&format!("\u{1b}[31m{long}"));
        assert!(
            quoted.starts_with("\\u{1b}[31m") && quoted.ends_with("… (10005 bytes in all)"),
            "{quoted}"
        );
    }

    #[test]
    fn locating_many_diagnostics_reads_the_file_once() {
        let file = SourceFile::new("m.toml", "a = 1\n".repeat(50_000));
        for line in (0..50_000).step_by(997) {
            assert_eq!(file.line_col(line * 6 + 2), (line + 1, 3));
            assert_eq!(file.line_text(line + 1), "a = 1");
        }
        assert_eq!(file.line_text(50_001), "");
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_with_its_line_and_column() {
        let error = SourceFile::from_bytes("b.toml", b"a = 1\nname = \"\xc3\x28\"\n".to_vec()).unwrap_err();
        assert_eq!(
            error,
            "b.toml:2:9: the file is not UTF-8 text (byte 0xc3 at offset 14); scenario files are UTF-8 TOML"
        );
        assert_eq!(
            SourceFile::from_bytes("ok.toml", b"a = 1".to_vec()).unwrap().text,
            "a = 1"
        );
    }

    #[test]
    fn spans_past_the_end_render_without_panicking() {
        let file = SourceFile::new("e.toml", "a = \"é");
        let diagnostic = Diagnostic::warning("", 5..99, "unterminated");
        assert!(diagnostic.render(&file).contains("e.toml:1:6"));
    }
}
