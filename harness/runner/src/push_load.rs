//! `[push.load]` of a run: goose pushes with fresh valid tokens against the environment's push
//! endpoint (the reference verifier or the user's URL), folded into the report's measurements
//! (`push.request.<statistic>` in µs, `push.request.count`, `push.errors`, and the achieved
//! rate `push.rate`) for its gates.

use std::collections::BTreeMap;
use std::time::Duration;

use fleetgate_metrics::summary::flatten;
use fleetgate_metrics::{Better, GateKey, Recorder, Unit};
use fleetgate_push::load::{self, LoadConfig};
use fleetgate_report::Measurement;
use fleetgate_scenario::Scenario;

use crate::environment::Environment;
use crate::events::RunEvent;

/// What the push load adds to the report.
#[derive(Debug, Default)]
pub(crate) struct PushLoadReport {
    /// Measurement keys.
    pub(crate) measurements: BTreeMap<String, Measurement>,
    /// Why the load did not run, when it could not.
    pub(crate) notes: Vec<String>,
}

impl PushLoadReport {
    /// The push load of an interrupted run: a note when it had one, nothing measured.
    pub(crate) fn interrupted(scenario: &Scenario) -> Self {
        Self {
            measurements: BTreeMap::new(),
            notes: scenario
                .push
                .load
                .as_ref()
                .map(|_| "[push.load] did not run to its end: the run was interrupted".to_owned())
                .into_iter()
                .collect(),
        }
    }
}

/// Runs the scenario's `[push.load]`, if any, and tells `watch` how it went.
pub(crate) async fn run(
    scenario: &Scenario,
    env: &Environment,
    watch: &mut dyn FnMut(&RunEvent),
) -> PushLoadReport {
    let (Some(shape), Some(push)) = (scenario.push.load.as_ref(), env.push.as_ref()) else {
        return PushLoadReport::default();
    };
    let config = LoadConfig {
        rate: shape.rate.per_second().round().clamp(1.0, f64::from(u32::MAX)) as u32,
        duration: shape.duration,
        users: shape.users,
        timeout: Duration::from_secs(10),
        invalid_share: shape.invalid_share,
        invalid: shape.invalid.clone(),
        refusal_statuses: scenario.push.refusal_statuses.clone(),
        endpoint_skew: Duration::from_secs(300),
    };
    match load::run(&push.mock, &push.target, &config).await {
        Ok(outcome) => {
            watch(&RunEvent::PushLoadFinished {
                url: push.target.url.clone(),
                requests: outcome.requests,
                errors: outcome.errors.clone(),
                seconds: outcome.elapsed.as_secs_f64(),
            });
            let mut measurements = measurements(&outcome.metrics);
            measurements.insert(
                "push.rate".to_owned(),
                Measurement {
                    value: outcome.rate(),
                    unit: Unit::PerSecond,
                    better: Better::Higher,
                },
            );
            let notes = outcome
                .invalid_accepted
                .iter()
                .map(|(case, n)| {
                    format!("[push.load]: the endpoint acknowledged {n} invalid pushes of {case}")
                })
                .collect();
            PushLoadReport { measurements, notes }
        }
        Err(error) => PushLoadReport {
            measurements: BTreeMap::new(),
            notes: vec![format!("[push.load] did not run: {error}")],
        },
    }
}

/// Report measurements of `recorder`, each with the unit and better direction of its metric;
/// a histogram's `.count` is a count where more is better.
fn measurements(recorder: &Recorder) -> BTreeMap<String, Measurement> {
    flatten(recorder)
        .into_iter()
        .map(|(key, value)| {
            let (unit, better) = match GateKey::parse(&key) {
                Some(gate) => (gate.unit(), gate.metric.better),
                None => (Unit::Count, Better::Higher),
            };
            (key, Measurement { value, unit, better })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_and_errors_become_gateable_measurements() {
        let mut recorder = Recorder::new();
        recorder.record(load::REQUEST, 1_500);
        recorder.record(load::REQUEST, 2_500);
        recorder.count(load::ERRORS, 0);
        let keys = measurements(&recorder);
        let p99 = &keys["push.request.p99"];
        assert_eq!((p99.unit, p99.better), (Unit::Micros, Better::Lower));
        assert!((p99.value - 2_500.0).abs() < 2.0, "{}", p99.value);
        assert_eq!(keys["push.errors"].value, 0.0);
        assert_eq!(keys["push.errors"].better, Better::Lower);
        assert_eq!(keys["push.request.count"].value, 2.0);
        assert_eq!(keys["push.request.count"].better, Better::Higher);
    }
}
