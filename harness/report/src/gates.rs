//! Gates: thresholds on measurements, the verdicts that decide a run's exit code.

use std::collections::BTreeMap;

use crate::format::value;
use crate::model::{Bound, GateResult, GateSpec, Measurement, Verdict};

/// Evaluates every gate against the measurements. A gate with nothing measured fails: a
/// regression gate that measured nothing must not pass.
pub fn evaluate_gates(gates: &[GateSpec], measurements: &BTreeMap<String, Measurement>) -> Vec<GateResult> {
    gates
        .iter()
        .map(|gate| {
            let observed = measurements.get(&gate.metric).map(|m| m.value);
            let (verdict, message) = match observed {
                None => (
                    Verdict::Failed,
                    format!("no data: this run measured no `{}`", gate.metric),
                ),
                Some(v) => {
                    let held = match gate.bound {
                        Bound::Max => v <= gate.threshold,
                        Bound::Min => v >= gate.threshold,
                    };
                    let relation = match (gate.bound, held) {
                        (Bound::Max, true) => "≤",
                        (Bound::Max, false) => ">",
                        (Bound::Min, true) => "≥",
                        (Bound::Min, false) => "<",
                    };
                    let verdict = if held { Verdict::Passed } else { Verdict::Failed };
                    let message = format!(
                        "{} {relation} {} ({})",
                        value(v, gate.unit),
                        value(gate.threshold, gate.unit),
                        match gate.bound {
                            Bound::Max => "max",
                            Bound::Min => "min",
                        }
                    );
                    (verdict, message)
                }
            };
            GateResult {
                gate: gate.clone(),
                observed,
                verdict,
                message,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use fleetgate_metrics::Unit;

    use super::*;
    use crate::testing::measurement;
    use fleetgate_metrics::Better;

    fn gate(metric: &str, bound: Bound, threshold: f64, unit: Unit) -> GateSpec {
        GateSpec {
            metric: metric.into(),
            bound,
            threshold,
            written: threshold.to_string(),
            unit,
        }
    }

    #[test]
    fn gates_pass_at_the_threshold_and_fail_beyond_it() {
        let measured = BTreeMap::from([
            (
                "publish.puback.p99".to_owned(),
                measurement(50_000.0, Unit::Micros, Better::Lower),
            ),
            (
                "pipeline.delivered_ratio".to_owned(),
                measurement(0.998, Unit::Ratio, Better::Higher),
            ),
        ]);
        let results = evaluate_gates(
            &[
                gate("publish.puback.p99", Bound::Max, 50_000.0, Unit::Micros),
                gate("publish.puback.p99", Bound::Max, 49_999.0, Unit::Micros),
                gate("pipeline.delivered_ratio", Bound::Min, 1.0, Unit::Ratio),
                gate("pipeline.delivered_ratio", Bound::Min, 0.99, Unit::Ratio),
            ],
            &measured,
        );
        let verdicts: Vec<Verdict> = results.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [Verdict::Passed, Verdict::Failed, Verdict::Failed, Verdict::Passed]
        );
        assert_eq!(results[1].message, "50.0 ms > 50.0 ms (max)");
        assert_eq!(results[2].message, "99.80% < 100.00% (min)");
    }

    #[test]
    fn a_gate_with_nothing_measured_fails() {
        let results = evaluate_gates(
            &[gate("messages.lost", Bound::Max, 0.0, Unit::Count)],
            &BTreeMap::new(),
        );
        assert_eq!(results[0].verdict, Verdict::Failed);
        assert!(results[0].message.starts_with("no data"));
    }
}
