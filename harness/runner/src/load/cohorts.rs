//! Each cohort's verdict: its devices' connects against what the bridge should have done with
//! them, with counts by outcome, CONNACK code and (embedded bridge) reason, the devices whose
//! outcome differed, and the cohort's own measurements (`cohort.<name>.…`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fleetgate_fleet::driver::DeviceResult;
use fleetgate_fleet::driver::conduct::Conduct;
use fleetgate_fleet::engine::FleetRun;
use fleetgate_fleet::shard::Shard;
use fleetgate_metrics::Recorder;
use fleetgate_metrics::names::{COHORT_PREFIX, refusal_counter};
use fleetgate_report::{CohortResult, DeviceDifference, Verdict};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{Cohort, CohortExpectation};

use super::downstream::Tallies;
use crate::environment::CohortKeys;

/// Differing devices a cohort result lists; beyond it they are counted.
const LISTED: usize = 20;

/// The embedded bridge's refusal reasons, by device and reason.
pub(super) type Reasons = HashMap<String, BTreeMap<String, u64>>;

/// What the cohorts' verdicts need from the run.
pub(super) struct Judged<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) keys: &'a [CohortKeys],
    pub(super) fleet: &'a FleetRun,
    /// `None` when the bridge is external (it tells no reasons).
    pub(super) reasons: Option<&'a Reasons>,
    pub(super) tallies: &'a Tallies,
    /// The profile's CONNACK code for a refused JWT.
    pub(super) connack: u8,
    /// The slice of every cohort this run held.
    pub(super) shard: Shard,
}

/// Every cohort's result; its per-cohort counts go into `metrics`.
pub(super) fn results(judged: &Judged<'_>, metrics: &mut Recorder) -> Vec<CohortResult> {
    let by_id: HashMap<&str, &DeviceResult> =
        judged.fleet.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let scoped = judged.scenario.cohorts.len() > 1;
    judged
        .scenario
        .cohorts
        .iter()
        .zip(judged.keys)
        .map(|(cohort, keys)| {
            let devices: Vec<(u64, &DeviceResult)> = (0..u64::from(cohort.devices))
                .filter_map(|i| by_id.get(cohort.device_id.render(i).as_str()).map(|d| (i, *d)))
                .collect();
            let result = one(judged, cohort, keys, &devices);
            if scoped {
                measure(judged, cohort, &result, &devices, metrics);
            }
            result
        })
        .collect()
}

