//! One run: from a compiled scenario to its report.

use std::net::SocketAddr;

use fleetgate_bridge::server::Observe;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use fleetgate_report::{
    BaselinePolicy, Bound, CaseResult, GateSpec, Outcome, PhaseResult, ReportData, RunInfo, SCHEMA_VERSION,
    ScenarioInfo, ShardInfo, Tool, Verdict, compare_with_baseline, evaluate_gates,
};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{BaselineSettings, Bound as ScenarioBound};
use tokio_util::sync::CancellationToken;

use crate::cases::{self, CaseContext};
use crate::environment::{self, EnvironmentError, EnvironmentOptions, KeyProgress};
use crate::events::RunEvent;
use crate::load;
use crate::push_load::PushLoadReport;
use fleetgate_fleet::shard::Shard;

/// How long the environment has to shut down after the run, and the runtime's tasks to end.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// A baseline report to compare this run with.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The file it was loaded from, as the user named it.
    pub file: String,
    /// The report.
    pub report: ReportData,
    /// What is compared and how strictly.
    pub policy: BaselinePolicy,
}

/// The comparison policy a scenario's `[baseline]` table asks for: its settings over the
/// defaults of [`BaselinePolicy`].
pub fn baseline_policy(settings: &BaselineSettings) -> BaselinePolicy {
    let mut policy = BaselinePolicy::default();
    if let Some(compare) = &settings.compare {
        policy.compare = compare.clone();
    }
    if let Some(tolerance) = settings.tolerance_pct {
        policy.tolerance_pct = tolerance;
    }
    if let Some(floor) = settings.noise_floor {
        policy.noise_floor_us = floor.as_secs_f64() * 1e6;
    }
    if let Some(cases) = settings.cases {
        policy.cases = cases;
    }
    policy.tolerances.extend(settings.tolerances.iter().cloned());
    policy
}

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Compare with this baseline, if given.
    pub baseline: Option<Baseline>,
    /// The run's output folder: the CA, generated keys and logs go here.
    pub out_dir: PathBuf,
    /// The scenario file's folder: relative paths in the scenario start here.
    pub scenario_dir: PathBuf,
    /// Told `(cohort, keys done, keys total)` while cohort keys are generated.
    pub key_progress: KeyProgress,
    /// The embedded bridge's safety checks; all on unless a test switches one off (the
    /// conformance self-check).
    #[doc(hidden)]
    pub safety: fleetgate_bridge::safety::SafetyChecks,
    /// The bridge's MQTT address: `127.0.0.1:0` unless real devices join the run.
    pub listen: SocketAddr,
    /// Names real devices use to reach this machine, for the server certificate.
    pub server_names: Vec<String>,
    /// Where the generated CA is kept across runs.
    pub ca_dir: Option<PathBuf>,
    /// The slice of every cohort to run ([`Shard::WHOLE`] unless the fleet is spread over
    /// several processes).
    pub shard: Shard,
    /// When the load phases start: every shard of a run is given the same instant so that
    /// ramps and holds line up; `None` starts them once the environment is up.
    pub start_at: Option<SystemTime>,
    /// The threads the virtual devices run on; half the cores, at least one, when `None`.
    pub lanes: Option<usize>,
    /// Cancelled to interrupt the run (Ctrl-C, SIGTERM): cases, push load and fleet stop, and
    /// the report says `aborted` and holds what was measured so far.
    pub stop: CancellationToken,
}

impl RunOptions {
    /// Options for a run writing to `out_dir`, reading relative paths from `scenario_dir`: no
    /// baseline, no key progress, every safety check on, the bridge on `127.0.0.1:0`, a fresh CA,
    /// never interrupted.
    pub fn new(out_dir: PathBuf, scenario_dir: PathBuf) -> Self {
        Self {
            baseline: None,
            out_dir,
            scenario_dir,
            key_progress: std::sync::Arc::new(|_, _, _| {}),
            safety: fleetgate_bridge::safety::SafetyChecks::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            server_names: Vec::new(),
            ca_dir: None,
            shard: Shard::WHOLE,
            start_at: None,
            lanes: None,
            stop: CancellationToken::new(),
        }
    }
}

