//! The scenario format, declared once as data: every table, key, kind, default and doc line.
//! The types are here; the format itself is in `tables`.
//!
//! The reader checks files against these declarations (unknown keys, missing keys, wrong types,
//! malformed units) and the JSON schema is generated from them, so the two cannot disagree.

/// A TOML table: its keys and what they accept.
#[derive(Debug)]
pub struct TableSpec {
    /// How the table is named in messages, such as `[[cohort]]`.
    pub title: &'static str,
    /// One line on what the table is for.
    pub doc: &'static str,
    /// The keys the table accepts, in documentation order.
    pub keys: &'static [KeySpec],
}

impl TableSpec {
    /// The declaration of `key`, if the table accepts it.
    pub fn key(&self, key: &str) -> Option<&'static KeySpec> {
        self.keys.iter().find(|k| k.name == key)
    }

    /// The accepted keys, comma separated, for messages.
    pub fn key_list(&self) -> String {
        let names: Vec<&str> = self.keys.iter().map(|k| k.name).collect();
        names.join(", ")
    }
}

/// One key of a table.
#[derive(Debug)]
pub struct KeySpec {
    /// The key as written in the file.
    pub name: &'static str,
    /// What value it accepts.
    pub kind: Kind,
    /// Whether the key must be present.
    pub required: bool,
    /// The default, as it would be written in the file, when the key is optional.
    pub default: Option<&'static str>,
    /// One line on what it means.
    pub doc: &'static str,
}

/// The kinds of values a key accepts.
#[derive(Debug)]
pub enum Kind {
    /// Any string.
    Str,
    /// A name: letters, digits, `.`, `_`, `-`; starts with a letter or digit; 1–64 characters.
    Ident,
    /// A whole number in a range.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A number (integer or float) in a range.
    Float {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// `true` or `false`.
    Bool,
    /// `"250ms"`, `"60m"`, …
    Duration,
    /// `"-90s"`, `"+15m"`, …
    SignedDuration,
    /// `"500/s"`, …
    Rate,
    /// A byte count, as a number or `"256KiB"`.
    Size,
    /// A gate threshold: a number, a duration, a percentage (`"99.9%"`) or a rate.
    Threshold,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// A table with its own keys.
    Table(&'static TableSpec),
    /// An array of values of one kind.
    Array(&'static Kind),
    /// Any one of several kinds, told apart by TOML type.
    OneOf(&'static [Kind]),
    /// A table whose keys are chosen by the user, each mapping to a value of one kind.
    Map {
        /// What the keys name, for messages.
        keys: &'static str,
        /// What every value accepts.
        value: &'static Kind,
    },
}

mod tables;

pub use tables::*;
