//! Load phases: the virtual fleet runs every phase against the bridge under test while the
//! runner consumes what reaches Pub/Sub; the result is the phases' verdicts, every
//! measurement, and the raw metrics for shard merging.

mod addresses;
mod bridge_side;
mod cohorts;
mod downstream;
mod faulty;
mod measure;
mod plan;
mod start;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use fleetgate_fleet::driver::Shared;
use fleetgate_fleet::engine::Progress;
use fleetgate_fleet::engine::{self, FleetRun};
use fleetgate_metrics::names::{CONNECT_ERRORS_PREFIX, REFUSALS_PREFIX};
use fleetgate_metrics::{IntervalLog, MetricSet, Recorder};
use fleetgate_report::{IntervalLatency, Measurement, PhaseResult, TimelineSample, Verdict};
use fleetgate_scenario::Scenario;

use crate::environment::{Environment, faults};
use crate::events::RunEvent;
use crate::run::RunOptions;
use downstream::Downstreams;

/// What the load phases produced.
#[derive(Debug, Default)]
pub(crate) struct LoadResult {
    /// One result per phase.
    pub phases: Vec<PhaseResult>,
    /// Every measurement.
    pub measurements: BTreeMap<String, Measurement>,
    /// The raw histograms and counters.
    pub metrics: Option<MetricSet>,
    /// Things the reader should know.
    pub notes: Vec<String>,
    /// What the real devices that joined the run did.
    pub devices: Vec<fleetgate_report::DeviceSummary>,
    /// Each cohort's connects against what was expected of them.
    pub cohorts: Vec<fleetgate_report::CohortResult>,
    /// The load over time, one sample per progress reading.
    pub timeline: Vec<TimelineSample>,
}