fn one(
    judged: &Judged<'_>,
    cohort: &Cohort,
    keys: &CohortKeys,
    devices: &[(u64, &DeviceResult)],
) -> CohortResult {
    let mut result = CohortResult {
        name: cohort.name.clone(),
        devices: judged.shard.indices(u64::from(cohort.devices)).count() as u64,
        fault: cohort.fault.as_ref().map(|f| f.id.clone()),
        ..CohortResult::default()
    };
    let mut expected_reasons = BTreeSet::new();
    let mut refusals_expected = false;
    for (index, device) in devices {
        let faulty = cohort.fault.as_ref().is_some_and(|f| f.carried_by(*index));
        result.faulty += u64::from(faulty);
        let mut conduct = device.conduct.clone();
        if let Some(reasons) = judged.reasons.and_then(|r| r.get(&device.id)) {
            check_reasons(&mut conduct, reasons, &mut result.refused_by_reason);
        }
        conduct_ends(&mut conduct, faulty);
        add(&mut result, &conduct);
        refusals_expected |= conduct.expected_refusals > 0;
        expected_reasons.extend(conduct.expected_reasons.iter().cloned());
        if conduct.differing > 0 {
            differ(&mut result, &device.id, conduct.differences.join("; "));
        }
    }
    if let Some(registration) = &keys.registration {
        let refused: Vec<String> = registration
            .refused
            .iter()
            .map(|(r, n)| format!("{n} × {r}"))
            .collect();
        result.notes.push(format!(
            "{}: the registry refused {} of {} malformed credentials ({}), as a correct one does (expected: {})",
            registration.fault,
            registration.refused.values().sum::<u64>(),
            result.faulty,
            if refused.is_empty() { "none".to_owned() } else { refused.join(", ") },
            registration.expected
        ));
        for device in &registration.accepted {
            differ(
                &mut result,
                device,
                format!(
                    "the registry accepted its malformed credential ({})",
                    registration.fault
                ),
            );
        }
    }
    result.expectation = expectation(judged, cohort, refusals_expected, &expected_reasons);
    result.verdict = if result.differing_devices > 0 {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    result
}

/// Notes every refusal reason the bridge gave that the device's expectation did not name.
fn check_reasons(conduct: &mut Conduct, reasons: &BTreeMap<String, u64>, tally: &mut BTreeMap<String, u64>) {
    for (reason, n) in reasons {
        *tally.entry(reason.clone()).or_default() += n;
        if !conduct.expected_reasons.is_empty() && !conduct.expected_reasons.contains(reason) {
            let expected: Vec<&str> = conduct.expected_reasons.iter().map(String::as_str).collect();
            conduct.differ(format!(
                "refused {n} × for `{reason}`, expected `{}`",
                expected.join("` or `")
            ));
        }
    }
}

/// Differences only the whole run shows: a well-behaved device never accepted, a faulty one
/// never answered.
fn conduct_ends(conduct: &mut Conduct, faulty: bool) {
    if conduct.attempts == 0 || conduct.accepted > 0 || conduct.refusals() > 0 {
        return;
    }
    let attempts = conduct.attempts;
    if faulty || conduct.expected_refusals > 0 {
        conduct.differ(format!(
            "no CONNACK to any of its {attempts} connects: a refusal needs one"
        ));
    } else if conduct.unjudged == 0 {
        conduct.differ(format!(
            "never accepted: {attempts} connects ended without a CONNACK"
        ));
    }
}

fn add(result: &mut CohortResult, conduct: &Conduct) {
    result.attempts += conduct.attempts;
    result.accepted += conduct.accepted;
    result.dropped += conduct.dropped;
    result.unjudged += conduct.unjudged;
    for (code, n) in conduct.refused.iter().enumerate().filter(|(_, n)| **n > 0) {
        *result.refused_by_connack.entry(code.to_string()).or_default() += n;
    }
}

fn differ(result: &mut CohortResult, device: &str, what: String) {
    result.differing_devices += 1;
    if result.differing.len() < LISTED {
        result.differing.push(DeviceDifference {
            device: device.to_owned(),
            what,
        });
    }
}

fn expectation(judged: &Judged<'_>, cohort: &Cohort, refusals: bool, reasons: &BTreeSet<String>) -> String {
    let Some(fault) = &cohort.fault else {
        return if refusals {
            format!(
                "each connect as the profile's rules decide for the devices' clock (refusals: {})",
                reasons.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        } else {
            "every connect accepted".to_owned()
        };
    };
    let faulty = match &cohort.expect {
        Some(CohortExpectation::Accept) => "accepted (as stated)".to_owned(),
        Some(CohortExpectation::Refuse { reason, connack }) => format!(
            "refused (as stated){}, CONNACK {}",
            reason.as_ref().map(|r| format!(" for `{r}`")).unwrap_or_default(),
            connack.unwrap_or(judged.connack)
        ),
        None if reasons.is_empty() && !refusals => {
            "accepted (a correct bridge of the profile accepts it)".to_owned()
        }
        None => format!(
            "refused for `{}`, CONNACK {} (the profile's rules)",
            reasons.iter().cloned().collect::<Vec<_>>().join("` or `"),
            judged.connack
        ),
    };
    let share = if fault.share < 1.0 {
        format!("; the other {:.0} % accepted", (1.0 - fault.share) * 100.0)
    } else {
        String::new()
    };
    format!("devices with {}: {faulty}{share}", fault.id)
}

/// The cohort's own counts: its bridge refusals by reason, and its delivery downstream.
fn measure(
    judged: &Judged<'_>,
    cohort: &Cohort,
    result: &CohortResult,
    devices: &[(u64, &DeviceResult)],
    metrics: &mut Recorder,
) {
    let prefix = format!("{COHORT_PREFIX}{}.", cohort.name);
    for (reason, n) in &result.refused_by_reason {
        metrics.count(&format!("{prefix}{}", refusal_counter(reason)), *n);
    }
    if let Some(tally) = &judged.tallies.pubsub {
        let acked: u64 = devices.iter().map(|(_, d)| d.acked.len()).sum();
        let lost = tally
            .seen
            .lost(devices.iter().map(|(_, d)| (d.id.as_str(), &d.acked)));
        metrics.count(&format!("{prefix}messages.lost"), lost);
        metrics.count(&format!("{prefix}messages.delivered"), acked.saturating_sub(lost));
    }
}
