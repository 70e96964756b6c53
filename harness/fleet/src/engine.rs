//! The load engine: turns cohorts and phases into each device's up-time windows, runs every
//! device as its own task on one of a few lanes (threads, each with its own single-threaded
//! runtime: a device's wake-ups never cross threads), and once a second drains the workers'
//! recorders into the cumulative metrics, the interval log and a progress reading.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use fleetgate_metrics::{IntervalLog, Recorder, Summary};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::device::{Device, DeviceSpec, Window};
use crate::driver::{DeviceResult, Identity, Shared, run_device};
use crate::rng::Rng;
use crate::shard::Shard;

/// One cohort, ready to run.
#[derive(Clone, Debug)]
pub struct CohortPlan {
    /// Name in reports.
    pub name: String,
    /// What its devices do.
    pub spec: Arc<DeviceSpec>,
    /// Its devices in this run's shard, in index order (all of them unsharded).
    pub devices: Vec<Identity>,
    /// How many devices the whole cohort has, across every shard.
    pub size: usize,
    /// Connects per second; unlimited when `None`.
    pub connect_rate: Option<f64>,
}

/// One load phase.
#[derive(Clone, Debug, PartialEq)]
pub struct PhasePlan {
    /// Name in reports.
    pub name: String,
    /// Time over which devices connect.
    pub ramp: Duration,
    /// Time at full load.
    pub hold: Duration,
    /// Time over which devices stop.
    pub ramp_down: Duration,
    /// Expected connection drops and re-opens per device per minute during the phase.
    pub churn_per_min: f64,
}

/// A whole fleet run.
#[derive(Clone, Debug)]
pub struct FleetPlan {
    /// Every random choice derives from it.
    pub seed: u64,
    /// The cohorts.
    pub cohorts: Vec<CohortPlan>,
    /// The phases, run one after another.
    pub phases: Vec<PhasePlan>,
    /// The slice of every cohort this run holds ([`Shard::WHOLE`] unsharded).
    pub shard: Shard,
    /// The threads the devices run on, each with its own single-threaded runtime (at least 1;
    /// [`default_lanes`] unless told).
    pub lanes: usize,
}

/// Lanes for a machine: half its cores, at least one. The other half is left to what the
/// fleet drives and to the kernel's share of every message: on 2 cores, one lane used 10–20 %
/// less CPU per message than two, paced or in a burst, and brought a 19,900-device storm up
/// sooner (BENCHMARKS.md, "Load generator").
pub fn default_lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// When a phase ran, from the start of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseSpan {
    /// Phase name.
    pub name: String,
    /// Its start.
    pub start: Duration,
    /// Its planned end (the last device's stop).
    pub end: Duration,
}

/// The phases laid end to end.
pub fn spans(phases: &[PhasePlan]) -> Vec<PhaseSpan> {
    let mut at = Duration::ZERO;
    phases
        .iter()
        .map(|phase| {
            let start = at;
            at += phase.ramp + phase.hold + phase.ramp_down;
            PhaseSpan {
                name: phase.name.clone(),
                start,
                end: at,
            }
        })
        .collect()
}

/// Device `index` of `count`'s window in each phase: connects spread evenly over the ramp (and
/// no faster than `connect_rate`), stops spread evenly over the ramp-down.
pub fn windows(phases: &[PhasePlan], index: usize, count: usize, connect_rate: Option<f64>) -> Vec<Window> {
    let share = index as f64 / count.max(1) as f64;
    spans(phases)
        .iter()
        .zip(phases)
        .map(|(span, phase)| {
            let ramped = phase.ramp.mul_f64(share);
            let paced = connect_rate.map_or(Duration::ZERO, |rate| {
                Duration::from_secs_f64(index as f64 / rate.max(f64::MIN_POSITIVE))
            });
            let start = span.start + ramped.max(paced);
            let stop = (span.start + phase.ramp + phase.hold + phase.ramp_down.mul_f64(share)).max(start);
            Window {
                start,
                stop,
                churn_per_min: phase.churn_per_min,
            }
        })
        .collect()
}

