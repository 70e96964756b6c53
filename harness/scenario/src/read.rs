//! The reader: walks a parsed TOML tree against the [`spec`](crate::spec) declarations, turning
//! values into typed [`Val`]s and every mismatch into a [`Diagnostic`], without stopping at the
//! first one.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, quote};
use crate::spec::{Kind, TableSpec};
use crate::units::{self, Rate, SignedDuration};

/// A value read from the file, with where it was and its key path.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) val: Val,
    pub(crate) span: Range<usize>,
    pub(crate) path: String,
}

/// A gate threshold as written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Threshold {
    Number(f64),
    Duration(Duration),
    Percent(f64),
    Rate(Rate),
}

/// A typed value.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Duration(Duration),
    SignedDuration(SignedDuration),
    Rate(Rate),
    Size(u64),
    Threshold(Threshold),
    Table(Fields),
    Array(Vec<Item>),
    Map(Vec<(String, Range<usize>, Item)>),
}

/// The keys read from one table (only those present and well-formed).
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    entries: Vec<(&'static str, Item)>,
}

impl Fields {
    pub(crate) fn get(&self, key: &str) -> Option<&Item> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        match &self.get(key)?.val {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)?.val {
            Val::Int(i) => Some(i),
            _ => None,
        }
    }
    pub(crate) fn float(&self, key: &str) -> Option<f64> {
        match self.get(key)?.val {
            Val::Float(f) => Some(f),
            _ => None,
        }
    }
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)?.val {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub(crate) fn duration(&self, key: &str) -> Option<Duration> {
        match self.get(key)?.val {
            Val::Duration(d) => Some(d),
            _ => None,
        }
    }
    pub(crate) fn signed_duration(&self, key: &str) -> Option<SignedDuration> {
        match self.get(key)?.val {
            Val::SignedDuration(d) => Some(d),
            _ => None,
        }
    }
    pub(crate) fn rate(&self, key: &str) -> Option<Rate> {
        match self.get(key)?.val {
            Val::Rate(r) => Some(r),
            _ => None,
        }
    }
    pub(crate) fn size(&self, key: &str) -> Option<u64> {
        match self.get(key)?.val {
            Val::Size(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn table(&self, key: &str) -> Option<&Fields> {
        match &self.get(key)?.val {
            Val::Table(t) => Some(t),
            _ => None,
        }
    }
    pub(crate) fn array(&self, key: &str) -> &[Item] {
        match self.get(key).map(|i| &i.val) {
            Some(Val::Array(items)) => items,
            _ => &[],
        }
    }
}

/// Reads `table` as `spec`, appending every problem to `out`.
pub(crate) fn read_table(
    table: &DeTable<'_>,
    spec: &'static TableSpec,
    span: Range<usize>,
    path: &str,
    out: &mut Vec<Diagnostic>,
) -> Fields {
    let mut fields = Fields::default();
    let mut suggested = Vec::new();
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        let key_path = join(path, name);
        match spec.key(name) {
            None => {
                let suggestion = closest_key(spec, name);
                suggested.extend(suggestion);
                out.push(unknown_key(spec, name, suggestion, &key_path, key.span()));
            }
            Some(key_spec) => {
                if let Some(item) = read_value(value, &key_spec.kind, &key_path, out) {
                    fields.entries.push((key_spec.name, item));
                }
            }
        }
    }
    // A required key that a misspelling was taken for is reported once, as the misspelling.
    for key_spec in spec
        .keys
        .iter()
        .filter(|k| k.required && !suggested.contains(&k.name))
    {
        if !table.iter().any(|(k, _)| k.get_ref() == key_spec.name) {
            out.push(
                Diagnostic::error(
                    join(path, key_spec.name),
                    span.clone(),
                    format!("missing key `{}` in {}", key_spec.name, spec.title),
                )
                .with_help(format!(
                    "{}: {}",
                    key_spec.kind.expected(),
                    lowercase_doc(key_spec.doc)
                )),
            );
        }
    }
    fields
}

/// The declared key within two edits of `name`, if any.
fn closest_key(spec: &TableSpec, name: &str) -> Option<&'static str> {
    spec.keys
        .iter()
        .map(|k| (edit_distance(name, k.name), k.name))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// A doc line as the tail of a sentence: first letter lowercase, no final period.
fn lowercase_doc(doc: &str) -> String {
    let mut chars = doc.trim_end_matches('.').chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn unknown_key(
    spec: &TableSpec,
    name: &str,
    suggestion: Option<&str>,
    path: &str,
    span: Range<usize>,
) -> Diagnostic {
    let suggestion = suggestion
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    Diagnostic::error(
        path,
        span,
        format!("unknown key `{}` in {}{suggestion}", quote(name), spec.title),
    )
    .with_help(format!("the keys of {}: {}", spec.title, spec.key_list()))
}

/// Reads one value as `kind`.
pub(crate) fn read_value(
    value: &Spanned<DeValue<'_>>,
    kind: &Kind,
    path: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<Item> {
    let span = value.span();
    let item = |val| {
        Some(Item {
            val,
            span: span.clone(),
            path: path.to_owned(),
        })
    };
    let mismatch = |out: &mut Vec<Diagnostic>| {
        out.push(
            Diagnostic::error(
                path,
                span.clone(),
                format!("expected {}, found {}", kind.short(), describe(value.get_ref())),
            )
            .with_help(kind.expected()),
        );
        None
    };
    match (kind, value.get_ref()) {
        (Kind::Str, DeValue::String(s)) => item(Val::Str(s.to_string())),
        (Kind::Ident, DeValue::String(s)) => {
            if is_ident(s) {
                item(Val::Str(s.to_string()))
            } else {
                invalid(
                    out,
                    path,
                    span,
                    kind,
                    format!("`{}` is not a valid name", quote(s)),
                )
            }
        }
        (Kind::Int { min, max }, DeValue::Integer(i)) => match integer(i) {
            Some(n) if (*min..=*max).contains(&n) => item(Val::Int(n)),
            Some(n) => invalid(out, path, span, kind, out_of_range(n, *min, *max)),
            None => invalid(out, path, span, kind, "integer out of range".into()),
        },
        (Kind::Float { min, max }, DeValue::Integer(_) | DeValue::Float(_)) => {
            match number(value.get_ref()) {
                Some(n) if n >= *min && n <= *max => item(Val::Float(n)),
                Some(n) => invalid(out, path, span, kind, format!("{n} is out of range")),
                None => mismatch(out),
            }
        }
        (Kind::Bool, DeValue::Boolean(b)) => item(Val::Bool(*b)),
        (Kind::Duration, DeValue::String(s)) => {
            parsed(out, path, span, kind, s, units::parse_duration, Val::Duration)
        }
        (Kind::SignedDuration, DeValue::String(s)) => parsed(
            out,
            path,
            span,
            kind,
            s,
            units::parse_signed_duration,
            Val::SignedDuration,
        ),
        (Kind::Rate, DeValue::String(s)) => parsed(out, path, span, kind, s, units::parse_rate, Val::Rate),
        (Kind::Size, DeValue::String(s)) => parsed(out, path, span, kind, s, units::parse_size, Val::Size),
        (Kind::Size, DeValue::Integer(i)) => match integer(i).and_then(|n| u64::try_from(n).ok()) {
            Some(n) if n <= units::MAX_SIZE => item(Val::Size(n)),
            Some(n) => invalid(
                out,
                path,
                span,
                kind,
                format!("{n} is too large: the most accepted is {}", units::MAX_SIZE),
            ),
            None => invalid(out, path, span, kind, "a size cannot be negative".into()),
        },
        (Kind::Threshold, DeValue::Integer(_) | DeValue::Float(_)) => match number(value.get_ref()) {
            Some(n) => item(Val::Threshold(Threshold::Number(n))),
            None => mismatch(out),
        },
        (Kind::Threshold, DeValue::String(s)) => {
            parsed(out, path, span, kind, s, parse_threshold, Val::Threshold)
        }
        (Kind::Enum(choices), DeValue::String(s)) => {
            if choices.contains(&s.as_ref()) {
                item(Val::Str(s.to_string()))
            } else {
                let hint = choices
                    .iter()
                    .map(|c| (edit_distance(s, c), *c))
                    .filter(|(d, _)| *d <= 2)
                    .min()
                    .map(|(_, c)| format!(" (did you mean \"{c}\"?)"))
                    .unwrap_or_default();
                invalid(
                    out,
                    path,
                    span,
                    kind,
                    format!("unknown value \"{}\"{hint}", quote(s)),
                )
            }
        }
        (Kind::Table(spec), DeValue::Table(t)) => {
            item(Val::Table(read_table(t, spec, span.clone(), path, out)))
        }
        (Kind::Array(inner), DeValue::Array(items)) => {
            let read = items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| read_value(v, inner, &format!("{path}[{i}]"), out))
                .collect();
            item(Val::Array(read))
        }
        (Kind::Map { value: inner, .. }, DeValue::Table(t)) => {
            let read = t
                .iter()
                .filter_map(|(k, v)| {
                    let key: &str = k.get_ref();
                    let child = read_value(v, inner, &join(path, key), out)?;
                    Some((key.to_owned(), k.span(), child))
                })
                .collect();
            item(Val::Map(read))
        }
        (Kind::OneOf(alternatives), found) => match alternatives.iter().find(|a| a.accepts_type_of(found)) {
            Some(alternative) => {
                // Problems inside the chosen alternative still name every alternative as accepted.
                let before = out.len();
                let read = read_value(value, alternative, path, out);
                if let (Some(first), false) = (out.get_mut(before), matches!(alternative, Kind::Table(_))) {
                    first.help = Some(kind.expected());
                }
                read
            }
            None => mismatch(out),
        },
        _ => mismatch(out),
    }
}

fn parsed<T>(
    out: &mut Vec<Diagnostic>,
    path: &str,
    span: Range<usize>,
    kind: &Kind,
    text: &str,
    parse: fn(&str) -> Option<T>,
    wrap: fn(T) -> Val,
) -> Option<Item> {
    match parse(text) {
        Some(v) => Some(Item {
            val: wrap(v),
            span,
            path: path.to_owned(),
        }),
        None => invalid(
            out,
            path,
            span,
            kind,
            format!("\"{}\" is not {}", quote(text), kind.short()),
        ),
    }
}

fn invalid(
    out: &mut Vec<Diagnostic>,
    path: &str,
    span: Range<usize>,
    kind: &Kind,
    message: String,
) -> Option<Item> {
    out.push(Diagnostic::error(path, span, message).with_help(kind.expected()));
    None
}

fn out_of_range(n: i64, min: i64, max: i64) -> String {
    if n < min {
        format!("{n} is too small: the least accepted is {min}")
    } else {
        format!("{n} is too large: the most accepted is {max}")
    }
}

fn parse_threshold(text: &str) -> Option<Threshold> {
    if let Some(pct) = text.trim().strip_suffix('%') {
        return pct
            .trim()
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite())
            .map(Threshold::Percent);
    }
    units::parse_duration(text)
        .map(Threshold::Duration)
        .or_else(|| units::parse_rate(text).map(Threshold::Rate))
}

fn integer(i: &toml::de::DeInteger<'_>) -> Option<i64> {
    let digits = i.as_str().replace('_', "");
    let (negative, body) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, digits.trim_start_matches('+').to_owned()),
    };
    let magnitude = i64::from_str_radix(&body, i.radix()).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn number(value: &DeValue<'_>) -> Option<f64> {
    match value {
        DeValue::Integer(i) => integer(i).map(|n| n as f64),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite()),
        _ => None,
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// How a TOML value is described in messages.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string \"{}\"", quote(s)),
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Float(f) => format!("the float {}", f.as_str()),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(d) => format!("the date-time {d}"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// `a.b` joined, or `b` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    let key = if key.contains('.') || key.is_empty() {
        format!("\"{}\"", quote(key))
    } else {
        quote(key)
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

impl Kind {
    /// A short noun for "expected …, found …" messages.
    pub fn short(&self) -> String {
        match self {
            Kind::Str | Kind::Ident | Kind::Enum(_) => "a string".into(),
            Kind::Int { .. } => "a whole number".into(),
            Kind::Float { .. } => "a number".into(),
            Kind::Bool => "true or false".into(),
            Kind::Duration | Kind::SignedDuration => "a duration".into(),
            Kind::Rate => "a rate".into(),
            Kind::Size => "a size".into(),
            Kind::Threshold => "a threshold".into(),
            Kind::Table(_) | Kind::Map { .. } => "a table".into(),
            Kind::Array(_) => "an array".into(),
            Kind::OneOf(alternatives) => {
                let names: Vec<String> = alternatives.iter().map(Kind::short).collect();
                names.join(" or ")
            }
        }
    }

    /// The full description of what is accepted, for the `accepted:` line.
    pub fn expected(&self) -> String {
        match self {
            Kind::Str => "a string".into(),
            Kind::Ident => "a name of letters, digits, `.`, `_` or `-`, starting with a letter or digit, at most 64 characters".into(),
            Kind::Int { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Float { min, max } => format!("a number from {min} to {max}"),
            Kind::Bool => "true or false".into(),
            Kind::Duration => units::DURATION_HELP.into(),
            Kind::SignedDuration => units::SIGNED_DURATION_HELP.into(),
            Kind::Rate => units::RATE_HELP.into(),
            Kind::Size => units::SIZE_HELP.into(),
            Kind::Threshold => "a number (\"max = 0\"), a duration (\"50ms\"), a percentage (\"99.9%\") or a rate (\"500/s\")".into(),
            Kind::Enum(choices) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
                format!("one of {}", quoted.join(", "))
            }
            Kind::Table(spec) => format!("a table with the keys {}", spec.key_list()),
            Kind::Array(inner) => format!("an array of {}", inner.short()),
            Kind::OneOf(alternatives) => {
                let all: Vec<String> = alternatives.iter().map(Kind::expected).collect();
                all.join("; or ")
            }
            Kind::Map { keys, value } => format!("a table whose keys are {keys} and whose values are {}", value.short()),
        }
    }

    fn accepts_type_of(&self, value: &DeValue<'_>) -> bool {
        match self {
            Kind::Str | Kind::Ident | Kind::Enum(_) | Kind::Duration | Kind::SignedDuration | Kind::Rate => {
                matches!(value, DeValue::String(_))
            }
            Kind::Int { .. } => matches!(value, DeValue::Integer(_)),
            Kind::Float { .. } => matches!(value, DeValue::Integer(_) | DeValue::Float(_)),
            Kind::Bool => matches!(value, DeValue::Boolean(_)),
            Kind::Size => matches!(value, DeValue::String(_) | DeValue::Integer(_)),
            Kind::Threshold => matches!(
                value,
                DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_)
            ),
            Kind::Table(_) | Kind::Map { .. } => matches!(value, DeValue::Table(_)),
            Kind::Array(_) => matches!(value, DeValue::Array(_)),
            Kind::OneOf(alternatives) => alternatives.iter().any(|a| a.accepts_type_of(value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("devcies", "devices"), 2);
        assert_eq!(edit_distance("device", "devices"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn dotted_keys_are_quoted_in_paths() {
        assert_eq!(
            join("gates", "publish.puback.p99"),
            "gates.\"publish.puback.p99\""
        );
        assert_eq!(join("", "cohort"), "cohort");
    }

    #[test]
    fn names_must_start_alphanumeric() {
        assert!(is_ident("steady-1.a_b"));
        assert!(!is_ident("-x"));
        assert!(!is_ident(""));
        assert!(!is_ident("has space"));
    }

    #[test]
    fn thresholds_accept_percentages_durations_and_rates() {
        assert!(matches!(parse_threshold("99.9%"), Some(Threshold::Percent(p)) if p == 99.9));
        assert!(matches!(parse_threshold("50ms"), Some(Threshold::Duration(_))));
        assert!(matches!(parse_threshold("500/s"), Some(Threshold::Rate(_))));
        assert!(parse_threshold("fast").is_none());
    }
}
