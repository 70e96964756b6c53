//! Gates and baseline comparison: the verdicts that decide a run's exit code.

use std::collections::BTreeMap;

use fleetgate_metrics::Better;

use crate::format::value;
use crate::model::{
    BaselineResult, Bound, Comparison, GateResult, GateSpec, Measurement, ReportData, Verdict,
};

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

/// Compares this run's measurements with a baseline report's. A value worse than the baseline
/// by more than `tolerance_pct` percent fails, and so does a measurement the baseline has and
/// this run lacks.
pub fn compare_with_baseline(
    measurements: &BTreeMap<String, Measurement>,
    baseline: &ReportData,
    file: &str,
    tolerance_pct: f64,
) -> BaselineResult {
    let tolerance = tolerance_pct / 100.0;
    let comparisons = baseline
        .measurements
        .iter()
        .map(|(metric, base)| {
            let observed = measurements.get(metric).map(|m| m.value);
            let change_pct = observed
                .filter(|_| base.value != 0.0)
                .map(|v| (v - base.value) / base.value.abs() * 100.0);
            let verdict = match observed {
                None => Verdict::Failed,
                Some(v) => {
                    let regressed = match base.better {
                        Better::Lower => v > base.value + base.value.abs() * tolerance,
                        Better::Higher => v < base.value - base.value.abs() * tolerance,
                    };
                    if regressed {
                        Verdict::Failed
                    } else {
                        Verdict::Passed
                    }
                }
            };
            Comparison {
                metric: metric.clone(),
                unit: base.unit,
                baseline: base.value,
                observed,
                change_pct,
                verdict,
            }
        })
        .collect();
    BaselineResult {
        file: file.to_owned(),
        scenario: baseline.scenario.name.clone(),
        tolerance_pct,
        comparisons,
    }
}

#[cfg(test)]
mod tests {
    use fleetgate_metrics::Unit;

    use super::*;
    use crate::testing::{measurement, report};

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

    #[test]
    fn baseline_comparison_respects_direction_and_tolerance() {
        let mut baseline = report();
        baseline.measurements = BTreeMap::from([
            (
                "connect.p99".to_owned(),
                measurement(100.0, Unit::Micros, Better::Lower),
            ),
            (
                "publish.throughput".to_owned(),
                measurement(1000.0, Unit::PerSecond, Better::Higher),
            ),
            (
                "messages.lost".to_owned(),
                measurement(0.0, Unit::Count, Better::Lower),
            ),
            (
                "sign.es256.p50".to_owned(),
                measurement(20.0, Unit::Micros, Better::Lower),
            ),
        ]);
        let now = BTreeMap::from([
            (
                "connect.p99".to_owned(),
                measurement(110.0, Unit::Micros, Better::Lower),
            ),
            (
                "publish.throughput".to_owned(),
                measurement(880.0, Unit::PerSecond, Better::Higher),
            ),
            (
                "messages.lost".to_owned(),
                measurement(1.0, Unit::Count, Better::Lower),
            ),
        ]);
        let result = compare_with_baseline(&now, &baseline, "base.json", 10.0);
        let by_metric: BTreeMap<&str, &Comparison> = result
            .comparisons
            .iter()
            .map(|c| (c.metric.as_str(), c))
            .collect();
        assert_eq!(
            by_metric["connect.p99"].verdict,
            Verdict::Passed,
            "+10% is within 10%"
        );
        assert_eq!(
            by_metric["publish.throughput"].verdict,
            Verdict::Failed,
            "-12% throughput"
        );
        assert_eq!(by_metric["messages.lost"].verdict, Verdict::Failed, "0 → 1 lost");
        assert_eq!(by_metric["messages.lost"].change_pct, None);
        assert_eq!(
            by_metric["sign.es256.p50"].verdict,
            Verdict::Failed,
            "no longer measured"
        );
        let change = by_metric["connect.p99"].change_pct.unwrap();
        assert!((change - 10.0).abs() < 1e-9);
    }
}
