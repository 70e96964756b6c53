//! Device qualification (`fleetgate qualify`): fleetgate plays bridge, Pub/Sub and Google for
//! the scenario's real devices and runs the device-side cases (`device.*`) against each device
//! that connects, judging what the device does.
//!
//! One coordinator reads the bridge's events, keeps the per-device observations and routes
//! each event to the device it concerns (connections that fail before naming a device go to
//! the devices of their address). Each device runs its cases one after another in a task of
//! its own. Devices behind one address share a lane and are qualified one after another,
//! because what a case does at the TLS or TCP level (a bad certificate, an outage) reaches
//! every connection from that address; devices at different addresses run side by side.
//! A case the scenario's `[cases.expect]` skips is skipped for every device from the start.
//!
//! # Layout
//!
//! - [`catalogue`]: the cases, their rules and default parameters.
//! - `device`: one device under qualification, its event history and helpers.
//! - `judged`: cases judged from what the device did on its own.
//! - `provoked`: TLS, backoff and token cases, where the bridge misbehaves on purpose.
//! - `delivery`: re-sent telemetry, config, commands, refresh and outage.
//! - `run`: one device's sequence of cases.

pub(crate) mod catalogue;
mod delivery;
mod device;
mod judged;
mod provoked;
mod run;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use fleetgate_bridge::events::{Event, Recorded};
use fleetgate_report::{CaseResult, ReportData, Verdict};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::CaseExpectation;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::environment::{self, Environment, EnvironmentOptions, Observe};
use crate::observe::Observer;
use crate::run::RunError;
use catalogue::DeviceCase;
use device::{Device, Shared};

/// Why a case the scenario's `[cases.expect]` skips has no verdict, as bridge and push cases say.
const SKIPPED_BY_SCENARIO: &str = "skipped: the scenario's [cases.expect] says skip";

/// What happens during a qualification, for whoever watches (the CLI's stderr lines).
#[derive(Clone, Debug)]
pub enum QualifyEvent {
    /// A device connected for the first time and its cases begin (or wait for its lane).
    DeviceSeen {
        /// The device.
        device: String,
        /// Its address.
        peer: IpAddr,
    },
    /// One case of one device has its verdict.
    CaseFinished(CaseResult),
}

/// A started qualification: the environment is up; [`Qualification::run`] judges the devices.
pub struct Qualification<'a> {
    scenario: &'a Scenario,
    env: Environment,
    cases: Vec<DeviceCase>,
    started: SystemTime,
}

/// The device cases a scenario selects (all of them when it selects none), in order.
pub fn selected_cases(scenario: &Scenario) -> Vec<&'static str> {
    cases_of(scenario).into_iter().map(DeviceCase::id).collect()
}

fn cases_of(scenario: &Scenario) -> Vec<DeviceCase> {
    let chosen: Vec<DeviceCase> = scenario
        .cases
        .iter()
        .filter_map(|id| DeviceCase::find(id))
        .collect();
    match chosen.is_empty() {
        true => DeviceCase::ALL.to_vec(),
        false => DeviceCase::ALL
            .into_iter()
            .filter(|c| chosen.contains(c))
            .collect(),
    }
}

impl<'a> Qualification<'a> {
    /// Starts the environment: every device is observed, and the bridge judges `aud` and clock
    /// in cases instead of refusing them.
    pub async fn start(scenario: &'a Scenario, options: EnvironmentOptions) -> Result<Self, RunError> {
        if scenario.devices.is_empty() {
            return Err(RunError::Input(format!(
                "{} has no [[device]]: qualification needs the devices under test, each with its registered credentials",
                scenario.file
            )));
        }
        let options = EnvironmentOptions {
            observe: Observe::Everyone,
            qualify: true,
            ..options
        };
        let env = environment::start(scenario, &options).await?;
        if env.bridge.is_none() {
            return Err(RunError::Input(format!(
                "{}: qualification plays the bridge itself; remove [target] bridge",
                scenario.file
            )));
        }
        Ok(Self {
            scenario,
            env,
            cases: cases_of(scenario),
            started: SystemTime::now(),
        })
    }