/// A progress reading, once a second.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Time since the start.
    pub elapsed: Duration,
    /// The phase running, if any.
    pub phase: Option<String>,
    /// Devices in the fleet.
    pub devices: u64,
    /// Devices connected now.
    pub connected: u64,
    /// Connect attempts so far.
    pub attempts: u64,
    /// Telemetry messages sent so far.
    pub sent: u64,
    /// Telemetry messages acknowledged so far.
    pub acked: u64,
    /// Acknowledged messages per second over the last interval.
    pub acked_per_sec: f64,
    /// 99th percentile of `publish.puback` so far.
    pub puback_p99: Option<Duration>,
    /// Refusals, failed connection attempts, lost connections and client errors so far.
    pub errors: u64,
    /// Length of the interval this reading closes.
    pub interval: Duration,
    /// Latency recorded during that interval, by metric.
    pub latency: Vec<(String, Summary)>,
}

/// What a fleet run leaves behind.
#[derive(Debug)]
pub struct FleetRun {
    /// Every measurement, merged.
    pub metrics: Recorder,
    /// Every device's acknowledged sequence numbers.
    pub devices: Vec<DeviceResult>,
    /// When each phase ran.
    pub phases: Vec<PhaseSpan>,
    /// Wall time of the run.
    pub duration: Duration,
    /// When every device was first connected at once, from the start.
    pub all_connected: Option<Duration>,
}

/// Runs `plan`: every device as a task recording into `shared`; once a second a progress
/// reading goes to `progress` and, when given, an interval goes to `log`. When `stop` is
/// cancelled every device stops at once (its connection closes) and the run returns what was
/// measured and acknowledged until then.
pub async fn run<W: Write>(
    plan: &FleetPlan,
    shared: Arc<Shared>,
    mut log: Option<IntervalLog<W>>,
    stop: &CancellationToken,
    progress: &mut dyn FnMut(&Progress),
) -> FleetRun {
    let phases = spans(&plan.phases);
    let lanes = plan.lanes.max(1);
    let mut work: Vec<Vec<(usize, Identity, Device)>> = (0..lanes).map(|_| Vec::new()).collect();
    let mut first = 0usize;
    let mut devices = 0u64;
    for cohort in &plan.cohorts {
        for (position, identity) in cohort.devices.iter().enumerate() {
            let index = plan.shard.global(position);
            let windows = windows(&plan.phases, index, cohort.size, cohort.connect_rate);
            let worker = first + index;
            let rng = Rng::new(plan.seed, worker as u64);
            let device = Device::new(Arc::clone(&cohort.spec), windows, rng);
            work[devices as usize % lanes].push((worker, identity.clone(), device));
            devices += 1;
        }
        first += cohort.size;
    }
    let (done, mut finished) = mpsc::unbounded_channel();
    for (lane, devices) in work.into_iter().enumerate() {
        start_lane(lane, devices, Arc::clone(&shared), done.clone());
    }
    drop(done);
    shared.live.expect(devices);
    let mut cumulative = Recorder::new();
    let mut results = Vec::with_capacity(devices as usize);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut last = (Duration::ZERO, 0u64);
    loop {
        tokio::select! {
            () = stop.cancelled(), if !shared.halt.is_cancelled() => shared.halt.cancel(),
            result = finished.recv() => match result {
                Some(result) => results.push(result),
                None => break,
            },
            _ = ticker.tick() => {
                let reading = collect(&shared, &mut cumulative, log.as_mut(), &phases, devices, &mut last);
                progress(&reading);
            }
        }
    }
    let reading = collect(
        &shared,
        &mut cumulative,
        log.as_mut(),
        &phases,
        devices,
        &mut last,
    );
    progress(&reading);
    FleetRun {
        metrics: cumulative,
        devices: results,
        phases,
        duration: shared.epoch.elapsed(),
        all_connected: shared.live.all_connected_at().map(|t| t - shared.epoch),
    }
}

