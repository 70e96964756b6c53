//! fleetgate's report: one model ([`ReportData`]), rendered as JSON (stable, reloadable as a
//! baseline), JUnit XML (one testcase per case, phase, gate and baseline comparison), a
//! Markdown summary and a self-contained HTML page with plots; gates and baseline comparison
//! decide the outcome. Pure: no I/O, no async.
//!
//! # Layout
//!
//! - [`model`]: the report types and the JSON schema version.
//! - [`timeline`]: the load over time, one sample per interval.
//! - [`gates`]: gate evaluation.
//! - [`baseline`]: what a baseline comparison compares, and the comparison.
//! - [`merge`]: shard reports joined into one, losslessly.
//! - [`render`]: JSON, JUnit, Markdown and HTML renderers.
//! - [`format`]: values in their units, for people.

pub mod baseline;
pub mod format;
pub mod gates;
pub mod merge;
pub mod model;
pub mod render;
pub mod timeline;

pub use baseline::{BaselinePolicy, compare_with_baseline};
pub use gates::evaluate_gates;
pub use model::{
    BaselineResult, Bound, CaseComparison, CaseResult, CohortResult, Comparison, DeviceDifference,
    DeviceSummary, GateResult, GateSpec, IntervalLatency, Measurement, MergeInfo, Outcome, PhaseResult,
    ReportData, RunInfo, SCHEMA_VERSION, ScenarioInfo, ShardInfo, Spread, TimelineSample, Tool, Verdict,
};

/// Why a report file could not be loaded as a baseline.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not JSON, or not a fleetgate report.
    #[error("not a fleetgate report.json: {0}")]
    Json(#[from] serde_json::Error),
    /// A report of a JSON form this version does not read.
    #[error("report schema version {found}, but this fleetgate reads version {SCHEMA_VERSION}")]
    Version {
        /// The version found in the file.
        found: u32,
    },
}

impl ReportData {
    /// Loads a report written by [`render::json`], for use as a baseline.
    pub fn from_json(text: &str) -> Result<Self, LoadError> {
        #[derive(serde::Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version = serde_json::from_str(text)?;
        if version.schema_version != SCHEMA_VERSION {
            return Err(LoadError::Version {
                found: version.schema_version,
            });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// Sets [`ReportData::outcome`] from the verdicts: failed when any case, phase, cohort, gate
    /// or baseline comparison failed. An outcome of `aborted` or `error` is kept: it says the run
    /// did not finish, whatever was judged before.
    pub fn decide_outcome(&mut self) {
        if matches!(self.outcome, Outcome::Aborted | Outcome::Error) {
            return;
        }
        let verdicts = self
            .cases
            .iter()
            .map(|c| c.verdict)
            .chain(self.phases.iter().map(|p| p.verdict))
            .chain(self.cohorts.iter().map(|c| c.verdict))
            .chain(self.gates.iter().map(|g| g.verdict))
            .chain(
                self.baseline
                    .iter()
                    .flat_map(|b| b.comparisons.iter().map(|c| c.verdict)),
            )
            .chain(
                self.baseline
                    .iter()
                    .flat_map(|b| b.cases.iter().map(|c| c.verdict)),
            );
        let failed = verdicts.into_iter().any(Verdict::fails_run);
        self.outcome = if failed { Outcome::Failed } else { Outcome::Passed };
    }

    /// The JSON schema of the report (draft 2020-12).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(ReportData)).unwrap_or_default()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Report values for tests.

    use fleetgate_metrics::{Better, Unit};

    use super::*;

    pub(crate) fn measurement(value: f64, unit: Unit, better: Better) -> Measurement {
        Measurement { value, unit, better }
    }

    /// A small report with one case of each verdict, a skipped phase, and a failed gate.
    pub(crate) fn report() -> ReportData {
        let case = |id: &str, verdict, message: Option<&str>| CaseResult {
            id: id.into(),
            device: None,
            rule: format!("docs/protocol.md rule for {id}"),
            verdict,
            duration_secs: 0.25,
            message: message.map(str::to_owned),
            evidence: [("connack".to_owned(), "5".to_owned())].into(),
        };
        let mut report = ReportData {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "fleetgate".into(),
                version: "0.1.0".into(),
            },
            scenario: ScenarioInfo {
                name: "demo".into(),
                file: "scenarios/demo.toml".into(),
                seed: 7,
                description: Some("A demo <run> & friends".into()),
            },
            run: RunInfo {
                started_at: "2026-11-23T19:00:00Z".into(),
                finished_at: "2026-11-23T19:00:02Z".into(),
                duration_secs: 2.0,
            },
            outcome: Outcome::Passed,
            error: None,
            cases: vec![
                case("auth.aud-mismatch", Verdict::Passed, None),
                case(
                    "auth.alg-none",
                    Verdict::Failed,
                    Some("bridge accepted alg \"none\""),
                ),
                case(
                    "topic.other-device",
                    Verdict::Skipped,
                    Some("needs a second device"),
                ),
            ],
            phases: vec![PhaseResult {
                name: "steady".into(),
                verdict: Verdict::Skipped,
                duration_secs: 0.0,
                message: Some("not run".into()),
            }],
            measurements: [(
                "publish.puback.p99".to_owned(),
                measurement(61_000.0, Unit::Micros, Better::Lower),
            )]
            .into(),
            metrics: None,
            gates: Vec::new(),
            baseline: None,
            notes: vec!["a note".into()],
            timeline: Vec::new(),
            devices: Vec::new(),
            cohorts: Vec::new(),
            shard: None,
            merged: None,
        };
        let spec = GateSpec {
            metric: "publish.puback.p99".into(),
            bound: Bound::Max,
            threshold: 50_000.0,
            written: "\"50ms\"".into(),
            unit: Unit::Micros,
        };
        report.gates = evaluate_gates(&[spec], &report.measurements);
        report.decide_outcome();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reloads_as_the_same_report() {
        let report = testing::report();
        let text = render::json(&report);
        assert_eq!(ReportData::from_json(&text).unwrap(), report);
    }

    #[test]
    fn other_schema_versions_are_refused_with_both_versions_named() {
        let text =
            render::json(&testing::report()).replace("\"schema_version\": 1", "\"schema_version\": 99");
        let error = ReportData::from_json(&text).unwrap_err().to_string();
        assert_eq!(
            error,
            "report schema version 99, but this fleetgate reads version 1"
        );
        assert!(
            ReportData::from_json("{\"cases\": []}")
                .unwrap_err()
                .to_string()
                .starts_with("not a fleetgate report.json")
        );
    }

    #[test]
    fn any_failure_fails_the_run_and_skips_do_not() {
        let mut report = testing::report();
        assert_eq!(report.outcome, Outcome::Failed);
        report.cases.retain(|c| c.verdict != Verdict::Failed);
        report.gates.clear();
        report.decide_outcome();
        assert_eq!(report.outcome, Outcome::Passed, "skipped case and phase remain");
    }

    #[test]
    fn the_schema_describes_every_top_level_field() {
        let schema = ReportData::json_schema();
        let properties = schema["properties"].as_object().unwrap();
        for field in [
            "schema_version",
            "scenario",
            "cases",
            "gates",
            "measurements",
            "baseline",
        ] {
            assert!(properties.contains_key(field), "{field} missing from the schema");
        }
    }
}
