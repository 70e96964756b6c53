//! Metric names: every metric fleetgate measures, with its unit and which direction is better.
//!
//! Latency metrics are HDR histograms in microseconds and are addressed by a statistic
//! (`publish.puback.p99`); counters, ratios and throughputs are addressed by name alone.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of value a metric holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A latency histogram in microseconds; gates address one of its [`Statistic`]s.
    Histogram,
    /// A count of events.
    Counter,
    /// A ratio between 0 and 1.
    Ratio,
    /// Events per second.
    Throughput,
}

/// The unit a gate threshold and a report value are expressed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Microseconds.
    Micros,
    /// A plain count.
    Count,
    /// A fraction between 0 and 1.
    Ratio,
    /// Events per second.
    PerSecond,
}

/// Which direction of change is an improvement, for baseline comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Smaller values are better (latencies, losses).
    Lower,
    /// Larger values are better (delivery ratios, throughput).
    Higher,
}

/// One named metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The dotted name used in scenario files and reports.
    pub name: &'static str,
    /// What it holds.
    pub kind: MetricKind,
    /// Which direction is better.
    pub better: Better,
    /// One line on what is measured.
    pub doc: &'static str,
}

const fn histogram(name: &'static str, doc: &'static str) -> Metric {
    Metric {
        name,
        kind: MetricKind::Histogram,
        better: Better::Lower,
        doc,
    }
}

const fn counter(name: &'static str, better: Better, doc: &'static str) -> Metric {
    Metric {
        name,
        kind: MetricKind::Counter,
        better,
        doc,
    }
}

/// Every metric fleetgate knows, in the order reports list them.
pub const METRICS: &[Metric] = &[
    histogram("sign.rs256", "minting one RS256 device JWT"),
    histogram("sign.es256", "minting one ES256 device JWT"),
    histogram("connect", "TCP + TLS + CONNACK, from the intended connect time"),
    histogram(
        "publish.puback",
        "QoS 1 publish to PUBACK, from the intended send time (corrected for coordinated omission)",
    ),
    histogram(
        "publish.puback.actual",
        "QoS 1 publish to PUBACK, from the actual send",
    ),
    histogram(
        "pipeline.pubsub",
        "intended send time to the message consumed from Pub/Sub",
    ),
    histogram(
        "pipeline.push",
        "intended send time to the message received by the push endpoint",
    ),
    histogram("push.request", "one push request of a push load, to its response"),
    counter(
        "messages.sent",
        Better::Higher,
        "telemetry messages sent by devices",
    ),
    counter(
        "messages.acked",
        Better::Higher,
        "telemetry messages acknowledged by the bridge",
    ),
    counter(
        "messages.delivered",
        Better::Higher,
        "acknowledged messages seen downstream",
    ),
    counter(
        "messages.duplicated",
        Better::Lower,
        "messages seen downstream more than once",
    ),
    counter(
        "messages.lost",
        Better::Lower,
        "acknowledged messages never seen downstream",
    ),
    counter(
        "messages.reordered",
        Better::Lower,
        "messages seen downstream out of order",
    ),
    counter(
        "messages.dropped_by_device",
        Better::Lower,
        "messages a device dropped because its offline queue was full",
    ),
    counter(
        "messages.publish_failed",
        Better::Lower,
        "publishes the bridge closed the connection on instead of sending a PUBACK",
    ),
    counter("state.updates", Better::Higher, "device state messages sent"),
    counter(
        "messages.pushed",
        Better::Higher,
        "acknowledged messages the push endpoint accepted",
    ),
    counter(
        "messages.push_lost",
        Better::Lower,
        "acknowledged messages the push endpoint never accepted",
    ),
    counter(
        "messages.push_duplicated",
        Better::Lower,
        "messages pushed again after the endpoint had accepted them",
    ),
    counter(
        "push.refused",
        Better::Lower,
        "pipeline pushes the embedded verifier refused (Pub/Sub retries them)",
    ),
    counter(
        "connects.refused",
        Better::Lower,
        "connection attempts the bridge refused",
    ),
    counter(
        "connects.attempts",
        Better::Lower,
        "connection attempts the devices started (each with a freshly minted JWT): accepted + refused + failed, and any still under way at the end",
    ),
    counter(
        "connects.accepted",
        Better::Higher,
        "connection attempts the bridge accepted",
    ),
    counter(
        "connects.failed",
        Better::Lower,
        "connection attempts that ended before a CONNACK (TCP refused, TLS failure, timeout), counted by cause as connect_errors.<cause>",
    ),
    counter(
        "connections.lost",
        Better::Lower,
        "connections that ended without the device closing them",
    ),
    counter(
        "messages.unacked",
        Better::Lower,
        "messages still unacknowledged when their device stopped for good",
    ),
    counter(
        "config.received",
        Better::Higher,
        "config messages devices received",
    ),
    counter("commands.received", Better::Higher, "commands devices received"),
    counter(
        "client.errors",
        Better::Lower,
        "requests the devices' MQTT client would not take",
    ),
    counter("reconnects", Better::Lower, "reconnections after a disconnect"),
    counter("token.refreshes", Better::Higher, "JWT refreshes by reconnecting"),
    counter("push.errors", Better::Lower, "push-load requests that failed"),
    counter(
        "push.invalid.sent",
        Better::Higher,
        "invalid pushes a push load mixed in ([push.load] invalid_share)",
    ),
    counter(
        "push.invalid.refused",
        Better::Higher,
        "invalid pushes the endpoint refused with a refusal status",
    ),
    counter(
        "push.invalid.accepted",
        Better::Lower,
        "invalid pushes the endpoint acknowledged: a validation hole",
    ),
    counter(
        "push.invalid.other",
        Better::Lower,
        "invalid pushes answered neither 2xx nor a refusal status",
    ),
    Metric {
        name: "pipeline.delivered_ratio",
        kind: MetricKind::Ratio,
        better: Better::Higher,
        doc: "messages delivered downstream / messages acknowledged by the bridge",
    },
    Metric {
        name: "connect.success_ratio",
        kind: MetricKind::Ratio,
        better: Better::Higher,
        doc: "accepted connection attempts / all connection attempts",
    },
    Metric {
        name: "push.rate",
        kind: MetricKind::Throughput,
        better: Better::Higher,
        doc: "pushes the push load sent per second (achieved, not asked for)",
    },
    Metric {
        name: "publish.throughput",
        kind: MetricKind::Throughput,
        better: Better::Higher,
        doc: "acknowledged telemetry messages per second over the load phases",
    },
];

