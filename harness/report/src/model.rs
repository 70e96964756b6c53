//! The report model: everything a run produced, in one serialisable value.
//!
//! The JSON form of [`ReportData`] is stable: fields are only added in a compatible way, and a
//! change that is not compatible raises [`SCHEMA_VERSION`]. `fleetgate schema --report` prints
//! its JSON schema.

use std::collections::BTreeMap;

use fleetgate_metrics::MetricSet;
use fleetgate_metrics::{Better, Unit};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::baseline::{BaselinePolicy, CaseComparison};
pub use crate::timeline::{IntervalLatency, TimelineSample};

/// The version of the report's JSON form.
pub const SCHEMA_VERSION: u32 = 1;

/// One run's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportData {
    /// Version of this JSON form ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The tool that wrote the report.
    pub tool: Tool,
    /// The scenario that was run.
    pub scenario: ScenarioInfo,
    /// When the run happened.
    pub run: RunInfo,
    /// Passed when no case, gate or baseline comparison failed; aborted when the run was
    /// interrupted; error when its environment could not start or its target was unreachable.
    pub outcome: Outcome,
    /// Why the run could not go on, when its outcome is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Conformance cases, in catalogue order.
    pub cases: Vec<CaseResult>,
    /// Load phases, in order.
    pub phases: Vec<PhaseResult>,
    /// Measured values by key (`publish.puback.p99`, `messages.lost`, …).
    pub measurements: BTreeMap<String, Measurement>,
    /// The raw measurements (HDR histograms and counters), so that reports of several shards
    /// can be merged without loss; absent when the run measured nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricSet>,
    /// Gates, in scenario order.
    pub gates: Vec<GateResult>,
    /// The comparison with a baseline report, when one was given.
    pub baseline: Option<BaselineResult>,
    /// Things the reader should know that are not failures.
    pub notes: Vec<String>,
    /// The load over time, one sample per interval of the virtual fleet (about a second).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineSample>,
    /// What was observed of each real device (hardware-in-loop: `serve`, `qualify`, and
    /// `run --listen`), by device id; virtual devices are not listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSummary>,
    /// The virtual fleet's cohorts: what the bridge did with their connects against what was
    /// expected (faulty cohorts refused, well-behaved ones accepted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cohorts: Vec<CohortResult>,
    /// The slice of the fleet this run held (`fleetgate run --shard I/N`); absent unsharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The shard reports this report merges (`fleetgate report merge`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeInfo>,
}

/// Which slice of the fleet a shard's run held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShardInfo {
    /// This shard, from 0 to `count - 1`.
    pub index: u32,
    /// How many shards the fleet was cut into.
    pub count: u32,
}

/// The shard reports a merged report joins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MergeInfo {
    /// How many shards the fleet was cut into.
    pub count: u32,
    /// The shards merged, in order.
    pub shards: Vec<u32>,
    /// The shards missing from the merge (only with `--partial`).
    pub missing: Vec<u32>,
    /// The report files merged, as named on the command line.
    pub files: Vec<String>,
}

/// One cohort of the virtual fleet: its connects against what the bridge should have done.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CohortResult {
    /// Cohort name.
    pub name: String,
    /// Its devices.
    pub devices: u64,
    /// The fault its faulty devices carry (`auth.alg-none`, `key-format.rsa-1024`, …).
    pub fault: Option<String>,
    /// Devices that carry the fault.
    pub faulty: u64,
    /// What was expected, in words.
    pub expectation: String,
    /// Failed when any device's connects differed from the expectation.
    pub verdict: Verdict,
    /// Connects attempted.
    pub attempts: u64,
    /// Connects accepted.
    pub accepted: u64,
    /// Connects refused, by CONNACK code.
    pub refused_by_connack: BTreeMap<String, u64>,
    /// Connects refused, by the embedded bridge's reason (empty for an external bridge).
    pub refused_by_reason: BTreeMap<String, u64>,
    /// Connects that ended without a CONNACK.
    pub dropped: u64,
    /// Connects too close to a clock boundary to judge.
    pub unjudged: u64,
    /// Devices whose outcome differed from the expectation.
    pub differing_devices: u64,
    /// The first of them, with what differed.
    pub differing: Vec<DeviceDifference>,
    /// How registration went, for credential faults.
    pub notes: Vec<String>,
}