/// Runs `devices` on a thread of their own with a single-threaded runtime; each result goes to
/// `done` as its device ends. Where no such thread can be had (no runtime, no thread), the lane
/// runs on the caller's runtime instead.
fn start_lane(
    lane: usize,
    devices: Vec<(usize, Identity, Device)>,
    shared: Arc<Shared>,
    done: mpsc::UnboundedSender<DeviceResult>,
) {
    let work = async move {
        let mut tasks = JoinSet::new();
        for (worker, identity, device) in devices {
            tasks.spawn(run_device(Arc::clone(&shared), worker, identity, device));
        }
        while let Some(result) = tasks.join_next().await {
            if let Ok(result) = result {
                let _ = done.send(result);
            }
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        tokio::spawn(work);
        return;
    };
    let (give, take) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("fleet-lane-{lane}"))
        .spawn(move || {
            if let Ok(work) = take.recv() {
                runtime.block_on(work);
            }
        });
    match spawned {
        Ok(_) => {
            if let Err(std::sync::mpsc::SendError(work)) = give.send(work) {
                tokio::spawn(work);
            }
        }
        Err(_) => {
            tokio::spawn(work);
        }
    }
}

/// Drains the workers into `cumulative` (and the log) and reads progress.
fn collect<W: Write>(
    shared: &Shared,
    cumulative: &mut Recorder,
    log: Option<&mut IntervalLog<W>>,
    phases: &[PhaseSpan],
    devices: u64,
    last: &mut (Duration, u64),
) -> Progress {
    let now = shared.epoch.elapsed();
    let interval = shared.shards.drain();
    let latency = interval
        .histograms()
        .filter(|(_, h)| !h.is_empty())
        .map(|(metric, h)| (metric.to_owned(), Summary::of(h)))
        .collect();
    let length = now.saturating_sub(last.0);
    if let Some(log) = log {
        let _ = log.write(last.0, now.saturating_sub(last.0), &interval);
    }
    cumulative.merge(&interval);
    let live = shared.live.read();
    let seconds = now.saturating_sub(last.0).as_secs_f64().max(1e-3);
    let acked_per_sec = live.acked.saturating_sub(last.1) as f64 / seconds;
    *last = (now, live.acked);
    Progress {
        elapsed: now,
        phase: phases
            .iter()
            .find(|p| p.start <= now && now < p.end)
            .map(|p| p.name.clone()),
        devices,
        connected: live.connected,
        attempts: live.attempts,
        sent: live.sent,
        acked: live.acked,
        acked_per_sec,
        puback_p99: cumulative
            .histogram("publish.puback")
            .filter(|h| !h.is_empty())
            .map(|h| Duration::from_micros(h.value_at_quantile(0.99))),
        errors: live.errors,
        interval: length,
        latency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(ramp: u64, hold: u64, down: u64) -> PhasePlan {
        PhasePlan {
            name: "p".into(),
            ramp: Duration::from_secs(ramp),
            hold: Duration::from_secs(hold),
            ramp_down: Duration::from_secs(down),
            churn_per_min: 0.0,
        }
    }

    #[test]
    fn devices_spread_over_the_ramp_and_ramp_down_of_every_phase() {
        let phases = [phase(10, 20, 10), phase(0, 5, 0)];
        let first = windows(&phases, 0, 10, None);
        let middle = windows(&phases, 5, 10, None);
        assert_eq!(first[0].start, Duration::ZERO);
        assert_eq!(middle[0].start, Duration::from_secs(5));
        assert_eq!(first[0].stop, Duration::from_secs(30));
        assert_eq!(middle[0].stop, Duration::from_secs(35));
        assert_eq!(middle[1].start, Duration::from_secs(40));
        assert_eq!(middle[1].stop, Duration::from_secs(45));
        assert_eq!(spans(&phases)[1].end, Duration::from_secs(45));
    }

    #[test]
    fn the_connect_rate_holds_connects_back_when_the_ramp_is_too_short() {
        let phases = [phase(1, 60, 0)];
        let late = windows(&phases, 500, 1000, Some(100.0));
        assert_eq!(late[0].start, Duration::from_secs(5));
        let never_past_stop = windows(&[phase(0, 1, 0)], 500, 1000, Some(100.0));
        assert!(never_past_stop[0].stop >= never_past_stop[0].start);
    }
}
