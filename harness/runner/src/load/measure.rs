//! From the fleet's recorder and the downstream tally to the report's measurements.

use std::collections::BTreeMap;
use std::time::Duration;

use fleetgate_metrics::names::REFUSALS_PREFIX;
use fleetgate_metrics::{Better, GateKey, MetricKind, Recorder, Unit, flatten};
use fleetgate_report::Measurement;
use fleetgate_scenario::Scenario;

use super::downstream::Tallies;

/// Counters every fleet run reports, as 0 when nothing was counted, so that gates such as
/// `messages.dropped_by_device = { max = 0 }` have data.
const FLEET_COUNTERS: &[&str] = &[
    "messages.sent",
    "messages.acked",
    "messages.unacked",
    "messages.publish_failed",
    "messages.dropped_by_device",
    "connects.attempts",
    "connects.accepted",
    "connects.refused",
    "connects.failed",
    "connections.lost",
    "reconnects",
    "token.refreshes",
    "client.errors",
];

/// Every measurement: the recorder's histograms and counters, the downstream counts, and the
/// derived ratios and throughput over `loaded` (the time the phases ran).
pub(super) fn measurements(
    recorder: &Recorder,
    tallies: &Tallies,
    loaded: Duration,
) -> BTreeMap<String, Measurement> {
    let mut values = flatten(recorder);
    for counter in FLEET_COUNTERS {
        values.entry((*counter).to_owned()).or_insert(0.0);
    }
    if let Some(tally) = &tallies.pubsub {
        let delivered = tally.acked.saturating_sub(tally.lost);
        values.insert("messages.delivered".into(), delivered as f64);
        values.insert("messages.lost".into(), tally.lost as f64);
        values.insert("messages.duplicated".into(), tally.seen.duplicated as f64);
        values.insert("messages.reordered".into(), tally.seen.reordered as f64);
        if tally.acked > 0 {
            values.insert(
                "pipeline.delivered_ratio".into(),
                delivered as f64 / tally.acked as f64,
            );
        }
    }
    if let Some(tally) = &tallies.push {
        values.insert(
            "messages.pushed".into(),
            tally.acked.saturating_sub(tally.lost) as f64,
        );
        values.insert("messages.push_lost".into(), tally.lost as f64);
        values.insert("messages.push_duplicated".into(), tally.seen.duplicated as f64);
    }
    let accepted = recorder.counter("connects.accepted");
    let attempts = accepted + recorder.counter("connects.refused") + recorder.counter("connects.failed");
    if attempts > 0 {
        values.insert("connect.success_ratio".into(), accepted as f64 / attempts as f64);
    }
    if !loaded.is_zero() {
        let acked = recorder
            .counter("messages.acked")
            .max(recorder.counter("messages.sent"));
        values.insert("publish.throughput".into(), acked as f64 / loaded.as_secs_f64());
    }
    values
        .into_iter()
        .map(|(key, value)| {
            let (unit, better) = describe(&key);
            (key, Measurement { value, unit, better })
        })
        .collect()
}

/// Fills in what a gate names that the run measured under another name or not at all: with a
/// single cohort its `cohort.<name>.` metrics are the fleet's (only several cohorts are measured
/// apart); a counter never counted is 0 where its source ran (`refusals.*` come from the
/// embedded bridge, the others from the fleet).
pub(super) fn fill_gated(
    scenario: &Scenario,
    embedded_bridge: bool,
    measurements: &mut BTreeMap<String, Measurement>,
) {
    for gate in &scenario.gates {
        let key = gate.key.to_string();
        if measurements.contains_key(&key) {
            continue;
        }
        if gate.key.cohort.is_some() && scenario.cohorts.len() == 1 {
            let fleet = GateKey {
                cohort: None,
                ..gate.key.clone()
            };
            if let Some(m) = measurements.get(&fleet.to_string()).cloned() {
                measurements.insert(key, m);
                continue;
            }
        }
        let counter = gate.key.metric.kind == MetricKind::Counter;
        if counter && (gate.key.metric.name != "refusals" || embedded_bridge) {
            measurements.insert(
                key,
                Measurement {
                    value: 0.0,
                    unit: Unit::Count,
                    better: gate.key.metric.better,
                },
            );
        }
    }
}

