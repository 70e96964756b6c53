//! `fleetgate run FILE`: compile, run, write report.json, junit.xml, summary.md and
//! report.html, exit with the outcome's code. Ctrl-C or SIGTERM stops the run in order
//! (outcome `aborted`); a run that cannot start still writes its reports (outcome `error`).

use std::path::Path;
use std::time::SystemTime;

use fleetgate_report::{BaselinePolicy, Outcome, ReportData, Verdict, render};
use fleetgate_runner::{Baseline, RunError, RunEvent, RunOptions, Shard};
use fleetgate_scenario::model::BaselineSettings;

use crate::args::{BaselineArgs, RunArgs};
use crate::commands::validate::runnable;
use crate::exit_codes;
use crate::output::{err, error, out};
use crate::progress::LiveLine;

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let Some(scenario) = runnable(&args.file, args.deny_warnings) else {
        return Ok(exit_codes::INVALID);
    };
    let scenario = &scenario;
    let baseline = match &args.baseline.file {
        None => None,
        Some(path) => match load_baseline(path, &scenario.name, policy(&args.baseline, &scenario.baseline)) {
            Ok(baseline) => Some(baseline),
            Err(message) => {
                error(&message);
                return Ok(exit_codes::INVALID);
            }
        },
    };
    let out_dir = match crate::output::prepare_out_dir(args.out.as_deref(), &scenario.name) {
        Ok(dir) => dir,
        Err(message) => {
            error(&message);
            return Ok(exit_codes::ENVIRONMENT);
        }
    };
    let options = RunOptions {
        baseline,
        out_dir: out_dir.clone(),
        scenario_dir: args.file.parent().map(Path::to_path_buf).unwrap_or_default(),
        key_progress: crate::output::key_progress(),
        safety: Default::default(),
        listen: args.listen,
        server_names: args.server_names.clone(),
        ca_dir: args.ca_dir.clone(),
        shard: args.shard.unwrap_or(Shard::WHOLE),
        start_at: args.start_at,
        lanes: args.lanes.map(usize::from),
        stop: crate::output::stop_on_signals(),
    };
    let started = SystemTime::now();
    let mut live = LiveLine::new();
    let mut watch = |event: &RunEvent| progress(event, &mut live);
    let (report, code) = match fleetgate_runner::run(scenario, &options, &mut watch) {
        Ok(report) => {
            let code = exit_code(report.outcome);
            (report, code)
        }
        Err(e) => {
            let message = e.to_string();
            let code = not_run(e);
            (
                fleetgate_runner::not_started(scenario, started, &message, options.shard),
                code,
            )
        }
    };
    if let Err(message) = write_reports(&out_dir, &report) {
        error(&message);
        return Ok(exit_codes::ENVIRONMENT);
    }
    summary(&report, &out_dir);
    Ok(code)
}

/// The exit code of a run's outcome.
pub(crate) fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Passed => exit_codes::PASSED,
        Outcome::Failed => exit_codes::FAILED,
        Outcome::Aborted => exit_codes::ABORTED,
        Outcome::Error => exit_codes::ENVIRONMENT,
    }
}

/// The scenario's `[baseline]` settings with the command line's flags over them.
pub(crate) fn policy(args: &BaselineArgs, settings: &BaselineSettings) -> BaselinePolicy {
    let mut policy = fleetgate_runner::baseline_policy(settings);
    if let Some(tolerance) = args.tolerance {
        policy.tolerance_pct = tolerance;
    }
    if let Some(floor) = args.noise_floor {
        policy.noise_floor_us = floor.as_secs_f64() * 1e6;
    }
    if !args.compare.is_empty() {
        policy.compare = args.compare.clone();
    }
    policy
}

/// Loads a baseline report; one of another scenario is refused by name.
pub(crate) fn load_baseline(path: &Path, scenario: &str, policy: BaselinePolicy) -> Result<Baseline, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read baseline {name}: {e}"))?;
    let report = ReportData::from_json(&text).map_err(|e| format!("baseline {name} is {e}"))?;
    if report.scenario.name != scenario {
        return Err(format!(
            "baseline {name} is a report of scenario `{}`, not `{scenario}`: compare runs of the same scenario",
            report.scenario.name
        ));
    }
    Ok(Baseline {
        file: name,
        report,
        policy,
    })
}

/// Prints why a run could not start and returns its exit code: 2 for the scenario's input,
/// 3 for the environment.
pub(crate) fn not_run(error: RunError) -> u8 {
    match error {
        RunError::Input(message) => {
            crate::output::error(&message);
            exit_codes::INVALID
        }
        RunError::Environment(message) => {
            crate::output::error(&message);
            exit_codes::ENVIRONMENT
        }
    }
}