/// Why a run produced no report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Something the scenario names is unusable (a key file, a certificate).
    #[error("{0}")]
    Input(String),
    /// The environment could not start: a port, a file, an external service.
    #[error("{0}")]
    Environment(String),
}

impl From<EnvironmentError> for RunError {
    fn from(error: EnvironmentError) -> Self {
        match error {
            EnvironmentError::Input(message) => Self::Input(message),
            EnvironmentError::Start(message) => Self::Environment(message),
        }
    }
}

/// Runs `scenario` and returns its report, sending every event to `watch`. Every component the
/// scenario's `[target]` leaves embedded is started on `127.0.0.1:0` for the run.
pub fn run(
    scenario: &Scenario,
    options: &RunOptions,
    watch: &mut dyn FnMut(&RunEvent),
) -> Result<ReportData, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Environment(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(execute(scenario, options, watch));
    runtime.shutdown_timeout(SHUTDOWN_LIMIT);
    result
}

/// The report of a run that could not start (or could not reach its target): outcome
/// `error` with the message, every selected case and phase skipped as not run.
pub fn not_started(scenario: &Scenario, started: SystemTime, message: &str, shard: Shard) -> ReportData {
    let reason = format!("not run: {message}");
    let mut report = report_of(scenario, started, 0.0);
    report.outcome = Outcome::Error;
    report.error = Some(message.to_owned());
    report.cases = not_run_cases(scenario, &[], &reason);
    report.phases = not_run_phases(scenario, &reason);
    report.shard = shard_info(shard);
    report
}

/// What a shard's report says of it; `None` for the whole fleet.
fn shard_info(shard: Shard) -> Option<ShardInfo> {
    (!shard.is_whole()).then_some(ShardInfo {
        index: shard.index,
        count: shard.count,
    })
}

async fn execute(
    scenario: &Scenario,
    options: &RunOptions,
    watch: &mut dyn FnMut(&RunEvent),
) -> Result<ReportData, RunError> {
    let started = SystemTime::now();
    let clock = Instant::now();
    watch(&RunEvent::Started {
        scenario: scenario.name.clone(),
        cases: scenario.cases.len(),
        phases: scenario.phases.len(),
        gates: scenario.gates.len(),
    });
    let mut env = start(scenario, options, watch).await?;
    let (case_results, push_load, load) = stages(scenario, options, &mut env, watch).await;
    let stop = &options.stop;
    let aborted = stop.is_cancelled();
    let mut phases = load.phases;
    for phase in &mut phases {
        if aborted && phase.verdict != Verdict::Skipped {
            phase.message = Some(format!("interrupted: {}", phase.message.as_deref().unwrap_or("")));
        }
        watch(&RunEvent::PhaseFinished(phase.clone()));
    }
    for cohort in &load.cohorts {
        watch(&RunEvent::CohortJudged(cohort.clone()));
    }
    let _ = tokio::time::timeout(SHUTDOWN_LIMIT, env.shutdown()).await;
    let mut measurements = load.measurements;
    measurements.extend(push_load.measurements);
    let gates = evaluate_gates(&gate_specs(scenario), &measurements);
    for gate in &gates {
        watch(&RunEvent::GateEvaluated(gate.clone()));
    }
    let baseline = options
        .baseline
        .as_ref()
        .map(|b| compare_with_baseline(&measurements, &case_results, &b.report, &b.file, &b.policy));
    let mut notes = load.notes;
    notes.extend(push_load.notes);
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
    if aborted {
        notes.insert(
            0,
            format!(
                "the run was interrupted after {:.1} s: what had not finished was stopped, and the report holds what was measured until then",
                clock.elapsed().as_secs_f64()
            ),
        );
    }
    let mut report = ReportData {
        cases: case_results,
        phases,
        measurements,
        metrics: load.metrics,
        gates,
        baseline,
        notes,
        devices: load.devices,
        cohorts: load.cohorts,
        timeline: load.timeline,
        shard: shard_info(options.shard),
        ..report_of(scenario, started, clock.elapsed().as_secs_f64())
    };
    if aborted {
        report.outcome = Outcome::Aborted;
    }
    report.decide_outcome();
    watch(&RunEvent::Finished {
        outcome: report.outcome,
    });
    Ok(report)
}

