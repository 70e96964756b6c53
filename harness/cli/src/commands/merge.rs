//! `fleetgate report merge DIR… --out DIR`: joins the reports of a sharded run into one, writes
//! the same report files as `run`, and exits like it.

use std::path::{Path, PathBuf};

use fleetgate_report::merge::{ShardReport, merge as merge_reports};
use fleetgate_report::{ReportData, compare_with_baseline};
use fleetgate_scenario::model::BaselineSettings;

use crate::args::MergeArgs;
use crate::commands::run::{exit_code, load_baseline, policy, summary, write_reports};
use crate::exit_codes;
use crate::output::error;

pub(crate) fn merge(args: &MergeArgs) -> anyhow::Result<u8> {
    let mut inputs = Vec::new();
    let mut unreadable = Vec::new();
    for dir in &args.dirs {
        match load(dir) {
            Ok(input) => inputs.push(input),
            Err(message) => unreadable.push(message),
        }
    }
    if !unreadable.is_empty() && (!args.partial || inputs.is_empty()) {
        for message in &unreadable {
            error(message);
        }
        return Ok(exit_codes::INVALID);
    }
    let mut report = match merge_reports(inputs, args.partial) {
        Ok(report) => report,
        Err(e) => {
            error(&format!("cannot merge: {e}"));
            return Ok(exit_codes::INVALID);
        }
    };
    report
        .notes
        .extend(unreadable.iter().map(|m| format!("not merged: {m}")));
    if let Some(path) = &args.baseline.file {
        let settings = match args
            .scenario
            .as_deref()
            .map(|file| baseline_settings(file, &report))
        {
            Some(Err(message)) => {
                error(&message);
                return Ok(exit_codes::INVALID);
            }
            Some(Ok(settings)) => settings,
            None => BaselineSettings::default(),
        };
        let b = match load_baseline(path, &report.scenario.name, policy(&args.baseline, &settings)) {
            Ok(b) => b,
            Err(message) => {
                error(&message);
                return Ok(exit_codes::INVALID);
            }
        };
        report.baseline = Some(compare_with_baseline(
            &report.measurements,
            &report.cases,
            &b.report,
            &b.file,
            &b.policy,
        ));
        report.decide_outcome();
    }
    if let Err(message) = std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))
        .and_then(|()| write_reports(&args.out, &report))
    {
        error(&message);
        return Ok(exit_codes::ENVIRONMENT);
    }
    summary(&report, &args.out);
    Ok(exit_code(report.outcome))
}

/// The report of one shard: `DIR/report.json`, or the file itself.
fn load(path: &Path) -> Result<ShardReport, String> {
    let file: PathBuf = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let name = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{name} does not exist: that shard wrote no report (it crashed, or its folder was not collected)"
        ),
        _ => format!("cannot read {name}: {e}"),
    })?;
    let report = ReportData::from_json(&text).map_err(|e| format!("{name} is {e}"))?;
    Ok(ShardReport { file: name, report })
}

/// The `[baseline]` table of the scenario file the shards ran; a file of another scenario is
/// refused by name.
fn baseline_settings(file: &Path, merged: &ReportData) -> Result<BaselineSettings, String> {
    let Some(scenario) = crate::commands::validate::runnable(file, false) else {
        return Err(format!("{} is not a valid scenario (see above)", file.display()));
    };
    if scenario.name != merged.scenario.name {
        return Err(format!(
            "{} is scenario `{}`, but the shards ran `{}`",
            file.display(),
            scenario.name,
            merged.scenario.name
        ));
    }
    Ok(scenario.baseline)
}
