//! Cases, phases, cohorts, real devices and notes of several shards united into one report.

use std::collections::BTreeMap;

use crate::model::{CaseResult, CohortResult, DeviceSummary, PhaseResult, ReportData, Verdict};

/// Differing devices a merged cohort lists, like a run's; beyond it they are counted.
const LISTED: usize = 20;

/// The shard a report is, for messages.
pub(super) fn shard(report: &ReportData) -> String {
    report.shard.map_or_else(
        || "the run".to_owned(),
        |s| format!("shard {}/{}", s.index, s.count),
    )
}

/// How bad a verdict is, for keeping the worst.
fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Skipped => 0,
        Verdict::Passed => 1,
        // Nothing was concluded there: a shard's failure, a conclusion, says more.
        Verdict::NotJudged => 2,
        Verdict::Failed => 3,
    }
}

/// Every case once (by id and device): the worst verdict any shard gave it, with that shard's
/// message and evidence.
pub(super) fn cases(reports: &[&ReportData]) -> Vec<CaseResult> {
    let mut order = Vec::new();
    let mut by_name: BTreeMap<String, CaseResult> = BTreeMap::new();
    for report in reports {
        for case in &report.cases {
            let name = case.name();
            match by_name.get(&name) {
                Some(kept) if rank(kept.verdict) >= rank(case.verdict) => {}
                kept => {
                    if kept.is_none() {
                        order.push(name.clone());
                    }
                    let mut case = case.clone();
                    if case.verdict.fails_run() && reports.len() > 1 {
                        let message = case.message.unwrap_or_default();
                        case.message = Some(format!("{}: {message}", shard(report)));
                    }
                    by_name.insert(name, case);
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|name| by_name.remove(&name))
        .collect()
}

/// Every phase once: the worst verdict, the longest duration, each shard's message.
pub(super) fn phases(reports: &[&ReportData]) -> Vec<PhaseResult> {
    let mut merged: Vec<PhaseResult> = Vec::new();
    for report in reports {
        for phase in &report.phases {
            let line = format!("{}: {}", shard(report), phase.message.as_deref().unwrap_or("-"));
            match merged.iter_mut().find(|p| p.name == phase.name) {
                Some(kept) => {
                    kept.verdict = if rank(phase.verdict) > rank(kept.verdict) {
                        phase.verdict
                    } else {
                        kept.verdict
                    };
                    kept.duration_secs = kept.duration_secs.max(phase.duration_secs);
                    let message = kept.message.take().unwrap_or_default();
                    kept.message = Some(format!("{message}; {line}"));
                }
                None => merged.push(PhaseResult {
                    message: Some(line),
                    ..phase.clone()
                }),
            }
        }
    }
    merged
}

/// Every real device once (a device joins one shard's run).
pub(super) fn devices(reports: &[&ReportData]) -> Vec<DeviceSummary> {
    let mut devices: Vec<DeviceSummary> = Vec::new();
    for device in reports.iter().flat_map(|r| &r.devices) {
        if !devices.iter().any(|d| d.id == device.id) {
            devices.push(device.clone());
        }
    }
    devices
}

/// Every cohort once, its counts summed; failed when any shard's failed.
pub(super) fn cohorts(reports: &[&ReportData]) -> Vec<CohortResult> {
    let mut merged: Vec<CohortResult> = Vec::new();
    for cohort in reports.iter().flat_map(|r| &r.cohorts) {
        match merged.iter_mut().find(|c| c.name == cohort.name) {
            Some(kept) => add(kept, cohort),
            None => merged.push(cohort.clone()),
        }
    }
    merged
}

fn add(kept: &mut CohortResult, cohort: &CohortResult) {
    kept.devices += cohort.devices;
    kept.faulty += cohort.faulty;
    kept.attempts += cohort.attempts;
    kept.accepted += cohort.accepted;
    kept.dropped += cohort.dropped;
    kept.unjudged += cohort.unjudged;
    kept.differing_devices += cohort.differing_devices;
    for (code, n) in &cohort.refused_by_connack {
        *kept.refused_by_connack.entry(code.clone()).or_default() += n;
    }
    for (reason, n) in &cohort.refused_by_reason {
        *kept.refused_by_reason.entry(reason.clone()).or_default() += n;
    }
    let room = LISTED.saturating_sub(kept.differing.len());
    kept.differing.extend(cohort.differing.iter().take(room).cloned());
    for note in &cohort.notes {
        if !kept.notes.contains(note) {
            kept.notes.push(note.clone());
        }
    }
    if cohort.verdict == Verdict::Failed {
        kept.verdict = Verdict::Failed;
    }
}

/// Every shard's notes, each with its shard.
pub(super) fn notes(reports: &[&ReportData]) -> Vec<String> {
    reports
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("{}: {n}", shard(r))))
        .collect()
}
