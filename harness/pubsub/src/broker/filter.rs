//! Subscription filters in Google's filter language (docs/protocol.md §9): `attributes.k = "v"`,
//! `attributes.k != "v"`, `attributes:k` (has the key), `hasPrefix(attributes.k, "p")`, joined
//! by `NOT` (or `-`), `AND`, `OR` and parentheses; `AND` and `OR` may not be mixed without
//! parentheses. Keys are words of letters, digits, `_` and `-`, or double-quoted strings.
//! A small recursive-descent parser turns the text into a [`Filter`] once, at subscription
//! creation; [`Filter::matches`] then runs on every published message.

use std::collections::HashMap;

use crate::error::Error;

/// The longest filter expression Google accepts, in bytes.
pub const MAX_FILTER_BYTES: usize = 256;

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `attributes.k = "v"`.
    Equals(String, String),
    /// `attributes:k`.
    Has(String),
    /// `hasPrefix(attributes.k, "p")`.
    HasPrefix(String, String),
    /// `NOT e` (and `attributes.k != "v"`, which is `NOT attributes.k = "v"`).
    Not(Box<Filter>),
    /// `a AND b AND …`.
    All(Vec<Filter>),
    /// `a OR b OR …`.
    Any(Vec<Filter>),
}

impl Filter {
    /// Parses `text`; the error names the problem and where it is, as `INVALID_ARGUMENT`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(Error::invalid(format!(
                "Invalid filter expression: the filter is {} bytes long, but the maximum length is {MAX_FILTER_BYTES} bytes.",
                text.len()
            )));
        }
        let mut parser = Parser { text, pos: 0 };
        let filter = parser.expression()?;
        parser.skip_space();
        if parser.pos < text.len() {
            return Err(parser.error("expected AND, OR or the end of the filter"));
        }
        Ok(filter)
    }

    /// Whether a message with `attributes` passes the filter.
    pub fn matches(&self, attributes: &HashMap<String, String>) -> bool {
        match self {
            Self::Equals(key, value) => attributes.get(key) == Some(value),
            Self::Has(key) => attributes.contains_key(key),
            Self::HasPrefix(key, prefix) => attributes
                .get(key)
                .is_some_and(|v| v.starts_with(prefix.as_str())),
            Self::Not(inner) => !inner.matches(attributes),
            Self::All(parts) => parts.iter().all(|p| p.matches(attributes)),
            Self::Any(parts) => parts.iter().any(|p| p.matches(attributes)),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> Error {
        let found = self
            .rest()
            .chars()
            .next()
            .map_or_else(|| "the end of the filter".to_owned(), |c| format!("{c:?}"));
        Error::invalid(format!(
            "Invalid filter expression: {what} at position {}, found {found}.",
            self.pos
        ))
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Consumes `token` (after spaces) if it comes next; words must end at a word boundary.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        if !rest.starts_with(token) {
            return false;
        }
        let word = token.starts_with(|c: char| c.is_ascii_alphabetic());
        if word && rest[token.len()..].chars().next().is_some_and(is_word) {
            return false;
        }
        self.pos += token.len();
        true
    }

    fn expect(&mut self, token: &str) -> Result<(), Error> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {token:?}")))
        }
    }

    fn expression(&mut self) -> Result<Filter, Error> {
        let first = self.term()?;
        let (joiner, other) = if self.eat("AND") {
            ("AND", "OR")
        } else if self.eat("OR") {
            ("OR", "AND")
        } else {
            return Ok(first);
        };
        let mut parts = vec![first, self.term()?];
        loop {
            if self.eat(joiner) {
                parts.push(self.term()?);
            } else if self.eat(other) {
                self.pos -= other.len();
                return Err(self.error("AND and OR cannot be mixed without parentheses"));
            } else {
                break;
            }
        }
        Ok(if joiner == "AND" {
            Filter::All(parts)
        } else {
            Filter::Any(parts)
        })
    }

    fn term(&mut self) -> Result<Filter, Error> {
        if self.eat("NOT") || self.eat("-") {
            return Ok(Filter::Not(Box::new(self.term()?)));
        }
        if self.eat("(") {
            let inner = self.expression()?;
            self.expect(")")?;
            return Ok(inner);
        }
        if self.eat("hasPrefix") {
            self.expect("(")?;
            self.expect("attributes")?;
            self.expect(".")?;
            let key = self.key()?;
            self.expect(",")?;
            let prefix = self.string()?;
            self.expect(")")?;
            return Ok(Filter::HasPrefix(key, prefix));
        }
        if !self.eat("attributes") {
            return Err(self.error("expected attributes, hasPrefix, NOT or \"(\""));
        }
        if self.eat(":") {
            return Ok(Filter::Has(self.key()?));
        }
        self.expect(".")?;
        let key = self.key()?;
        if self.eat("!=") {
            return Ok(Filter::Not(Box::new(Filter::Equals(key, self.string()?))));
        }
        if self.eat("=") {
            return Ok(Filter::Equals(key, self.string()?));
        }
        Err(self.error("expected =, != after the attribute key"))
    }

    /// An attribute key: a word of letters, digits, `_` and `-`, or a quoted string.
    fn key(&mut self) -> Result<String, Error> {
        self.skip_space();
        if self.rest().starts_with('"') {
            return self.string();
        }
        let len = self
            .rest()
            .find(|c: char| !is_word(c))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error("expected an attribute key"));
        }
        let key = self.rest()[..len].to_owned();
        self.pos += len;
        Ok(key)
    }

    /// A double-quoted string; `\"` and `\\` escape.
    fn string(&mut self) -> Result<String, Error> {
        self.skip_space();
        if !self.rest().starts_with('"') {
            return Err(self.error("expected a double-quoted string"));
        }
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.pos = start;
        Err(self.error("unterminated string"))
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