/// Starts the environment and tells `watch` where the Google mock is, when there is one.
async fn start(
    scenario: &Scenario,
    options: &RunOptions,
    watch: &mut dyn FnMut(&RunEvent),
) -> Result<environment::Environment, RunError> {
    let env = environment::start(
        scenario,
        &EnvironmentOptions {
            safety: options.safety.clone(),
            observe: Observe::Only(crate::observe::real_devices(scenario)),
            server_names: options.server_names.clone(),
            ca_dir: options.ca_dir.clone(),
            shard: options.shard,
            ..EnvironmentOptions::new(
                options.listen,
                options.out_dir.clone(),
                options.scenario_dir.clone(),
                options.key_progress.clone(),
            )
        },
    )
    .await?;
    if let Some(push) = &env.push {
        let (jwks, pem_certs, openid_configuration) = push.google_urls();
        watch(&RunEvent::GoogleMock {
            endpoint: push.target.url.clone(),
            embedded: push.verifier.is_some(),
            jwks,
            pem_certs,
            openid_configuration,
        });
    }
    Ok(env)
}

/// Runs the cases, the push load and the load phases in turn; once `options.stop` is
/// cancelled, what runs is stopped and what has not started is reported as not run.
async fn stages(
    scenario: &Scenario,
    options: &RunOptions,
    env: &mut environment::Environment,
    watch: &mut dyn FnMut(&RunEvent),
) -> (Vec<CaseResult>, PushLoadReport, load::LoadResult) {
    let stop = &options.stop;
    let interrupted = "not run: the run was interrupted";
    let mut done = Vec::new();
    let finished = {
        let context = CaseContext {
            scenario,
            env,
            scenario_dir: &options.scenario_dir,
        };
        let mut record = |event: &RunEvent| {
            if let RunEvent::CaseFinished(case) = event {
                done.push(case.clone());
            }
            watch(event);
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => None,
            results = cases::run(&context, &mut record) => Some(results),
        }
    };
    let case_results = finished.unwrap_or_else(|| not_run_cases(scenario, &done, interrupted));
    let push_load = tokio::select! {
        biased;
        () = stop.cancelled() => PushLoadReport::interrupted(scenario),
        report = crate::push_load::run(scenario, env, watch) => report,
    };
    let mut load = if stop.is_cancelled() {
        load::LoadResult::default()
    } else {
        load::run(scenario, env, options, watch).await
    };
    if stop.is_cancelled() && load.phases.is_empty() {
        load.phases = not_run_phases(scenario, interrupted);
    }
    (case_results, push_load, load)
}

/// An empty report of `scenario`, started at `started`, finished now.
pub(crate) fn report_of(scenario: &Scenario, started: SystemTime, duration_secs: f64) -> ReportData {
    ReportData {
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
            duration_secs,
        },
        outcome: Outcome::Passed,
        error: None,
        cases: Vec::new(),
        phases: Vec::new(),
        measurements: Default::default(),
        metrics: None,
        gates: Vec::new(),
        baseline: None,
        notes: Vec::new(),
        timeline: Vec::new(),
        devices: Vec::new(),
        cohorts: Vec::new(),
        shard: None,
        merged: None,
    }
}