/// A device whose connects differed from what was expected of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceDifference {
    /// Device id.
    pub device: String,
    /// What differed.
    pub what: String,
}

/// The tool that wrote the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// Always `fleetgate`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The scenario that was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioInfo {
    /// `[scenario] name`.
    pub name: String,
    /// The scenario file, as named on the command line.
    pub file: String,
    /// `[scenario] seed`.
    pub seed: u64,
    /// `[scenario] description`.
    pub description: Option<String>,
}

/// When the run happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    pub finished_at: String,
    /// Wall time in seconds.
    pub duration_secs: f64,
}

/// The outcome of the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing failed.
    Passed,
    /// A case, gate or baseline comparison failed.
    Failed,
    /// The run was interrupted (Ctrl-C, SIGTERM); the report holds what was measured so far.
    Aborted,
    /// The environment could not start or the target could not be reached; nothing was judged.
    Error,
}

/// The verdict on one case, phase, gate or comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It held.
    #[default]
    Passed,
    /// It did not hold.
    Failed,
    /// It was not run; the message says why.
    Skipped,
    /// It ran, but its verdict would mean nothing: a precondition failed (for a refusal case,
    /// the control case: the bridge or endpoint refused a valid token too). The message names
    /// the precondition. Counts against the run like a failure.
    NotJudged,
}

impl Verdict {
    /// The verdict as one lower-case word or phrase: `passed`, `failed`, `skipped`,
    /// `not judged`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::NotJudged => "not judged",
        }
    }

    /// Whether it makes the run fail: failed, or not judged.
    pub fn fails_run(self) -> bool {
        matches!(self, Self::Failed | Self::NotJudged)
    }
}

/// One conformance case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    /// The case id, such as `auth.aud-mismatch`.
    pub id: String,
    /// The device the case judged (device-side cases, `device.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The protocol rule it checks.
    pub rule: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Wall time in seconds.
    pub duration_secs: f64,
    /// Why it failed or was skipped.
    pub message: Option<String>,
    /// What was observed: CONNACK codes, disconnect causes, timings, messages found.
    pub evidence: BTreeMap<String, String>,
}

impl CaseResult {
    /// The case's name in reports: its id, with the device it judged in brackets.
    pub fn name(&self) -> String {
        match &self.device {
            Some(device) => format!("{} [{device}]", self.id),
            None => self.id.clone(),
        }
    }
}

/// One load phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseResult {
    /// `[[phase]] name`.
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Wall time in seconds.
    pub duration_secs: f64,
    /// Why it failed or was skipped.
    pub message: Option<String>,
}

/// One measured value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Measurement {
    /// The value, in `unit`.
    pub value: f64,
    /// Its unit.
    pub unit: Unit,
    /// Which direction is an improvement.
    pub better: Better,
}

/// Which side of a threshold passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Passes at or below the threshold.
    Max,
    /// Passes at or above the threshold.
    Min,
}

/// A gate as the scenario declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateSpec {
    /// The measurement key gated.
    pub metric: String,
    /// Max or min.
    pub bound: Bound,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// The threshold as written in the scenario.
    pub written: String,
    /// The unit of threshold and measurement.
    pub unit: Unit,
}

/// One gate's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateResult {
    /// The gate.
    #[serde(flatten)]
    pub gate: GateSpec,
    /// What was measured, if anything.
    pub observed: Option<f64>,
    /// Its verdict.
    pub verdict: Verdict,
    /// One line a person can read.
    pub message: String,
}

