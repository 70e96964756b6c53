//! Baseline comparison: this run against an earlier report of the same scenario, on the
//! measurements that matter for a regression (medians and tails of latencies, throughput,
//! delivery and loss) and on the case verdicts.
//!
//! Latencies and rates may be worse by a relative tolerance, and latency changes under an
//! absolute noise floor never count; counts and ratios (losses, delivery) compare exactly
//! unless a per-metric tolerance says otherwise. A percentile is compared only where both
//! runs have enough samples to estimate it ([`SAMPLES_BEYOND`] beyond it: 20 for a median,
//! 1,000 for a 99th percentile); the others are noted, not judged.

use std::collections::BTreeMap;

use fleetgate_metrics::glob;
use fleetgate_metrics::{Better, Unit};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{BaselineResult, CaseResult, Comparison, Measurement, ReportData, Verdict};

/// The measurements compared when the scenario and the flags name none: medians and 99th
/// percentiles of every latency, throughput and push rate, the delivery ratio and the loss
/// counters. Minimum and maximum of small samples are left out on purpose: they are noise.
pub const DEFAULT_COMPARE: &[&str] = &[
    "*.p50",
    "*.p99",
    "publish.throughput",
    "push.rate",
    "pipeline.delivered_ratio",
    "messages.lost",
    "messages.push_lost",
    "messages.duplicated",
    "messages.dropped_by_device",
    "messages.publish_failed",
    "push.errors",
];

/// Default relative tolerance for latencies and rates, percent.
pub const DEFAULT_TOLERANCE_PCT: f64 = 25.0;

/// Default tolerance of tail percentiles, percent: a p99 of a short run moves more than its
/// median.
pub const DEFAULT_TAIL_TOLERANCE_PCT: f64 = 50.0;

/// Default noise floor, µs: a latency change under 1 ms is not a regression.
pub const DEFAULT_NOISE_FLOOR_US: f64 = 1_000.0;

/// Samples a run needs beyond a percentile for it to be compared: the p99 of 100 samples is
/// its largest one, as noisy as a max.
pub const SAMPLES_BEYOND: f64 = 10.0;

/// What a baseline comparison compares and how strictly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BaselinePolicy {
    /// Measurement keys or globs (`*` matches any run of characters, `?` one) to compare.
    pub compare: Vec<String>,
    /// How much worse a latency or a rate may be, in percent.
    pub tolerance_pct: f64,
    /// Tolerances of single measurements, in percent, by key or glob: an exact key wins over a
    /// glob, and among globs the last written wins. Counts and ratios not named here compare
    /// exactly.
    pub tolerances: Vec<(String, f64)>,
    /// Latency changes smaller than this, in µs, are never regressions.
    pub noise_floor_us: f64,
    /// Whether case verdicts are compared.
    pub cases: bool,
}

impl Default for BaselinePolicy {
    fn default() -> Self {
        Self {
            compare: DEFAULT_COMPARE.iter().map(|s| (*s).to_owned()).collect(),
            tolerance_pct: DEFAULT_TOLERANCE_PCT,
            tolerances: vec![("*.p99".to_owned(), DEFAULT_TAIL_TOLERANCE_PCT)],
            noise_floor_us: DEFAULT_NOISE_FLOOR_US,
            cases: true,
        }
    }
}

impl BaselinePolicy {
    /// Whether `key` is compared.
    pub fn compares(&self, key: &str) -> bool {
        self.compare.iter().any(|pattern| glob::matches(pattern, key))
    }

    /// The tolerance of `key` in percent: its own, else by its unit (latencies and rates the
    /// policy's, counts and ratios 0).
    pub fn tolerance(&self, key: &str, unit: Unit) -> f64 {
        if let Some((_, pct)) = self.tolerances.iter().find(|(k, _)| k == key) {
            return *pct;
        }
        if let Some((_, pct)) = self
            .tolerances
            .iter()
            .rev()
            .find(|(pattern, _)| glob::matches(pattern, key))
        {
            return *pct;
        }
        match unit {
            Unit::Micros | Unit::PerSecond => self.tolerance_pct,
            Unit::Count | Unit::Ratio => 0.0,
        }
    }
}

/// One case whose verdict differs from the baseline's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseComparison {
    /// The case's name (`auth.valid`, `device.connect [pi-1]`).
    pub case: String,
    /// Its verdict in the baseline.
    pub baseline: Verdict,
    /// Its verdict in this run.
    pub observed: Verdict,
    /// Failed when a case that passed in the baseline fails now.
    pub verdict: Verdict,
}

