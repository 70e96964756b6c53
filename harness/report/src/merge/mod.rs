//! Joining the reports of a sharded run (`fleetgate report merge`) into one, losslessly:
//! histograms merged from their serialised form (a merged p99 is the p99 of every sample),
//! counters summed, ratios recomputed from the merged counts, cases, phases and cohorts united.
//! Gates and the baseline are then evaluated on the merged figures by the caller.
//!
//! - `check`: the inputs belong together (one scenario and seed, one schema, every shard once).
//! - `measurements`: the merged measurements.
//! - `parts`: cases, phases, cohorts, devices and notes united.
//! - `timeline`: the timelines summed second by second, and the merged run's ending.

mod check;
mod measurements;
mod parts;
mod timeline;

use crate::model::{MergeInfo, Outcome, ReportData, RunInfo};

pub use check::MergeError;

/// One shard's report and the file it came from.
#[derive(Clone, Debug)]
pub struct ShardReport {
    /// The file, as the user named it.
    pub file: String,
    /// Its report.
    pub report: ReportData,
}

/// Merges the shard reports; with `partial`, missing shards are allowed and noted. Gates are
/// re-evaluated from the merged measurements; the baseline is left to the caller.
pub fn merge(mut inputs: Vec<ShardReport>, partial: bool) -> Result<ReportData, MergeError> {
    let (count, missing) = check::check(&mut inputs, partial)?;
    let reports: Vec<&ReportData> = inputs.iter().map(|i| &i.report).collect();
    let first = reports[0];
    let metrics = measurements::metrics(&inputs)?;
    let mut notes = Vec::new();
    if !missing.is_empty() {
        notes.push(format!(
            "partial merge: shard(s) {} of {count} missing, so these figures are not the whole fleet's",
            missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    let measurements = measurements::measurements(&reports, metrics.as_ref(), &mut notes);
    notes.extend(parts::notes(&reports));
    let specs: Vec<_> = first.gates.iter().map(|g| g.gate.clone()).collect();
    let ending = timeline::ending(&reports);
    if reports.iter().any(|r| !r.timeline.is_empty()) {
        notes.push("the timeline sums the shards second by second; latency per interval is in each shard's report, exact percentiles in the measurements".to_owned());
    }
    let mut merged = ReportData {
        schema_version: first.schema_version,
        tool: first.tool.clone(),
        scenario: first.scenario.clone(),
        run: run_info(&reports),
        outcome: ending.as_ref().map_or(Outcome::Passed, |(outcome, _)| *outcome),
        error: ending.and_then(|(_, error)| error),
        cases: parts::cases(&reports),
        phases: parts::phases(&reports),
        gates: crate::evaluate_gates(&specs, &measurements),
        measurements,
        metrics: metrics.map(|m| m.to_set()),
        baseline: None,
        notes,
        devices: parts::devices(&reports),
        cohorts: parts::cohorts(&reports),
        timeline: timeline::timeline(&reports),
        shard: None,
        merged: Some(MergeInfo {
            count,
            shards: reports.iter().filter_map(|r| r.shard.map(|s| s.index)).collect(),
            missing,
            files: inputs.iter().map(|i| i.file.clone()).collect(),
        }),
    };
    merged.decide_outcome();
    Ok(merged)
}

/// The earliest start, the latest end, and the longest shard's wall time.
fn run_info(reports: &[&ReportData]) -> RunInfo {
    let started_at = reports.iter().map(|r| r.run.started_at.clone()).min();
    let finished_at = reports.iter().map(|r| r.run.finished_at.clone()).max();
    RunInfo {
        started_at: started_at.unwrap_or_default(),
        finished_at: finished_at.unwrap_or_default(),
        duration_secs: reports.iter().map(|r| r.run.duration_secs).fold(0.0, f64::max),
    }
}

#[cfg(test)]
mod tests;