    /// The started environment (addresses for the announcement).
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// Runs every device's cases until each has a verdict or `stop` completes, then stops
    /// the environment and returns the report.
    pub async fn run(
        self,
        stop: impl Future<Output = ()>,
        watch: &mut dyn FnMut(&QualifyEvent),
    ) -> ReportData {
        let clock = Instant::now();
        let Some(bridge) = &self.env.bridge else {
            return self.report(Vec::new(), Vec::new(), false);
        };
        let shared = Arc::new(Shared {
            bridge: bridge.bridge.clone(),
            store: Arc::clone(&bridge.store),
            tls: bridge.tls.clone(),
            project: self.scenario.project.id.clone(),
            skew_secs: 600,
            settings: self.scenario.case_settings.clone(),
        });
        let events = Arc::clone(&bridge.events);
        let mut events = events.lock().await;
        let mut coordinator = Coordinator::new(self.scenario, &self.cases, shared);
        for result in &coordinator.finished {
            watch(&QualifyEvent::CaseFinished(result.clone()));
        }
        let connect_by = clock + coordinator.shared.settings(DeviceCase::Connect).timeout;
        tokio::pin!(stop);
        let interrupted = loop {
            if coordinator.done() {
                break false;
            }
            tokio::select! {
                () = &mut stop => break true,
                Some(recorded) = events.recv() => coordinator.route(recorded, watch),
                Some(result) = coordinator.results.recv() => {
                    watch(&QualifyEvent::CaseFinished(result.clone()));
                    coordinator.finished.push(result);
                }
                Some(_) = coordinator.tasks.join_next(), if !coordinator.tasks.is_empty() => {}
                () = tokio::time::sleep_until(connect_by), if !coordinator.late_judged => {
                    coordinator.judge_absent();
                }
            }
        };
        coordinator.tasks.abort_all();
        while let Ok(result) = coordinator.results.try_recv() {
            coordinator.finished.push(result);
        }
        let results = coordinator.results_in_order(interrupted);
        let summaries = coordinator.observer.summaries(|_| true);
        drop(events);
        self.report(results, summaries, interrupted)
    }

    fn report(
        self,
        cases: Vec<CaseResult>,
        devices: Vec<fleetgate_report::DeviceSummary>,
        interrupted: bool,
    ) -> ReportData {
        let scenario = self.scenario;
        let mut notes = Vec::new();
        if interrupted {
            notes.push(
                "interrupted before every case had a verdict: the cases not run are skipped, and the qualification fails"
                    .to_owned(),
            );
        }
        if scenario.cases.iter().any(|id| DeviceCase::find(id).is_none()) {
            notes.push(
                "the scenario's bridge and push cases are run by `fleetgate run`, not by qualify".to_owned(),
            );
        }
        let mut report = crate::observe::report(scenario, self.started, devices, notes);
        report.cases = cases;
        report.decide_outcome();
        if interrupted {
            report.outcome = fleetgate_report::Outcome::Failed;
        }
        let env = self.env;
        tokio::spawn(env.shutdown());
        report
    }
}

/// Routes events to device tasks and collects their verdicts.
struct Coordinator<'s> {
    scenario: &'s Scenario,
    /// Every selected case, in order: each device gets a verdict for each.
    cases: &'s [DeviceCase],
    /// The cases run against each device: those `[cases.expect]` does not skip.
    to_run: Vec<DeviceCase>,
    shared: Arc<Shared>,
    observer: Observer,
    inboxes: HashMap<String, (IpAddr, mpsc::UnboundedSender<Recorded>)>,
    lanes: HashMap<IpAddr, Arc<Mutex<()>>>,
    tasks: JoinSet<()>,
    results_tx: mpsc::UnboundedSender<CaseResult>,
    results: mpsc::UnboundedReceiver<CaseResult>,
    finished: Vec<CaseResult>,
    /// Findings about connections that named no device of the scenario, by device or peer.
    strangers: BTreeMap<String, CaseResult>,
    /// Connections dropped before naming a device, by address, until a device claims it.
    dropped: HashMap<IpAddr, Vec<String>>,
    late_judged: bool,
}

impl<'s> Coordinator<'s> {
    /// A coordinator whose devices have their skipped cases judged already.
    fn new(scenario: &'s Scenario, cases: &'s [DeviceCase], shared: Arc<Shared>) -> Self {
        let (results_tx, results) = mpsc::unbounded_channel();
        let (skipped, to_run): (Vec<DeviceCase>, Vec<DeviceCase>) = cases
            .iter()
            .partition(|c| shared.settings.expectation(c.id()) == Some(CaseExpectation::Skip));
        let finished = scenario
            .devices
            .iter()
            .flat_map(|d| skipped.iter().map(|c| not_run(*c, &d.id, SKIPPED_BY_SCENARIO)))
            .collect();
        Self {
            scenario,
            cases,
            to_run,
            shared,
            observer: Observer::default(),
            inboxes: HashMap::new(),
            lanes: HashMap::new(),
            tasks: JoinSet::new(),
            results_tx,
            results,
            finished,
            strangers: BTreeMap::new(),
            dropped: HashMap::new(),
            late_judged: false,
        }
    }

    /// Whether every device has a verdict for every case.
    fn done(&self) -> bool {
        self.finished.len() == self.scenario.devices.len() * self.cases.len()
    }