/// The unit and better direction of a measurement key.
fn describe(key: &str) -> (Unit, Better) {
    if let Some(gate) = GateKey::parse(key) {
        return (gate.unit(), gate.metric.better);
    }
    if key.ends_with(".count") {
        return (Unit::Count, Better::Higher);
    }
    if key.starts_with(REFUSALS_PREFIX) {
        return (Unit::Count, Better::Lower);
    }
    (Unit::Count, Better::Lower)
}

#[cfg(test)]
mod tests {
    use fleetgate_fleet::payload::Stamp;
    use fleetgate_fleet::tally::Downstream;

    use super::super::downstream::Tally;

    use super::*;

    #[test]
    fn counts_ratios_and_latencies_become_measurements_with_units() {
        let mut recorder = Recorder::new();
        recorder.record("publish.puback", 2_000);
        recorder.count("messages.acked", 10);
        recorder.count("connects.accepted", 3);
        recorder.count("connects.refused", 1);
        recorder.count("refusals.connack-5", 1);
        let mut down = Downstream::default();
        for seq in [0, 1, 1] {
            down.record(Some(&Stamp {
                device: "d".into(),
                seq,
                intended_us: 0,
            }));
        }
        let tallies = Tallies {
            pubsub: Some(Tally {
                seen: down,
                lost: 8,
                acked: 10,
            }),
            push: None,
        };
        let m = measurements(&recorder, &tallies, Duration::from_secs(5));
        assert_eq!(m["publish.puback.p99"].unit, Unit::Micros);
        assert!((m["publish.puback.p99"].value - 2_000.0).abs() < 5.0);
        assert_eq!(m["messages.lost"].value, 8.0);
        assert_eq!(m["messages.duplicated"].value, 1.0);
        assert_eq!(m["pipeline.delivered_ratio"].value, 0.2);
        assert_eq!(m["pipeline.delivered_ratio"].better, Better::Higher);
        assert_eq!(m["connect.success_ratio"].value, 0.75);
        assert_eq!(m["publish.throughput"].value, 2.0);
        assert_eq!(m["refusals.connack-5"].better, Better::Lower);
        assert_eq!(m["publish.puback.count"].better, Better::Higher);
        assert_eq!(
            m["messages.dropped_by_device"].value, 0.0,
            "counted as zero, not absent"
        );
    }

    #[test]
    fn gates_on_one_cohort_read_the_fleet_and_uncounted_counters_are_zero() {
        let text = "[scenario]\nname = \"g\"\n[[cohort]]\nname = \"pis\"\ndevices = 1\ndevice_id = \"pi-{index}\"\n[[phase]]\nname = \"p\"\nhold = \"1s\"\n[gates]\n\"cohort.pis.connect.p99\" = { max = \"1s\" }\n\"refusals.expired\" = { max = 0 }\n\"cohort.pis.connack.5\" = { max = 0 }\n";
        let scenario = fleetgate_scenario::compile(&fleetgate_scenario::SourceFile::new("g.toml", text), &[])
            .scenario
            .unwrap();
        let mut recorder = Recorder::new();
        recorder.record("connect", 3_000);
        let fleet = measurements(&recorder, &Tallies::default(), Duration::from_secs(1));
        let mut embedded = fleet.clone();
        fill_gated(&scenario, true, &mut embedded);
        assert_eq!(embedded["cohort.pis.connect.p99"], embedded["connect.p99"]);
        assert_eq!(embedded["refusals.expired"].value, 0.0);
        assert_eq!(embedded["cohort.pis.connack.5"].value, 0.0);
        let mut external = fleet;
        fill_gated(&scenario, false, &mut external);
        assert!(
            !external.contains_key("refusals.expired"),
            "no bridge reasons from outside"
        );
    }
}