/// The cases that finished, then every other selected case skipped with `reason`.
fn not_run_cases(scenario: &Scenario, done: &[CaseResult], reason: &str) -> Vec<CaseResult> {
    let mut results = done.to_vec();
    for id in &scenario.cases {
        if done.iter().any(|c| &c.id == id) {
            continue;
        }
        if let Some(case) = crate::catalogue::find(id) {
            results.push(CaseResult {
                id: id.clone(),
                device: None,
                rule: case.rule.to_owned(),
                verdict: Verdict::Skipped,
                duration_secs: 0.0,
                message: Some(reason.to_owned()),
                evidence: Default::default(),
            });
        }
    }
    results
}

/// Every phase of `scenario` skipped with `reason`.
fn not_run_phases(scenario: &Scenario, reason: &str) -> Vec<PhaseResult> {
    scenario
        .phases
        .iter()
        .map(|phase| PhaseResult {
            name: phase.name.clone(),
            verdict: Verdict::Skipped,
            duration_secs: 0.0,
            message: Some(reason.to_owned()),
        })
        .collect()
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
    use fleetgate_report::Verdict;
    use fleetgate_scenario::{SourceFile, compile};

    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "[scenario]\nname = \"t\"\n[[cohort]]\nname = \"c\"\ndevices = 1\ndevice_id = \"d-{{index}}\"\n[[phase]]\nname = \"p\"\nhold = \"1s\"\n{extra}"
        );
        compile(&SourceFile::new("t.toml", text), &[]).scenario.unwrap()
    }

    fn options(dir: &tempfile::TempDir, baseline: Option<Baseline>) -> RunOptions {
        RunOptions {
            baseline,
            ..RunOptions::new(dir.path().to_path_buf(), dir.path().to_path_buf())
        }
    }

    fn run_quietly(scenario: &Scenario, options: &RunOptions) -> ReportData {
        run(scenario, options, &mut |_| {}).unwrap()
    }

    #[test]
    fn a_phase_runs_its_cohort_against_the_embedded_bridge() {
        let dir = tempfile::tempdir().unwrap();
        let mut events = Vec::new();
        let report = run(&scenario(""), &options(&dir, None), &mut |e| {
            events.push(e.clone())
        })
        .unwrap();
        assert_eq!(report.outcome, Outcome::Passed);
        assert_eq!(report.phases[0].verdict, Verdict::Passed, "{:?}", report.phases);
        assert_eq!(report.measurements["connects.accepted"].value, 1.0);
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
        assert!(
            dir.path().join("ca.pem").exists(),
            "the embedded bridge was started"
        );
    }

    #[test]
    fn gates_on_metrics_nothing_measured_fail_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let report = run_quietly(
            &scenario("[gates]\n\"push.request.p99\" = { max = \"1s\" }\n"),
            &options(&dir, None),
        );
        assert_eq!(report.outcome, Outcome::Failed);
        assert_eq!(report.gates[0].verdict, Verdict::Failed);
    }

    #[test]
    fn a_baseline_of_another_scenario_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = run_quietly(&scenario(""), &options(&dir, None));
        other.scenario.name = "other".into();
        let baseline = Baseline {
            file: "b.json".into(),
            report: other,
            policy: BaselinePolicy::default(),
        };
        let report = run_quietly(&scenario(""), &options(&dir, Some(baseline)));
        assert!(
            report
                .notes
                .contains(&"the baseline b.json is a report of scenario `other`, not `t`".to_owned()),
            "{:?}",
            report.notes
        );
        assert!(report.baseline.is_some());
    }

    #[test]
    fn an_unusable_output_folder_is_an_environment_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let mut options = options(&dir, None);
        options.out_dir = file.join("out");
        let error = run(&scenario(""), &options, &mut |_| {}).unwrap_err();
        assert!(
            matches!(error, RunError::Environment(ref m) if m.contains("a-file")),
            "{error}"
        );
    }
}
