//! Typed values written as strings in scenario files: durations (`"250ms"`, `"1h30m"`), signed
//! durations (`"-90s"`), rates (`"500/s"`) and sizes (`"256KiB"`).

use std::fmt;
use std::time::Duration;

/// The longest duration a scenario may state: ten years. Every deadline the engine computes
/// (start + ramp + hold, `iat` + skew, a clock moved forward) stays far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);
/// The highest rate a scenario may state, per second.
pub const MAX_RATE_PER_SECOND: f64 = 1e9;
/// The largest size a scenario may state: 1 GiB.
pub const MAX_SIZE: u64 = 1 << 30;

/// What a duration string may look like, for error messages.
pub const DURATION_HELP: &str =
    "a duration such as \"250ms\", \"10s\", \"60m\" or \"1h30m\" (units: us, ms, s, m, h, d), at most 3650d";
/// What a signed duration string may look like, for error messages.
pub const SIGNED_DURATION_HELP: &str = "a duration with an optional sign, such as \"0s\", \"-90s\" or \"+15m\" (units: us, ms, s, m, h, d), at most 3650d either way";
/// What a rate string may look like, for error messages.
pub const RATE_HELP: &str = "a rate such as \"500/s\", \"30/m\" or \"2.5/s\" (a positive number, `/`, then s, m or h), from one per 3650d to 1e9/s";
/// What a size may look like, for error messages.
pub const SIZE_HELP: &str = "a size: a whole number of bytes, or a string such as \"200B\", \"4KiB\", \"256KiB\" or \"1MiB\", at most 1GiB";

const UNITS: &[(&str, u128)] = &[
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Parses an unsigned duration: one or more `<number><unit>` groups, e.g. `"1h30m"`, `"1.5s"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let nanos_per = UNITS.iter().find(|(u, _)| *u == unit)?.1;
        total = total.checked_add(scaled(number, nanos_per)?)?;
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).ok()?;
    // The remainder of a division by 10^9 always fits in a u32.
    let nanos = u32::try_from(total % 1_000_000_000).ok()?;
    Some(Duration::new(secs, nanos)).filter(|d| *d <= MAX_DURATION)
}

/// `number × nanos_per`, where `number` may have a fractional part; `None` if malformed.
fn scaled(number: &str, nanos_per: u128) -> Option<u128> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut value = whole.checked_mul(nanos_per)?;
    let mut scale = nanos_per;
    for digit in frac.chars() {
        scale /= 10;
        value = value.checked_add(u128::from(digit.to_digit(10)?) * scale)?;
    }
    Some(value)
}

/// A duration that may be negative, such as a device's clock skew.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SignedDuration {
    /// True when the duration is below zero.
    pub negative: bool,
    /// The magnitude.
    pub magnitude: Duration,
}

impl SignedDuration {
    /// The duration in (possibly negative) seconds.
    pub fn as_secs_f64(&self) -> f64 {
        let secs = self.magnitude.as_secs_f64();
        if self.negative { -secs } else { secs }
    }
}

/// Parses a duration with an optional leading `+` or `-`.
pub fn parse_signed_duration(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_duration(body)?;
    Some(SignedDuration {
        negative: negative && !magnitude.is_zero(),
        magnitude,
    })
}

impl fmt::Display for SignedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(f, "{sign}{}", format_duration(self.magnitude))
    }
}

/// Formats a duration compactly (`"1h30m"`, `"250ms"`), the inverse of [`parse_duration`].
pub fn format_duration(duration: Duration) -> String {
    let mut nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, per) in UNITS.iter().rev() {
        if nanos >= *per {
            out.push_str(&format!("{}{unit}", nanos / per));
            nanos %= per;
        }
    }
    if nanos > 0 {
        out.push_str(&format!("{nanos}ns"));
    }
    out
}

/// Events per second.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    /// The rate in events per second.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_second)
    }
}

/// Parses `"<positive number>/<s|m|h>"`.
pub fn parse_rate(text: &str) -> Option<Rate> {
    let (count, per) = text.trim().split_once('/')?;
    let count: f64 = count.trim().parse().ok()?;
    let seconds = match per.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let per_second = count / seconds;
    let slowest = 1.0 / MAX_DURATION.as_secs_f64();
    (count.is_finite() && (slowest..=MAX_RATE_PER_SECOND).contains(&per_second))
        .then_some(Rate { per_second })
}

/// Parses a byte size: `"200"`, `"200B"`, `"4KiB"`, `"1MiB"`, `"1GiB"`, `"2KB"` (KB = 1000 bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor).filter(|n| *n <= MAX_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_every_unit_and_compound_forms() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("60m"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("15us"), Some(Duration::from_micros(15)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn durations_reject_missing_units_and_junk() {
        assert_eq!(parse_duration("3650d"), Some(MAX_DURATION));
        for bad in [
            "",
            "10",
            "ms",
            "10 parsecs",
            "1..5s",
            "-5s",
            "5sec",
            "1h30",
            "3650d1us",
            "18446744073709551615s",
            "340282366920938463463374607431768211455us",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?} should be refused");
        }
    }

    #[test]
    fn durations_format_back_to_what_they_parse_from() {
        for text in ["1h30m", "250ms", "0s", "1d2h", "10s15us"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
    }

    #[test]
    fn signed_durations_keep_their_sign() {
        let skew = parse_signed_duration("-90s").unwrap();
        assert_eq!(skew.as_secs_f64(), -90.0);
        assert_eq!(skew.to_string(), "-1m30s");
        assert_eq!(parse_signed_duration("+15m").unwrap().as_secs_f64(), 900.0);
        assert!(!parse_signed_duration("-0s").unwrap().negative);
        assert_eq!(parse_signed_duration("--1s"), None);
    }

    #[test]
    fn rates_are_positive_counts_per_unit() {
        assert_eq!(parse_rate("500/s").unwrap().per_second(), 500.0);
        assert_eq!(parse_rate("30/m").unwrap().per_second(), 0.5);
        assert_eq!(parse_rate("3600/h").unwrap().per_second(), 1.0);
        assert!(parse_rate("1e9/s").is_some() && parse_rate("1/h").is_some());
        for bad in [
            "500", "0/s", "-1/s", "5/day", "x/s", "inf/s", "1e10/s", "1e-300/s", "NaN/s",
        ] {
            assert_eq!(parse_rate(bad), None, "{bad:?} should be refused");
        }
    }

    #[test]
    fn sizes_accept_binary_and_decimal_units() {
        assert_eq!(parse_size("256KiB"), Some(262_144));
        assert_eq!(parse_size("1MiB"), Some(1_048_576));
        assert_eq!(parse_size("2KB"), Some(2_000));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("200"), Some(200));
        assert_eq!(parse_size("200B"), Some(200));
        for bad in [
            "",
            "KiB",
            "1.5KiB",
            "-4B",
            "4 TiB",
            "2GiB",
            "18446744073709551615",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?} should be refused");
        }
    }
}