/// The comparison with a baseline report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BaselineResult {
    /// The baseline file, as named on the command line.
    pub file: String,
    /// The scenario the baseline ran.
    pub scenario: String,
    /// How much worse than the baseline a value may be, in percent, unless a comparison
    /// names its own tolerance.
    pub tolerance_pct: f64,
    /// Latency changes smaller than this, in µs, are never regressions.
    #[serde(default)]
    pub noise_floor_us: f64,
    /// One comparison per measurement compared.
    pub comparisons: Vec<Comparison>,
    /// Case verdicts compared with the baseline's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<CaseComparison>,
    /// What the comparison could not judge: cases new in this run or gone from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One measurement compared with the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Comparison {
    /// The measurement key.
    pub metric: String,
    /// Its unit.
    pub unit: Unit,
    /// The baseline's value.
    pub baseline: f64,
    /// This run's value, if it measured one.
    pub observed: Option<f64>,
    /// Change relative to the baseline in percent (positive: larger), when defined.
    pub change_pct: Option<f64>,
    /// The tolerance this comparison used, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_pct: Option<f64>,
    /// Its verdict.
    pub verdict: Verdict,
}

/// What was observed of one real device: connections, tokens, clock, messages and keep-alive,
/// for a person qualifying or debugging a device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceSummary {
    /// The device id.
    pub id: String,
    /// The addresses it connected from.
    pub peers: Vec<String>,
    /// RFC 3339 UTC time of its first and last event.
    pub first_seen: Option<String>,
    /// RFC 3339 UTC time of its last event.
    pub last_seen: Option<String>,
    /// CONNECTs accepted.
    pub connects_accepted: u64,
    /// CONNECTs refused, by the bridge's reason (`jwt-expired`, `fault-injected`, …).
    pub connects_refused: BTreeMap<String, u64>,
    /// CONNECTs left unanswered by an injected fault.
    pub connects_unanswered: u64,
    /// Connections closed, by cause (`client-disconnect`, `token-expired`, `keep-alive`, …).
    pub disconnects: BTreeMap<String, u64>,
    /// The JWT `alg` of the last CONNECT.
    pub alg: Option<String>,
    /// The JWT `aud` of the last CONNECT.
    pub aud: Option<String>,
    /// `exp − iat` of the last token, seconds.
    pub token_lifetime_s: Option<i64>,
    /// The device clock's offset from the bridge's (`iat` − bridge time at CONNECT), seconds:
    /// smallest, largest and last.
    pub clock_offset_s: Option<Spread>,
    /// Distinct tokens presented.
    pub tokens: u64,
    /// When each new token was first presented, RFC 3339 UTC (the first 50).
    pub token_times: Vec<String>,
    /// Seconds from a disconnect to the next CONNECT: smallest, largest and last.
    pub reconnect_interval_s: Option<Spread>,
    /// The keep-alive of the last CONNECT, seconds.
    pub keep_alive_s: Option<u16>,
    /// PINGREQs sent.
    pub pings: u64,
    /// Telemetry PUBLISHes (including re-sends).
    pub telemetry_published: u64,
    /// Telemetry PUBACKs the bridge sent.
    pub telemetry_acknowledged: u64,
    /// Telemetry Pub/Sub accepted.
    pub delivered_to_pubsub: u64,
    /// Telemetry Pub/Sub refused.
    pub pubsub_refused: u64,
    /// State PUBLISHes.
    pub state_published: u64,
    /// Config PUBLISHes sent to the device.
    pub configs_sent: u64,
    /// Config PUBLISHes the device acknowledged.
    pub configs_acknowledged: u64,
    /// Commands sent to the device.
    pub commands_sent: u64,
    /// QoS 1 commands the device acknowledged.
    pub commands_acknowledged: u64,
    /// PUBLISHes on topics that are not the device's own.
    pub foreign_publishes: u64,
}

/// Smallest, largest and last of a series of observations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Last.
    pub last: f64,
    /// How many.
    pub count: u64,
}

impl Spread {
    /// A spread of one observation.
    pub fn of(value: f64) -> Self {
        Self {
            min: value,
            max: value,
            last: value,
            count: 1,
        }
    }

    /// Adds an observation.
    pub fn add(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.last = value;
        self.count += 1;
    }
}
