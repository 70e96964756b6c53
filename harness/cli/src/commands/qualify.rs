//! `fleetgate qualify FILE`: plays bridge, Pub/Sub and Google for the scenario's real devices,
//! runs the device-side cases against every `[[device]]` that connects, writes report.json,
//! junit.xml and summary.md, and exits with the outcome's code.

use std::path::Path;

use fleetgate_report::Outcome;
use fleetgate_runner::environment::EnvironmentOptions;
use fleetgate_runner::qualify::{Qualification, QualifyEvent, selected_cases};
use fleetgate_runner::sanitize::label;
use fleetgate_scenario::Scenario;
use serde_json::json;

use crate::args::QualifyArgs;
use crate::commands::run::{exit_code, not_run, verdict_word, write_reports};
use crate::commands::serve::announcement;
use crate::commands::validate::runnable;
use crate::exit_codes;
use crate::output::{error, interrupted, out, prepare_out_dir, stamped};

pub(crate) fn qualify(args: &QualifyArgs) -> anyhow::Result<u8> {
    let Some(scenario) = runnable(&args.file, false) else {
        return Ok(exit_codes::INVALID);
    };
    let scenario = &scenario;
    let out_dir = match prepare_out_dir(args.out.as_deref(), &format!("{}-qualify", scenario.name)) {
        Ok(dir) => dir,
        Err(message) => {
            error(&message);
            return Ok(exit_codes::ENVIRONMENT);
        }
    };
    let options = EnvironmentOptions {
        server_names: args.server_names.clone(),
        ca_dir: args.ca_dir.clone(),
        ..EnvironmentOptions::new(
            args.listen,
            out_dir,
            args.file.parent().map(Path::to_path_buf).unwrap_or_default(),
            crate::output::key_progress(),
        )
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(scenario, options))
}

async fn run(scenario: &Scenario, options: EnvironmentOptions) -> anyhow::Result<u8> {
    let qualification = match Qualification::start(scenario, options.clone()).await {
        Ok(q) => q,
        Err(e) => return Ok(not_run(e)),
    };
    let cases = selected_cases(scenario);
    let mut announced = announcement(scenario, &options, qualification.environment());
    announced["cases"] = json!(cases);
    out(&announced.to_string());
    stamped(&format!(
        "fleetgate: qualifying {} device(s), {} case(s) each; waiting for them to connect (Ctrl-C stops and writes the reports)",
        scenario.devices.len(),
        cases.len()
    ));
    let report = qualification
        .run(interrupted(), &mut |event| match event {
            QualifyEvent::DeviceSeen { device, peer } => {
                stamped(&format!("{device} connected from {peer}: its cases begin"));
            }
            QualifyEvent::CaseFinished(result) => {
                let why = result
                    .message
                    .as_deref()
                    .map(|m| format!(": {}", label(m)))
                    .unwrap_or_default();
                stamped(&format!(
                    "{} {} {} ({:.1} s){why}",
                    result.device.as_deref().unwrap_or("-"),
                    result.id,
                    verdict_word(result.verdict),
                    result.duration_secs
                ));
            }
        })
        .await;
    if let Err(message) = write_reports(&options.out_dir, &report) {
        error(&message);
        return Ok(exit_codes::ENVIRONMENT);
    }
    let failed = report
        .cases
        .iter()
        .filter(|c| c.verdict == fleetgate_report::Verdict::Failed)
        .count();
    stamped(&format!(
        "fleetgate: {}: {failed} of {} results failed; reports in {}",
        match report.outcome {
            Outcome::Passed => "PASSED",
            Outcome::Failed => "FAILED",
            Outcome::Aborted => "ABORTED",
            Outcome::Error => "ERROR",
        },
        report.cases.len(),
        options.out_dir.display()
    ));
    Ok(exit_code(report.outcome))
}
