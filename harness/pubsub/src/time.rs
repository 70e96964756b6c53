//! Protobuf timestamps and durations in their JSON forms (`"2024-05-01T12:00:00.123Z"`,
//! `"600s"`).

use std::time::{Duration, SystemTime};

use prost_types::Timestamp;

/// A timestamp in RFC 3339, UTC, with as many fraction digits as needed (0, 3, 6 or 9).
pub fn rfc3339(ts: &Timestamp) -> String {
    let secs = u64::try_from(ts.seconds).unwrap_or(0);
    let nanos = u32::try_from(ts.nanos).unwrap_or(0);
    let time = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
    let text = humantime::format_rfc3339_nanos(time).to_string();
    let (base, fraction) = text.trim_end_matches('Z').split_once('.').unwrap_or((&text, ""));
    let digits = fraction.trim_end_matches('0').len();
    let keep = [0, 3, 6, 9].into_iter().find(|n| *n >= digits).unwrap_or(9);
    if keep == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{}Z", &fraction[..keep])
    }
}

/// Parses an RFC 3339 timestamp.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .ok()
        .map(Timestamp::from)
}

/// A duration in the JSON form: seconds with an `s` suffix.
pub fn duration_json(d: &prost_types::Duration) -> String {
    if d.nanos == 0 {
        format!("{}s", d.seconds)
    } else {
        let frac = format!("{:09}", d.nanos.unsigned_abs());
        format!("{}.{}s", d.seconds, frac.trim_end_matches('0'))
    }
}

/// Parses the JSON form of a duration (`"600s"`, `"3.5s"`).
pub fn parse_duration(text: &str) -> Option<prost_types::Duration> {
    let number = text.strip_suffix('s')?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || frac.len() > 9 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(prost_types::Duration { seconds, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_with_minimal_fraction() {
        let ts = Timestamp {
            seconds: 1_700_000_000,
            nanos: 120_000_000,
        };
        assert_eq!(rfc3339(&ts), "2023-11-14T22:13:20.120Z");
        assert_eq!(
            rfc3339(&Timestamp { seconds: 0, nanos: 0 }),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.120Z"), Some(ts));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn durations_parse_and_print() {
        let d = parse_duration("3.5s").unwrap();
        assert_eq!((d.seconds, d.nanos), (3, 500_000_000));
        assert_eq!(duration_json(&d), "3.5s");
        assert_eq!(duration_json(&parse_duration("600s").unwrap()), "600s");
        for bad in ["", "s", "10", "1.2.3s", "abc s", "1.1234567890s"] {
            assert!(parse_duration(bad).is_none(), "{bad}");
        }
    }
}
