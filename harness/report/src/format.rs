//! Human formatting of values in their units, shared by the Markdown and JUnit renderers.

use fleetgate_metrics::Unit;

/// `12.3 ms`, `99.95%`, `1234`, `500.0/s`.
pub fn value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Micros => micros(v),
        Unit::Count => format!("{v:.0}"),
        Unit::Ratio => format!("{:.2}%", v * 100.0),
        Unit::PerSecond => format!("{v:.1}/s"),
    }
}

fn micros(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2} s", us / 1_000_000.0)
    } else if us >= 1_000.0 {
        format!("{:.1} ms", us / 1_000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// A duration in seconds as `1.234 s` or `12 ms`.
pub fn seconds(secs: f64) -> String {
    micros(secs * 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_in_readable_units() {
        assert_eq!(value(850.0, Unit::Micros), "850 µs");
        assert_eq!(value(12_345.0, Unit::Micros), "12.3 ms");
        assert_eq!(value(2_500_000.0, Unit::Micros), "2.50 s");
        assert_eq!(value(0.9995, Unit::Ratio), "99.95%");
        assert_eq!(value(3.0, Unit::Count), "3");
        assert_eq!(value(500.0, Unit::PerSecond), "500.0/s");
    }
}
