//! `fleetgate report merge DIR… --out DIR`: joins the reports of a sharded run into one, writes
//! the same report files as `run`, and exits like it.

use std::path::{Path, PathBuf};

use fleetgate_report::merge::{ShardReport, merge as merge_reports};
use fleetgate_report::{ReportData, compare_with_baseline};

use crate::args::MergeArgs;
use crate::commands::run::{exit_code, load_baseline, summary, write_reports};
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
    let baseline = match args.baseline.as_deref().map(|b| load_baseline(b, args.tolerance)) {
        Some(Err(message)) => {
            error(&message);
            return Ok(exit_codes::INVALID);
        }
        Some(Ok(baseline)) => Some(baseline),
        None => None,
    };
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
    if let Some(b) = baseline {
        report.baseline = Some(compare_with_baseline(
            &report.measurements,
            &b.report,
            &b.file,
            b.tolerance_pct,
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