/// Compares this run's measurements and cases with a baseline report's, by `policy`.
pub fn compare_with_baseline(
    measurements: &BTreeMap<String, Measurement>,
    cases: &[CaseResult],
    baseline: &ReportData,
    file: &str,
    policy: &BaselinePolicy,
) -> BaselineResult {
    let mut thin = Vec::new();
    let comparisons = baseline
        .measurements
        .iter()
        .filter(|(key, _)| policy.compares(key))
        .filter(|(key, _)| {
            let enough = estimable(key, &baseline.measurements) && estimable(key, measurements);
            if !enough {
                thin.push(key.as_str());
            }
            enough
        })
        .map(|(key, base)| compare_one(key, base, measurements.get(key), policy))
        .collect();
    let (cases, mut notes) = if policy.cases {
        compare_cases(cases, &baseline.cases)
    } else {
        (Vec::new(), Vec::new())
    };
    if !thin.is_empty() {
        notes.push(format!(
            "not compared, too few samples in one of the runs to estimate them: {}",
            thin.join(", ")
        ));
    }
    BaselineResult {
        file: file.to_owned(),
        scenario: baseline.scenario.name.clone(),
        tolerance_pct: policy.tolerance_pct,
        noise_floor_us: policy.noise_floor_us,
        comparisons,
        cases,
        notes,
    }
}

/// Whether `measurements` hold enough samples to estimate `key` when it is a percentile
/// (`<metric>.p99` with `<metric>.count`); anything else, or a percentile of a run that
/// reported no count, is estimable.
fn estimable(key: &str, measurements: &BTreeMap<String, Measurement>) -> bool {
    let Some((stem, statistic)) = key.rsplit_once('.') else {
        return true;
    };
    let Some(percent) = statistic
        .strip_prefix('p')
        .and_then(|digits| digits.parse::<f64>().ok())
        .map(|n| if n >= 100.0 { n / 10.0 } else { n })
    else {
        return true;
    };
    match measurements.get(&format!("{stem}.count")) {
        Some(count) => count.value >= (SAMPLES_BEYOND * 100.0 / (100.0 - percent)).ceil(),
        None => true,
    }
}

fn compare_one(
    key: &str,
    base: &Measurement,
    now: Option<&Measurement>,
    policy: &BaselinePolicy,
) -> Comparison {
    let tolerance_pct = policy.tolerance(key, base.unit);
    let observed = now.map(|m| m.value);
    let change_pct = observed
        .filter(|_| base.value != 0.0)
        .map(|v| (v - base.value) / base.value.abs() * 100.0);
    let verdict = match observed {
        None => Verdict::Failed,
        Some(v) => {
            let allowed = base.value.abs() * tolerance_pct / 100.0;
            let worse_by = match base.better {
                Better::Lower => v - base.value,
                Better::Higher => base.value - v,
            };
            let floor = if base.unit == Unit::Micros {
                policy.noise_floor_us
            } else {
                0.0
            };
            if worse_by > allowed && worse_by > floor {
                Verdict::Failed
            } else {
                Verdict::Passed
            }
        }
    };
    Comparison {
        metric: key.to_owned(),
        unit: base.unit,
        baseline: base.value,
        observed,
        change_pct,
        tolerance_pct: Some(tolerance_pct),
        verdict,
    }
}