/// Prefix of the per-reason refusal counters (`refusals.bad-signature`, `refusals.expired`, …),
/// counted from the embedded bridge's verdicts.
pub const REFUSALS_PREFIX: &str = "refusals.";

/// Prefix of the counters of connection attempts that ended before a CONNACK, by cause
/// (`connect_errors.refused`, `connect_errors.tls`, `connect_errors.timeout`, …); gate on
/// `connects.failed`.
pub const CONNECT_ERRORS_PREFIX: &str = "connect_errors.";

/// The counter name for refusals with `reason`: `refusals.<reason>`.
pub fn refusal_counter(reason: &str) -> String {
    format!("{REFUSALS_PREFIX}{reason}")
}

/// Counter families whose members are named when they are counted: `refusals.<reason>` (the
/// embedded bridge's reason, kebab-case) and `connack.<code>` (a refusing CONNACK code 1–5 that
/// devices received). A gate names one member.
pub const FAMILIES: &[Metric] = &[
    counter(
        "refusals",
        Better::Lower,
        "connects the embedded bridge refused, by its reason (refusals.bad-signature)",
    ),
    counter(
        "connack",
        Better::Lower,
        "refusing CONNACK codes devices received, by code 1-5 (connack.5)",
    ),
];

/// Prefix of a cohort's own measurements: `cohort.<name>.publish.puback.p99`.
pub const COHORT_PREFIX: &str = "cohort.";

/// A statistic of a latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    /// The smallest value.
    Min,
    /// The arithmetic mean.
    Mean,
    /// The median.
    P50,
    /// The 90th percentile.
    P90,
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
    /// The 99.9th percentile.
    P999,
    /// The largest value.
    Max,
}

impl Statistic {
    /// Every statistic, in the order reports list them.
    pub const ALL: [Statistic; 8] = [
        Self::Min,
        Self::Mean,
        Self::P50,
        Self::P90,
        Self::P95,
        Self::P99,
        Self::P999,
        Self::Max,
    ];