pub(crate) fn write_reports(dir: &Path, report: &ReportData) -> Result<(), String> {
    let files = [
        ("report.json", render::json(report)),
        ("junit.xml", render::junit(report)),
        ("summary.md", render::markdown(report)),
        ("report.html", render::html(report)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

pub(crate) fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "passed",
        Verdict::Failed => "FAILED",
        Verdict::Skipped => "skipped",
        Verdict::NotJudged => "NOT JUDGED",
    }
}

/// Prints run events as progress lines on stderr.
fn progress(event: &RunEvent, live: &mut LiveLine) {
    if let RunEvent::Progress(reading) = event {
        live.show(reading);
        return;
    }
    live.clear();
    match event {
        RunEvent::Started {
            scenario,
            cases,
            phases,
            gates,
        } => {
            err(&format!(
                "fleetgate: running `{scenario}`: {}, {}, {}",
                counted(*cases, "case"),
                counted(*phases, "phase"),
                counted(*gates, "gate")
            ));
        }
        RunEvent::CaseFinished(case) => {
            let detail = case
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            err(&format!(
                "  case  {} {}{detail}",
                case.id,
                verdict_word(case.verdict)
            ));
        }
        RunEvent::PhaseFinished(phase) => {
            let detail = phase
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            err(&format!(
                "  phase {} {}{detail}",
                phase.name,
                verdict_word(phase.verdict)
            ));
        }
        RunEvent::CohortJudged(cohort) => {
            let refused: u64 = cohort.refused_by_connack.values().sum();
            let first = cohort
                .differing
                .first()
                .map(|d| format!("; e.g. {} {}", d.device, d.what))
                .unwrap_or_default();
            err(&format!(
                "  cohort {} {}: {} devices ({} faulty), {} connects: {} accepted, {refused} refused, {} without CONNACK; {} devices differed from \"{}\"{first}",
                cohort.name,
                verdict_word(cohort.verdict),
                cohort.devices,
                cohort.faulty,
                cohort.attempts,
                cohort.accepted,
                cohort.dropped,
                cohort.differing_devices,
                cohort.expectation
            ));
        }
        RunEvent::GateEvaluated(gate) => {
            err(&format!(
                "  gate  {} {}: {}",
                gate.gate.metric,
                verdict_word(gate.verdict),
                gate.message
            ));
        }
        RunEvent::GoogleMock {
            endpoint,
            embedded,
            jwks,
            pem_certs,
            ..
        } => {
            let who = if *embedded {
                "the reference verifier"
            } else {
                "your endpoint"
            };
            err(&format!(
                "  push  {who} at {endpoint} trusts the Google mock: JWKS {jwks}, PEM certificates {pem_certs}"
            ));
        }
        RunEvent::PushLoadFinished {
            url,
            requests,
            errors,
            seconds,
        } => {
            let errors: u64 = errors.values().sum();
            err(&format!(
                "  push  load on {url}: {requests} pushes in {seconds:.1}s ({:.0}/s), {errors} errors",
                *requests as f64 / seconds.max(1e-9)
            ));
        }
        RunEvent::Finished { .. } | RunEvent::Progress(_) => {}
    }
}

fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// ` (3 not judged)` when refusal cases could not be judged, else nothing.
fn not_judged(report: &ReportData) -> String {
    match report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::NotJudged)
        .count()
    {
        0 => String::new(),
        n => format!(" ({n} not judged)"),
    }
}

pub(crate) fn summary(report: &ReportData, dir: &Path) {
    let failed = |verdicts: &mut dyn Iterator<Item = Verdict>| verdicts.filter(|v| v.fails_run()).count();
    let outcome = match report.outcome {
        Outcome::Passed => "PASSED",
        Outcome::Failed => "FAILED",
        Outcome::Aborted => "ABORTED",
        Outcome::Error => "ERROR",
    };
    if let Some(message) = &report.error {
        out(&format!("{outcome}: `{}`: {message}", report.scenario.name));
        out(&format!(
            "reports: {}/{{report.json, junit.xml, summary.md, report.html}}",
            dir.display()
        ));
        return;
    }
    let phases = if report.phases.is_empty() {
        String::new()
    } else {
        format!(
            "{} of {} phases failed, ",
            failed(&mut report.phases.iter().map(|p| p.verdict)),
            report.phases.len()
        )
    };
    out(&format!(
        "{outcome}: `{}`: {phases}{} of {} cases failed{}, {} of {} gates failed{}{}",
        report.scenario.name,
        failed(&mut report.cases.iter().map(|c| c.verdict)),
        report.cases.len(),
        not_judged(report),
        failed(&mut report.gates.iter().map(|g| g.verdict)),
        report.gates.len(),
        if report.cohorts.is_empty() {
            String::new()
        } else {
            format!(
                ", {} of {} cohorts failed",
                failed(&mut report.cohorts.iter().map(|c| c.verdict)),
                report.cohorts.len()
            )
        },
        report
            .baseline
            .as_ref()
            .map(|b| format!(
                ", {} of {} baseline comparisons failed",
                failed(&mut b.comparisons.iter().map(|c| c.verdict)),
                b.comparisons.len()
            ))
            .unwrap_or_default()
    ));
    out(&format!(
        "reports: {}/{{report.json, junit.xml, summary.md, report.html}}",
        dir.display()
    ));
}
