//! One run: from a compiled scenario to its report.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use fleetgate_report::{
    Bound, GateSpec, Outcome, PhaseResult, ReportData, RunInfo, SCHEMA_VERSION, ScenarioInfo, Tool, Verdict,
    compare_with_baseline, evaluate_gates,
};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::Bound as ScenarioBound;

use crate::events::RunEvent;

/// A baseline report to compare this run with.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The file it was loaded from, as the user named it.
    pub file: String,
    /// The report.
    pub report: ReportData,
    /// How much worse a value may be, in percent.
    pub tolerance_pct: f64,
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Compare with this baseline, if given.
    pub baseline: Option<Baseline>,
}

/// Why a phase is not run by this build.
const NO_FLEET: &str =
    "not run: this build of fleetgate has no virtual fleet yet; the phase was validated only";

/// Runs `scenario` and returns its report, sending every event to `watch`.
pub fn run(scenario: &Scenario, options: &RunOptions, watch: &mut dyn FnMut(&RunEvent)) -> ReportData {
    let started = SystemTime::now();
    let clock = Instant::now();
    watch(&RunEvent::Started {
        scenario: scenario.name.clone(),
        cases: scenario.cases.len(),
        phases: scenario.phases.len(),
        gates: scenario.gates.len(),
    });
    let phases: Vec<PhaseResult> = scenario
        .phases
        .iter()
        .map(|phase| PhaseResult {
            name: phase.name.clone(),
            verdict: Verdict::Skipped,
            duration_secs: 0.0,
            message: Some(NO_FLEET.to_owned()),
        })
        .collect();
    for phase in &phases {
        watch(&RunEvent::PhaseFinished(phase.clone()));
    }
    let measurements = BTreeMap::new();
    let gates = evaluate_gates(&gate_specs(scenario), &measurements);
    for gate in &gates {
        watch(&RunEvent::GateEvaluated(gate.clone()));
    }
    let baseline = options
        .baseline
        .as_ref()
        .map(|b| compare_with_baseline(&measurements, &b.report, &b.file, b.tolerance_pct));
    let mut notes = Vec::new();
    if let Some(b) = options
        .baseline
        .as_ref()
        .filter(|b| b.report.scenario.name != scenario.name)
    {
        notes.push(format!(
            "the baseline {} is a report of scenario `{}`, not `{}`",
            b.file, b.report.scenario.name, scenario.name
        ));
    }
    let mut report = ReportData {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "fleetgate".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
            seed: scenario.seed,
            description: scenario.description.clone(),
        },
        run: RunInfo {
            started_at: humantime::format_rfc3339_seconds(started).to_string(),
            finished_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            duration_secs: clock.elapsed().as_secs_f64(),
        },
        outcome: Outcome::Passed,
        cases: Vec::new(),
        phases,
        measurements,
        gates,
        baseline,
        notes,
    };
    report.decide_outcome();
    watch(&RunEvent::Finished {
        outcome: report.outcome,
    });
    report
}

fn gate_specs(scenario: &Scenario) -> Vec<GateSpec> {
    scenario
        .gates
        .iter()
        .map(|gate| GateSpec {
            metric: gate.key.to_string(),
            bound: match gate.bound {
                ScenarioBound::Max => Bound::Max,
                ScenarioBound::Min => Bound::Min,
            },
            threshold: gate.threshold,
            written: gate.written.clone(),
            unit: gate.key.unit(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use fleetgate_scenario::{SourceFile, compile};

    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "[scenario]\nname = \"t\"\n[[cohort]]\nname = \"c\"\ndevices = 1\ndevice_id = \"d-{{index}}\"\n[[phase]]\nname = \"p\"\nhold = \"1s\"\n{extra}"
        );
        compile(&SourceFile::new("t.toml", text), &[]).scenario.unwrap()
    }

    #[test]
    fn phases_this_build_cannot_run_are_reported_skipped_and_do_not_fail_the_run() {
        let mut events = Vec::new();
        let report = run(&scenario(""), &RunOptions::default(), &mut |e| {
            events.push(e.clone())
        });
        assert_eq!(report.outcome, Outcome::Passed);
        assert_eq!(report.phases[0].verdict, Verdict::Skipped);
        assert!(matches!(
            events.first(),
            Some(RunEvent::Started { phases: 1, .. })
        ));
        assert!(matches!(
            events.last(),
            Some(RunEvent::Finished {
                outcome: Outcome::Passed
            })
        ));
    }

    #[test]
    fn gates_on_metrics_nothing_measured_fail_the_run() {
        let report = run(
            &scenario("[gates]\n\"messages.lost\" = { max = 0 }\n"),
            &RunOptions::default(),
            &mut |_| {},
        );
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(report.gates[0].verdict, Verdict::Failed);
    }

    #[test]
    fn a_baseline_of_another_scenario_is_noted() {
        let mut other = run(&scenario(""), &RunOptions::default(), &mut |_| {});
        other.scenario.name = "other".into();
        let options = RunOptions {
            baseline: Some(Baseline {
                file: "b.json".into(),
                report: other,
                tolerance_pct: 10.0,
            }),
        };
        let report = run(&scenario(""), &options, &mut |_| {});
        assert_eq!(
            report.notes,
            ["the baseline b.json is a report of scenario `other`, not `t`"]
        );
        assert_eq!(report.baseline.unwrap().comparisons.len(), 0);
    }
}
