//! Peer input made safe for a log line or a report: control characters escaped, long values
//! cut with their length said.

/// The longest value kept, in characters.
const LONGEST: usize = 200;

/// `text` with control characters escaped (`\n`, `\u{1b}`) and cut after 200 characters.
pub fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(LONGEST + 40));
    for (i, c) in text.chars().enumerate() {
        if i == LONGEST {
            out.push_str(&format!("… ({} bytes in all)", text.len()));
            break;
        }
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(label("pi-1\nconnect pi-2"), "pi-1\\nconnect pi-2");
        assert_eq!(label("\u{1b}[31m"), "\\u{1b}[31m");
        let long = "x".repeat(1000);
        assert_eq!(label(&long), format!("{}… (1000 bytes in all)", "x".repeat(200)));
    }
}