    /// The suffix used in names: `p99`, `max`, …
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Min => "min",
            Self::Mean => "mean",
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::P999 => "p999",
            Self::Max => "max",
        }
    }

    /// The percentile this statistic stands for, if it is one.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Self::P50 => Some(50.0),
            Self::P90 => Some(90.0),
            Self::P95 => Some(95.0),
            Self::P99 => Some(99.0),
            Self::P999 => Some(99.9),
            Self::Min | Self::Mean | Self::Max => None,
        }
    }
}

/// What a gate or a baseline comparison addresses: a metric, with a statistic for histograms,
/// a member for families (`refusals.<reason>`, `connack.<code>`), and optionally one cohort's
/// share of it (`cohort.<name>.…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateKey {
    /// The metric.
    pub metric: &'static Metric,
    /// The statistic, for histogram metrics.
    pub statistic: Option<Statistic>,
    /// The member, for a family of [`FAMILIES`].
    pub member: Option<String>,
    /// The cohort whose devices alone are measured; the whole fleet when `None`.
    pub cohort: Option<String>,
}

impl GateKey {
    /// Parses `publish.puback.p99`, `messages.lost`, `refusals.expired`, `connack.5`, and any of
    /// them after `cohort.<name>.`; with a cohort prefix the shortest name that leaves a valid
    /// key is taken ([`GateKey::parse_for`] knows the scenario's names).
    pub fn parse(text: &str) -> Option<Self> {
        Self::unscoped(text).or_else(|| {
            let rest = text.strip_prefix(COHORT_PREFIX)?;
            rest.match_indices('.').find_map(|(dot, _)| {
                let mut key = Self::unscoped(&rest[dot + 1..])?;
                key.cohort = Some(rest[..dot].to_owned());
                Some(key)
            })
        })
    }

    /// Like [`GateKey::parse`], with the cohort (if any) one of `cohorts`.
    pub fn parse_for(text: &str, cohorts: &[&str]) -> Option<Self> {
        Self::unscoped(text).or_else(|| {
            let rest = text.strip_prefix(COHORT_PREFIX)?;
            cohorts.iter().find_map(|name| {
                let mut key = Self::unscoped(rest.strip_prefix(name)?.strip_prefix('.')?)?;
                key.cohort = Some((*name).to_owned());
                Some(key)
            })
        })
    }

    fn unscoped(text: &str) -> Option<Self> {
        let plain = |metric, statistic, member| Self {
            metric,
            statistic,
            member,
            cohort: None,
        };
        let known = METRICS.iter().find_map(|metric| match metric.kind {
            MetricKind::Histogram => {
                let suffix = text.strip_prefix(metric.name)?.strip_prefix('.')?;
                let statistic = Statistic::ALL.into_iter().find(|s| s.suffix() == suffix)?;
                Some(plain(metric, Some(statistic), None))
            }
            _ => (text == metric.name).then_some(plain(metric, None, None)),
        });
        known.or_else(|| {
            FAMILIES.iter().find_map(|family| {
                let member = text.strip_prefix(family.name)?.strip_prefix('.')?;
                family_member_ok(family, member).then(|| plain(family, None, Some(member.to_owned())))
            })
        })
    }

    /// The unit of this key's values.
    pub fn unit(&self) -> Unit {
        match self.metric.kind {
            MetricKind::Histogram => Unit::Micros,
            MetricKind::Counter => Unit::Count,
            MetricKind::Ratio => Unit::Ratio,
            MetricKind::Throughput => Unit::PerSecond,
        }
    }

    /// Every key a gate may name, for help texts and the schema.
    pub fn all() -> impl Iterator<Item = GateKey> {
        METRICS.iter().flat_map(|metric| {
            let stats: &[Statistic] = match metric.kind {
                MetricKind::Histogram => &Statistic::ALL,
                _ => &[],
            };
            let plain = (metric.kind != MetricKind::Histogram).then_some(GateKey {
                metric,
                statistic: None,
                member: None,
                cohort: None,
            });
            plain.into_iter().chain(stats.iter().map(move |s| GateKey {
                metric,
                statistic: Some(*s),
                member: None,
                cohort: None,
            }))
        })
    }
}