/// Runs the scenario's phases with its cohorts (the options' shard of them, from the options'
/// start time); progress goes to `watch` once a second and the interval log to
/// `<out_dir>/metrics.hlog`. Cancelling the options' `stop` ends the fleet at once.
pub(crate) async fn run(
    scenario: &Scenario,
    env: &mut Environment,
    options: &RunOptions,
    watch: &mut dyn FnMut(&RunEvent),
) -> LoadResult {
    let stop = &options.stop;
    if scenario.phases.is_empty() {
        return LoadResult::default();
    }
    let out_dir = options.out_dir.as_path();
    let (target, sources) = match plan::target(scenario, env, &options.scenario_dir) {
        Ok(planned) => planned,
        Err(message) => return failed(scenario, &message),
    };
    let mut notes: Vec<String> = addresses::note(&sources).into_iter().collect();
    let downstreams = Downstreams::start(scenario, env, options.shard);
    tokio::select! {
        () = stop.cancelled() => return LoadResult::default(),
        waited = start::wait(options.start_at) => notes.extend(waited),
    }
    let plan = match plan::fleet(
        scenario,
        env,
        options.shard,
        &sources,
        options.lanes.unwrap_or_else(engine::default_lanes),
    ) {
        Ok(plan) => plan,
        Err(message) => return failed(scenario, &message),
    };
    let devices: usize = plan.cohorts.iter().map(|c| c.devices.len()).sum();
    notes.push(format!(
        "the fleet's {devices} devices ran on {} lane(s), threads with a runtime each (fleetgate run --lanes N)",
        plan.lanes
    ));
    if !options.shard.is_whole() {
        notes.push(format!(
            "shard {} of the fleet: {devices} of its devices (every device whose index in its cohort is {} modulo {})",
            options.shard, options.shard.index, options.shard.count
        ));
    }
    let mut observer = crate::observe::Observer::default();
    if let Some(bridge) = env.bridge.as_ref() {
        bridge_side::discard(&mut *bridge.events.lock().await, &mut observer);
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get() * 4);
    let shared = Arc::new(Shared::new(target, workers));
    let log_path = out_dir.join("metrics.hlog");
    let log = match File::create(&log_path) {
        Ok(file) => IntervalLog::new(BufWriter::new(file), SystemTime::now()).ok(),
        Err(e) => {
            notes.push(format!(
                "no interval log: cannot create {}: {e}",
                log_path.display()
            ));
            None
        }
    };
    let applied = Arc::new(Mutex::new(Vec::new()));
    let mut schedule = None;
    if let Some(bridge) = env.bridge.as_ref().filter(|_| !scenario.faults.is_empty()) {
        let applied = Arc::clone(&applied);
        let note = move |fault: &_| {
            let mut applied = applied.lock().unwrap_or_else(PoisonError::into_inner);
            applied.push(format!("fault applied: {}", faults::describe(fault)));
        };
        schedule = Some(faults::schedule(bridge.bridge.clone(), scenario.faults.clone(), note).await);
    }
    let mut timeline = Vec::new();
    let fleet = engine::run(&plan, shared, log, stop, &mut |p| {
        timeline.push(sample(p));
        watch(&RunEvent::Progress(p.clone()));
    })
    .await;
    if let Some(schedule) = schedule {
        schedule.abort();
    }
    notes.extend(std::mem::take(
        &mut *applied.lock().unwrap_or_else(PoisonError::into_inner),
    ));
    notes.extend(capacity_notes(&fleet));
    let mut metrics = fleet.metrics.clone();
    let seen = downstreams.finish(&fleet, &mut metrics, &mut notes).await;
    let reasons = match env.bridge.as_ref() {
        Some(bridge) => Some(bridge_side::count(
            &mut *bridge.events.lock().await,
            &mut metrics,
            &mut observer,
        )),
        None => None,
    };
    let cohorts = cohorts::results(
        &cohorts::Judged {
            scenario,
            keys: &env.devices.cohorts,
            fleet: &fleet,
            reasons: reasons.as_ref(),
            tallies: &seen,
            connack: faulty::profile_under_test(scenario).connack_auth_failure,
            shard: options.shard,
        },
        &mut metrics,
    );
    let real = crate::observe::real_devices(scenario);
    let loaded = fleet.phases.last().map_or(Duration::ZERO, |p| p.end);
    let mut measurements = measure::measurements(&metrics, &seen, loaded);
    measure::fill_gated(scenario, reasons.is_some(), &mut measurements);
    measurements.extend(env.pubsub.stored_bytes_peak());
    LoadResult {
        phases: phases(&fleet),
        measurements,
        metrics: Some(metrics.to_set()),
        notes,
        devices: observer.summaries(|id| real.contains(id)),
        cohorts,
        timeline,
    }
}

/// A progress reading as a timeline sample of the report.
fn sample(progress: &Progress) -> TimelineSample {
    TimelineSample {
        at_secs: progress.elapsed.as_secs_f64(),
        length_secs: progress.interval.as_secs_f64(),
        phase: progress.phase.clone(),
        devices: progress.devices,
        connected: progress.connected,
        sent: progress.sent,
        acked: progress.acked,
        acked_per_sec: progress.acked_per_sec,
        errors: progress.errors,
        latency: progress
            .latency
            .iter()
            .map(|(metric, s)| {
                let latency = IntervalLatency {
                    count: s.count,
                    p50: s.p50 as f64,
                    p90: s.p90 as f64,
                    p99: s.p99 as f64,
                    max: s.max as f64,
                };
                (metric.clone(), latency)
            })
            .collect(),
    }
}

/// Every phase passed when devices connected; failed, naming why, when none ever did.
fn phases(fleet: &FleetRun) -> Vec<PhaseResult> {
    let connected = fleet.metrics.counter("connects.accepted");
    fleet
        .phases
        .iter()
        .map(|span| {
            let (verdict, message) = if connected == 0 {
                (Verdict::Failed, never_connected(&fleet.metrics))
            } else {
                (
                    Verdict::Passed,
                    format!(
                        "{}, {} messages acknowledged",
                        connect_story(&fleet.metrics),
                        fleet.metrics.counter("messages.acked")
                    ),
                )
            };
            PhaseResult {
                name: span.name.clone(),
                verdict,
                duration_secs: (span.end - span.start).as_secs_f64(),
                message: Some(message),
            }
        })
        .collect()
}

