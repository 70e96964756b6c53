//! Diagnostics: one error or warning about a scenario file, with its location, key path and what
//! would have been accepted; rendered the way `fleetgate validate` prints them.

use std::fmt::{self, Write as _};
use std::ops::Range;

/// A scenario file's text and the name it is shown under.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user named it (shown in every diagnostic).
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A source file from its display name and text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// The text of a 1-based line, without its line ending.
    fn line_text(&self, line: usize) -> &str {
        self.text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r')
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
            message: message.into(),
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
        let text = file.line_text(line);
        let width = marker_width(text, col, &file.text[self.span.clone().clamp_to(&file.text)]);
        let _ = writeln!(out, "{label}: {subject}{}", self.message);
        let _ = writeln!(out, "{gutter}--> {}:{line}:{col}", file.name);
        let _ = writeln!(out, "{gutter} |");
        let _ = writeln!(out, "{line} | {text}");
        let _ = writeln!(
            out,
            "{gutter} | {}{}",
            " ".repeat(col.saturating_sub(1)),
            "^".repeat(width)
        );
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{gutter} = accepted: {help}");
        }
        out
    }
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
    fn spans_past_the_end_render_without_panicking() {
        let file = SourceFile::new("e.toml", "a = \"é");
        let diagnostic = Diagnostic::warning("", 5..99, "unterminated");
        assert!(diagnostic.render(&file).contains("e.toml:1:6"));
    }
}