/// Whether `member` names a member of `family`: a kebab-case reason, or a CONNACK code 1–5.
fn family_member_ok(family: &Metric, member: &str) -> bool {
    if family.name == "connack" {
        return matches!(member, "1" | "2" | "3" | "4" | "5");
    }
    !member.is_empty()
        && member.len() <= 64
        && member
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

impl fmt::Display for GateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(cohort) = &self.cohort {
            write!(f, "{COHORT_PREFIX}{cohort}.")?;
        }
        f.write_str(self.metric.name)?;
        if let Some(member) = &self.member {
            write!(f, ".{member}")?;
        }
        if let Some(statistic) = self.statistic {
            write!(f, ".{}", statistic.suffix())?;
        }
        Ok(())
    }
}

/// What a gate may name, for error messages: every metric, with the statistics of histograms.
pub fn gate_key_help() -> String {
    let mut histograms = Vec::new();
    let mut others = Vec::new();
    for metric in METRICS {
        match metric.kind {
            MetricKind::Histogram => histograms.push(metric.name),
            _ => others.push(metric.name),
        }
    }
    let stats: Vec<&str> = Statistic::ALL.iter().map(|s| s.suffix()).collect();
    format!(
        "a latency metric with a statistic ({}; each followed by .{}), one of {}, refusals.<reason> (such as refusals.bad-signature), connack.<code> (1-5), or any of these after cohort.<cohort name>.",
        histograms.join(", "),
        stats.join("/."),
        others.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_keys_need_a_statistic_and_others_refuse_one() {
        let key = GateKey::parse("publish.puback.p99").unwrap();
        assert_eq!(key.metric.name, "publish.puback");
        assert_eq!(key.statistic, Some(Statistic::P99));
        assert_eq!(key.unit(), Unit::Micros);
        let nested = GateKey::parse("publish.puback.actual.max").unwrap();
        assert_eq!(nested.metric.name, "publish.puback.actual");
        assert!(GateKey::parse("publish.puback").is_none());
        assert!(GateKey::parse("messages.lost.p99").is_none());
        assert_eq!(GateKey::parse("messages.lost").unwrap().unit(), Unit::Count);
        assert!(GateKey::parse("publish.latency.p99").is_none());
    }

    #[test]
    fn every_listed_key_parses_back_to_itself() {
        let keys: Vec<String> = GateKey::all().map(|k| k.to_string()).collect();
        assert!(keys.len() > METRICS.len());
        for key in keys {
            assert_eq!(GateKey::parse(&key).unwrap().to_string(), key);
        }
    }

    #[test]
    fn family_members_and_cohort_scopes_are_gateable() {
        let refusal = GateKey::parse(&refusal_counter("bad-signature")).unwrap();
        assert_eq!(refusal.metric.name, "refusals");
        assert_eq!(refusal.member.as_deref(), Some("bad-signature"));
        assert_eq!(refusal.to_string(), "refusals.bad-signature");
        assert_eq!(GateKey::parse("connack.5").unwrap().unit(), Unit::Count);
        assert!(GateKey::parse("connack.0").is_none(), "0 is acceptance");
        assert!(GateKey::parse("connack.6").is_none());
        assert!(GateKey::parse("refusals.").is_none());
        assert!(GateKey::parse("refusals.Bad Signature").is_none());
        let scoped = GateKey::parse("cohort.good.publish.puback.p99").unwrap();
        assert_eq!(scoped.cohort.as_deref(), Some("good"));
        assert_eq!(scoped.statistic, Some(Statistic::P99));
        assert_eq!(scoped.to_string(), "cohort.good.publish.puback.p99");
        let dotted = GateKey::parse_for("cohort.eu.west.connect.p50", &["eu.west"]).unwrap();
        assert_eq!(dotted.cohort.as_deref(), Some("eu.west"));
        assert!(GateKey::parse_for("cohort.other.connect.p50", &["eu.west"]).is_none());
        assert!(GateKey::parse("cohort.good.nothing").is_none());
        assert!(GateKey::parse("messages.publish_failed").is_some());
    }

    #[test]
    fn metric_names_are_unique() {
        let mut names: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
    }
}