/// The cases whose verdict changed, and notes on cases new in this run or gone from it.
fn compare_cases(now: &[CaseResult], before: &[CaseResult]) -> (Vec<CaseComparison>, Vec<String>) {
    let before: BTreeMap<String, Verdict> = before.iter().map(|c| (c.name(), c.verdict)).collect();
    let mut changed = Vec::new();
    let mut new = Vec::new();
    for case in now {
        let name = case.name();
        match before.get(&name) {
            None => new.push(name),
            Some(&was) if was != case.verdict => changed.push(CaseComparison {
                verdict: if was == Verdict::Passed && case.verdict == Verdict::Failed {
                    Verdict::Failed
                } else {
                    Verdict::Passed
                },
                case: name,
                baseline: was,
                observed: case.verdict,
            }),
            Some(_) => {}
        }
    }
    let current: Vec<String> = now.iter().map(CaseResult::name).collect();
    let gone: Vec<&String> = before.keys().filter(|name| !current.contains(name)).collect();
    let mut notes = Vec::new();
    if !new.is_empty() {
        notes.push(format!(
            "{} case(s) not in the baseline, not compared: {}",
            new.len(),
            new.join(", ")
        ));
    }
    if !gone.is_empty() {
        let gone: Vec<&str> = gone.iter().map(|s| s.as_str()).collect();
        notes.push(format!(
            "{} case(s) of the baseline did not run: {}",
            gone.len(),
            gone.join(", ")
        ));
    }
    (changed, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{measurement, report};

    fn measured(values: &[(&str, f64, Unit, Better)]) -> BTreeMap<String, Measurement> {
        values
            .iter()
            .map(|(k, v, unit, better)| ((*k).to_owned(), measurement(*v, *unit, *better)))
            .collect()
    }

    fn by_metric(result: &BaselineResult) -> BTreeMap<&str, &Comparison> {
        result
            .comparisons
            .iter()
            .map(|c| (c.metric.as_str(), c))
            .collect()
    }

    #[test]
    fn defaults_compare_medians_tails_rates_and_losses_but_not_min_or_max() {
        let mut baseline = report();
        baseline.measurements = measured(&[
            ("connect.min", 2_200.0, Unit::Micros, Better::Lower),
            ("connect.max", 9_000.0, Unit::Micros, Better::Lower),
            ("connect.p50", 3_000.0, Unit::Micros, Better::Lower),
            ("sign.es256.p50", 86.0, Unit::Micros, Better::Lower),
            ("publish.puback.p99", 10_000.0, Unit::Micros, Better::Lower),
            ("publish.throughput", 1_000.0, Unit::PerSecond, Better::Higher),
            ("messages.lost", 0.0, Unit::Count, Better::Lower),
            ("pipeline.delivered_ratio", 1.0, Unit::Ratio, Better::Higher),
        ]);
        let now = measured(&[
            ("connect.min", 2_800.0, Unit::Micros, Better::Lower),
            ("connect.max", 30_000.0, Unit::Micros, Better::Lower),
            ("connect.p50", 3_500.0, Unit::Micros, Better::Lower),
            ("sign.es256.p50", 107.0, Unit::Micros, Better::Lower),
            ("publish.puback.p99", 14_000.0, Unit::Micros, Better::Lower),
            ("publish.throughput", 880.0, Unit::PerSecond, Better::Higher),
            ("messages.lost", 0.0, Unit::Count, Better::Lower),
            ("pipeline.delivered_ratio", 1.0, Unit::Ratio, Better::Higher),
        ]);
        let result = compare_with_baseline(&now, &[], &baseline, "b.json", &BaselinePolicy::default());
        let c = by_metric(&result);
        assert!(!c.contains_key("connect.min") && !c.contains_key("connect.max"));
        assert_eq!(c.len(), 6);
        assert!(
            result.comparisons.iter().all(|c| c.verdict == Verdict::Passed),
            "{result:#?}"
        );
        assert_eq!(c["publish.puback.p99"].tolerance_pct, Some(50.0));
        assert_eq!(c["messages.lost"].tolerance_pct, Some(0.0));
    }

    #[test]
    fn a_real_regression_fails_and_noise_under_the_floor_does_not() {
        let mut baseline = report();
        baseline.measurements = measured(&[
            ("publish.puback.p50", 2_000.0, Unit::Micros, Better::Lower),
            ("sign.es256.p50", 86.0, Unit::Micros, Better::Lower),
            ("publish.throughput", 1_000.0, Unit::PerSecond, Better::Higher),
            ("messages.lost", 0.0, Unit::Count, Better::Lower),
            ("pipeline.delivered_ratio", 1.0, Unit::Ratio, Better::Higher),
            ("push.rate", 100.0, Unit::PerSecond, Better::Higher),
        ]);
        let now = measured(&[
            ("publish.puback.p50", 52_000.0, Unit::Micros, Better::Lower),
            ("sign.es256.p50", 900.0, Unit::Micros, Better::Lower),
            ("publish.throughput", 700.0, Unit::PerSecond, Better::Higher),
            ("messages.lost", 1.0, Unit::Count, Better::Lower),
            ("pipeline.delivered_ratio", 0.999, Unit::Ratio, Better::Higher),
        ]);
        let result = compare_with_baseline(&now, &[], &baseline, "b.json", &BaselinePolicy::default());
        let c = by_metric(&result);
        assert_eq!(c["publish.puback.p50"].verdict, Verdict::Failed, "+50 ms");
        assert_eq!(
            c["sign.es256.p50"].verdict,
            Verdict::Passed,
            "+0.8 ms: under the floor"
        );
        assert_eq!(c["publish.throughput"].verdict, Verdict::Failed, "-30%");
        assert_eq!(c["messages.lost"].verdict, Verdict::Failed, "one lost message");
        assert_eq!(c["messages.lost"].change_pct, None);
        assert_eq!(c["pipeline.delivered_ratio"].verdict, Verdict::Failed);
        assert_eq!(c["push.rate"].verdict, Verdict::Failed, "no longer measured");
    }

    #[test]
    fn per_metric_tolerances_and_the_compare_list_are_honoured() {
        let mut baseline = report();
        baseline.measurements = measured(&[
            ("messages.lost", 10.0, Unit::Count, Better::Lower),
            ("connect.max", 1_000.0, Unit::Micros, Better::Lower),
        ]);
        let now = measured(&[
            ("messages.lost", 12.0, Unit::Count, Better::Lower),
            ("connect.max", 9_000.0, Unit::Micros, Better::Lower),
        ]);
        let policy = BaselinePolicy {
            compare: vec!["messages.*".into(), "connect.max".into()],
            tolerances: vec![("messages.*".into(), 50.0), ("connect.*".into(), 100.0)],
            noise_floor_us: 0.0,
            ..BaselinePolicy::default()
        };
        let result = compare_with_baseline(&now, &[], &baseline, "b.json", &policy);
        let c = by_metric(&result);
        assert_eq!(c["messages.lost"].verdict, Verdict::Passed, "+20% within 50%");
        assert_eq!(c["connect.max"].verdict, Verdict::Failed, "+800% beyond 100%");
    }

    #[test]
    fn a_case_that_passed_and_now_fails_is_a_regression_and_new_cases_are_noted() {
        let baseline = report();
        let mut now = baseline.cases.clone();
        now[0].verdict = Verdict::Failed;
        now[1].verdict = Verdict::Passed;
        now.push(CaseResult {
            id: "auth.new".into(),
            ..now[0].clone()
        });
        now.retain(|c| c.id != "topic.other-device");
        let result = compare_with_baseline(
            &BTreeMap::new(),
            &now,
            &baseline,
            "b.json",
            &BaselinePolicy::default(),
        );
        let verdicts: Vec<(&str, Verdict, Verdict, Verdict)> = result
            .cases
            .iter()
            .map(|c| (c.case.as_str(), c.baseline, c.observed, c.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                (
                    "auth.aud-mismatch",
                    Verdict::Passed,
                    Verdict::Failed,
                    Verdict::Failed
                ),
                ("auth.alg-none", Verdict::Failed, Verdict::Passed, Verdict::Passed),
            ]
        );
        assert!(result.notes[0].contains("auth.new"), "{:?}", result.notes);
        assert!(
            result.notes[1].contains("topic.other-device"),
            "{:?}",
            result.notes
        );
    }

    #[test]
    fn percentiles_of_too_few_samples_are_noted_not_judged() {
        let mut baseline = report();
        let values = |p99: f64, count: f64| {
            measured(&[
                ("publish.puback.p50", 1_000.0, Unit::Micros, Better::Lower),
                ("publish.puback.p99", p99, Unit::Micros, Better::Lower),
                ("publish.puback.count", count, Unit::Count, Better::Higher),
            ])
        };
        baseline.measurements = values(2_000.0, 999.0);
        let now = values(9_000.0, 5_000.0);
        let result = compare_with_baseline(&now, &[], &baseline, "b.json", &BaselinePolicy::default());
        assert_eq!(
            by_metric(&result).keys().copied().collect::<Vec<_>>(),
            ["publish.puback.p50"]
        );
        assert_eq!(
            result.notes.last().unwrap(),
            "not compared, too few samples in one of the runs to estimate them: publish.puback.p99"
        );
        baseline.measurements = values(2_000.0, 1_000.0);
        let result = compare_with_baseline(&now, &[], &baseline, "b.json", &BaselinePolicy::default());
        assert_eq!(by_metric(&result)["publish.puback.p99"].verdict, Verdict::Failed);
    }

    #[test]
    fn globs_match_any_run_of_characters() {
        assert!(glob::matches("*.p99", "publish.puback.p99"));
        assert!(!glob::matches("*.p99", "publish.puback.p999"));
        assert!(glob::matches("messages.*", "messages.lost"));
        assert!(glob::matches("a*b*c", "a-b-b-c"));
        assert!(!glob::matches("a*b*c", "a-c"));
        assert!(glob::matches("exact", "exact"));
        assert!(!glob::matches("exact", "exactly"));
        assert!(glob::matches("*.p9?", "connect.p99"));
    }
}