/// How the connects went: attempts, and what became of them (accepted, refused, ended before
/// a CONNACK by cause), so a connect storm's churn is read, not hidden behind the accepted count.
fn connect_story(metrics: &Recorder) -> String {
    let accepted = metrics.counter("connects.accepted");
    let attempts = metrics.counter("connects.attempts");
    let refused = metrics.counter("connects.refused");
    let mut failed: Vec<String> = metrics
        .counters()
        .filter_map(|(name, n)| {
            let cause = name.strip_prefix(CONNECT_ERRORS_PREFIX)?;
            Some(format!("{n} {}", connect_error(cause)))
        })
        .collect();
    failed.sort();
    let mut parts = vec![format!("{accepted} accepted")];
    if refused > 0 {
        parts.push(format!("{refused} refused"));
    }
    if !failed.is_empty() {
        parts.push(format!("ended before a CONNACK: {}", failed.join(", ")));
    }
    format!("{attempts} connect attempts ({})", parts.join("; "))
}

/// A `connect_errors.<cause>` suffix, for people.
fn connect_error(cause: &str) -> String {
    match cause {
        "refused" => "connection refused".to_owned(),
        "tls" => "TLS handshake failed".to_owned(),
        "timeout" => "timed out".to_owned(),
        "closed" => "closed by the peer".to_owned(),
        other => format!("connection error ({other})"),
    }
}

/// Why no device could connect: every attempt by its outcome (CONNACK codes, refusals the
/// embedded bridge gave, connection errors before a CONNACK), with the number of attempts.
fn never_connected(metrics: &Recorder) -> String {
    let causes: Vec<(u64, String)> = metrics
        .counters()
        .filter_map(|(name, n)| {
            let cause = if let Some(code) = name.strip_prefix("connack.") {
                format!("CONNACK code {code}")
            } else if let Some(reason) = name.strip_prefix(REFUSALS_PREFIX) {
                format!("refused by the bridge: {reason}")
            } else {
                match name.strip_prefix(CONNECT_ERRORS_PREFIX)? {
                    "closed" => "closed by the peer before a CONNACK".to_owned(),
                    other => connect_error(other),
                }
            };
            Some((n, format!("{n} × {cause} ({name})")))
        })
        .collect();
    let attempts = metrics.counter("connects.refused") + metrics.counter("connects.failed");
    if causes.is_empty() {
        return format!("no device could connect: no CONNACK was ever received ({attempts} attempts)");
    }
    let listed: Vec<&str> = causes.iter().map(|(_, text)| text.as_str()).collect();
    format!(
        "no device could connect in {attempts} attempts: {}",
        listed.join(", ")
    )
}

/// When the whole fleet was up, and the process's peak memory per device.
fn capacity_notes(fleet: &FleetRun) -> Vec<String> {
    let devices = fleet.devices.len();
    let mut notes = vec![match fleet.all_connected {
        Some(at) => format!(
            "all {devices} devices were connected at once {:.1} s after the start",
            at.as_secs_f64()
        ),
        None => format!("the {devices} devices were never all connected at once"),
    }];
    if let Some(kib) = peak_rss_kib().filter(|_| devices > 0) {
        notes.push(format!(
            "peak resident memory of fleetgate: {:.1} MiB, {:.1} KiB per device (everything in the process included)",
            kib as f64 / 1024.0,
            kib as f64 / devices as f64
        ));
    }
    notes
}

/// The process's peak resident set (`VmHWM`), where the OS tells it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every phase failed with `message`: the fleet could not start.
fn failed(scenario: &Scenario, message: &str) -> LoadResult {
    LoadResult {
        phases: scenario
            .phases
            .iter()
            .map(|phase| PhaseResult {
                name: phase.name.clone(),
                verdict: Verdict::Failed,
                duration_secs: 0.0,
                message: Some(message.to_owned()),
            })
            .collect(),
        ..LoadResult::default()
    }
}