    fn route(&mut self, recorded: Recorded, watch: &mut dyn FnMut(&QualifyEvent)) {
        self.observer.record(&recorded);
        let device = match &recorded.event {
            Event::ConnectAttempt(a) => a.device.clone(),
            Event::Disconnected { device, .. }
            | Event::Packet { device, .. }
            | Event::Forwarded { device, .. } => Some(device.clone()),
            Event::Dropped { reason } => {
                let ip = recorded.peer.ip();
                let mut routed = false;
                for (address, inbox) in self.inboxes.values() {
                    if *address == ip {
                        routed |= inbox.send(recorded.clone()).is_ok();
                    }
                }
                if !routed {
                    self.dropped.entry(ip).or_default().push(reason.clone());
                }
                return;
            }
        };
        let Some(device) = device else {
            self.stranger(&recorded);
            return;
        };
        if !self.inboxes.contains_key(&device) {
            // Past `device.connect`'s timeout, the devices without an inbox were judged absent.
            if !self.scenario.devices.iter().any(|d| d.id == device) || self.late_judged {
                self.stranger(&recorded);
                return;
            }
            self.spawn(&device, recorded.peer.ip(), watch);
        }
        if let Some((_, inbox)) = self.inboxes.get(&device) {
            let _ = inbox.send(recorded);
        }
    }

    fn spawn(&mut self, id: &str, ip: IpAddr, watch: &mut dyn FnMut(&QualifyEvent)) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inboxes.insert(id.to_owned(), (ip, tx));
        self.dropped.remove(&ip);
        let lane = Arc::clone(self.lanes.entry(ip).or_default());
        let device = Device::new(id.to_owned(), ip, rx, Arc::clone(&self.shared));
        let cases = self.to_run.clone();
        let results = self.results_tx.clone();
        watch(&QualifyEvent::DeviceSeen {
            device: id.to_owned(),
            peer: ip,
        });
        self.tasks.spawn(async move {
            let _lane = lane.lock().await;
            run::device(device, &cases, &results).await;
        });
    }

    /// A CONNECT that named no device of the scenario: one failed `device.connect` per
    /// client id, with the bridge's verdict.
    fn stranger(&mut self, recorded: &Recorded) {
        let Event::ConnectAttempt(a) = &recorded.event else {
            return;
        };
        let who = a.device.clone().unwrap_or_else(|| a.client_id.clone());
        let why = match &a.verdict {
            fleetgate_bridge::events::Verdict::Refused { connack, reason } => {
                format!("refused: {reason} (CONNACK {connack})")
            }
            _ => "connected after its cases were judged".to_owned(),
        };
        let label = crate::sanitize::label(&who);
        self.strangers.entry(label.clone()).or_insert_with(|| {
            let mut result = not_run(DeviceCase::Connect, &label, "");
            result.verdict = Verdict::Failed;
            result.message = Some(format!(
                "{label} from {} is not a [[device]] of the scenario; {why}",
                recorded.peer.ip()
            ));
            result
        });
    }

    /// The devices that did not connect by `device.connect`'s timeout: their cases are
    /// judged as not run, and the first of them (`device.connect` unless the scenario skips it)
    /// fails, so that a device that never came fails its qualification.
    fn judge_absent(&mut self) {
        self.late_judged = true;
        let timeout = self.shared.settings(DeviceCase::Connect).timeout;
        for device in &self.scenario.devices {
            if self.inboxes.contains_key(&device.id) {
                continue;
            }
            for (i, case) in self.to_run.iter().enumerate() {
                let mut result = not_run(*case, &device.id, "not run: the device never connected");
                if i == 0 {
                    result.verdict = Verdict::Failed;
                    result.message = Some(format!(
                        "the device did not connect within {}s",
                        timeout.as_secs()
                    ));
                }
                self.finished.push(result);
            }
        }
    }

    /// Every result in scenario device order and case order; cases without a verdict are
    /// skipped (interrupted), then the findings about strangers and unclaimed addresses.
    fn results_in_order(&mut self, interrupted: bool) -> Vec<CaseResult> {
        let why = match interrupted {
            true => "not run: interrupted",
            false => "not run",
        };
        let mut out = Vec::new();
        for device in &self.scenario.devices {
            for case in self.cases {
                let found = self
                    .finished
                    .iter()
                    .position(|r| r.device.as_deref() == Some(device.id.as_str()) && r.id == case.id());
                out.push(match found {
                    Some(i) => self.finished.swap_remove(i),
                    None if !self.inboxes.contains_key(&device.id) => {
                        not_run(*case, &device.id, &format!("{why}: the device never connected"))
                    }
                    None => not_run(*case, &device.id, why),
                });
            }
        }
        out.extend(std::mem::take(&mut self.strangers).into_values());
        let mut addresses: Vec<_> = self.dropped.drain().collect();
        addresses.sort();
        for (ip, reasons) in addresses {
            let mut result = not_run(DeviceCase::Connect, &format!("peer {ip}"), "");
            result.verdict = Verdict::Failed;
            result.message = Some(format!(
                "{} connection(s) from {ip} ended before naming a device: {}",
                reasons.len(),
                crate::sanitize::label(&reasons[0])
            ));
            out.push(result);
        }
        out
    }
}

/// A skipped result of `case` for `device`.
fn not_run(case: DeviceCase, device: &str, why: &str) -> CaseResult {
    CaseResult {
        id: case.id().to_owned(),
        device: Some(device.to_owned()),
        rule: case.rule().to_owned(),
        verdict: Verdict::Skipped,
        duration_secs: 0.0,
        message: Some(why.to_owned()),
        evidence: BTreeMap::new(),
    }
}
