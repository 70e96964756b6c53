//! Device id templates: `"pi-{index:05}"` → `pi-00000`, `pi-00001`, …

use std::fmt;

/// A parsed device id template with exactly one `{index}` placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdTemplate {
    prefix: String,
    suffix: String,
    width: usize,
}

/// What a template may look like, for error messages.
pub const TEMPLATE_HELP: &str = "a device id with one {index} placeholder, optionally zero-padded as {index:05}, such as \"pi-{index:05}\"";

impl IdTemplate {
    /// Parses a template, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(open) = text.find('{') else {
            return Err(format!(
                "\"{text}\" has no {{index}} placeholder, so every device would get the same id"
            ));
        };
        let close = text[open..]
            .find('}')
            .map(|i| open + i)
            .ok_or_else(|| format!("\"{text}\" opens a placeholder with `{{` but never closes it"))?;
        let inner = &text[open + 1..close];
        let width = match inner.strip_prefix("index") {
            Some("") => 0,
            Some(spec) => spec
                .strip_prefix(":0")
                .and_then(|w| w.parse::<usize>().ok())
                .filter(|w| (1..=12).contains(w))
                .ok_or_else(|| format!("`{{{inner}}}` is not a valid placeholder"))?,
            None => return Err(format!("`{{{inner}}}` is not a valid placeholder")),
        };
        let suffix = &text[close + 1..];
        if suffix.contains(['{', '}']) || text[..open].contains('}') {
            return Err(format!(
                "\"{text}\" must contain exactly one {{index}} placeholder"
            ));
        }
        Ok(Self {
            prefix: text[..open].to_owned(),
            suffix: suffix.to_owned(),
            width,
        })
    }

    /// The id of device `index`.
    pub fn render(&self, index: u64) -> String {
        format!(
            "{}{index:0width$}{}",
            self.prefix,
            self.suffix,
            width = self.width
        )
    }
}

impl fmt::Display for IdTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.width == 0 {
            write!(f, "{}{{index}}{}", self.prefix, self.suffix)
        } else {
            write!(f, "{}{{index:0{}}}{}", self.prefix, self.width, self.suffix)
        }
    }
}

/// Whether `id` follows IoT Core's rule for registry and device ids:
/// `[a-zA-Z][-a-zA-Z0-9._+~%]+`, 3–255 characters, not starting with `goog`.
pub fn is_iot_id(id: &str) -> bool {
    let mut chars = id.chars();
    (3..=255).contains(&id.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._+~%".contains(c))
        && !id.to_ascii_lowercase().starts_with("goog")
}

/// The IoT Core id rule, for error messages.
pub const IOT_ID_HELP: &str =
    "3 to 255 characters: a letter, then letters, digits or - . _ + ~ %; not starting with \"goog\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_padded_and_plain_indexes() {
        let padded = IdTemplate::parse("pi-{index:05}").unwrap();
        assert_eq!(padded.render(7), "pi-00007");
        assert_eq!(padded.render(123_456), "pi-123456");
        assert_eq!(padded.to_string(), "pi-{index:05}");
        let plain = IdTemplate::parse("dev{index}-x").unwrap();
        assert_eq!(plain.render(42), "dev42-x");
    }

    #[test]
    fn templates_without_one_valid_placeholder_are_refused() {
        for bad in [
            "pi-0001",
            "pi-{idx}",
            "pi-{index:5}",
            "pi-{index",
            "{index}-{index}",
            "pi-{index:0x}",
        ] {
            assert!(IdTemplate::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn iot_ids_follow_the_registry_rule() {
        assert!(is_iot_id("pi-00001"));
        assert!(is_iot_id("Sensor.A+b~c%d"));
        assert!(!is_iot_id("pi"));
        assert!(!is_iot_id("1pi"));
        assert!(!is_iot_id("google-pi"));
        assert!(!is_iot_id("pi/1"));
    }
}
