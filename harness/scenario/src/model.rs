//! The compiled scenario: typed, validated, with every default filled in.

use std::time::Duration;

use fleetgate_metrics::GateKey;

use crate::template::IdTemplate;
use crate::units::{Rate, SignedDuration};

/// A validated scenario, ready for the runner.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it was compiled from, as the user named it.
    pub file: String,
    /// `[scenario]`.
    pub name: String,
    /// Seed every random choice derives from.
    pub seed: u64,
    /// Free text from `[scenario] description`.
    pub description: Option<String>,
    /// What is under test.
    pub target: Target,
    /// Project, region and registry.
    pub project: Project,
    /// The embedded bridge's settings.
    pub bridge: EmbeddedBridge,
    /// Devices that live outside fleetgate.
    pub devices: Vec<Device>,
    /// Faults to inject, in time order.
    pub faults: Vec<Fault>,
    /// The virtual device cohorts.
    pub cohorts: Vec<Cohort>,
    /// Ids of the conformance cases selected, in catalogue order.
    pub cases: Vec<String>,
    /// Per-case parameters and expected-outcome overrides (`[cases.params]`, `[cases.expect]`).
    pub case_settings: CaseSettings,
    /// The load phases, in order.
    pub phases: Vec<Phase>,
    /// The gates, in file order; a gate with both bounds gives max, then min.
    pub gates: Vec<Gate>,
    /// `[push]`: authenticated push settings, defaults filled in.
    pub push: PushSettings,
    /// `[baseline]`: how a run is compared with a baseline report; `None` keeps the defaults.
    pub baseline: BaselineSettings,
}

/// `[baseline]`: what a baseline comparison compares and how strictly. Fields left out of the
/// file are `None` (or empty): the comparison's defaults apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BaselineSettings {
    /// Measurement keys or globs compared.
    pub compare: Option<Vec<String>>,
    /// Relative tolerance of latencies and rates, percent.
    pub tolerance_pct: Option<f64>,
    /// Latency changes under this are not regressions.
    pub noise_floor: Option<Duration>,
    /// Whether case verdicts are compared.
    pub cases: Option<bool>,
    /// Tolerances of single measurements or globs, percent, in file order.
    pub tolerances: Vec<(String, f64)>,
}

/// `[push]`: what the push endpoint expects, the pipeline's push hop, push load.
#[derive(Clone, Debug, PartialEq)]
pub struct PushSettings {
    /// The push service account, the `email` of every push token.
    pub service_account: String,
    /// Statuses that count as a refusal in the `push.*` cases.
    pub refusal_statuses: Vec<u16>,
    /// Which push bodies the endpoint is configured for (the subscription's `noWrapper`).
    pub body: PushBody,
    /// Whether the environment subscribes the push endpoint to the telemetry topic.
    pub subscribe: bool,
    /// Where the Google mock listens (port 0: any free port).
    pub google_listen: std::net::SocketAddr,
    /// `[push.load]`, when present.
    pub load: Option<PushLoad>,
}

/// The push bodies an endpoint takes: Pub/Sub's wrapped JSON (its default, and fleetgate's), the
/// unwrapped raw data of a `noWrapper` subscription, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PushBody {
    /// `{"message": {…}, "subscription": …}` only.
    #[default]
    Wrapped,
    /// The raw data, metadata in `x-goog-pubsub-*` headers, only.
    Unwrapped,
    /// Either.
    Both,
}

impl PushBody {
    /// Whether the endpoint takes wrapped bodies.
    pub fn wrapped(self) -> bool {
        matches!(self, Self::Wrapped | Self::Both)
    }

    /// Whether the endpoint takes unwrapped bodies.
    pub fn unwrapped(self) -> bool {
        matches!(self, Self::Unwrapped | Self::Both)
    }
}

/// `[push.load]`: pushes with fresh valid tokens at a fixed rate, with a share of invalid ones.
#[derive(Clone, Debug, PartialEq)]
pub struct PushLoad {
    /// Pushes per second across all users.
    pub rate: Rate,
    /// How long the load runs.
    pub duration: Duration,
    /// Concurrent goose users.
    pub users: u32,
    /// Share of the pushes that are invalid (0: none).
    pub invalid_share: f64,
    /// The invalid pushes, taken in turn.
    pub invalid: Vec<fleetgate_identity::google::mutations::PushMutation>,
}

/// What is under test; everything not named is embedded.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The MQTT bridge.
    pub bridge: BridgeTarget,
    /// Pub/Sub.
    pub pubsub: PubsubTarget,
    /// The most bytes of messages the embedded Pub/Sub stores at once.
    pub pubsub_max_stored: u64,
    /// The push endpoint.
    pub push_endpoint: PushTarget,
    /// The local addresses the virtual devices connect from.
    pub source_addresses: SourceAddresses,
}

/// The local addresses the virtual devices connect from (`[target] source_addresses`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceAddresses {
    /// Spread over 127.0.0.1–127.0.0.16 when the bridge's IPv4 addresses are loopback; otherwise the
    /// kernel's choice.
    Auto,
    /// Device k leaves from address k mod n.
    Listed(Vec<std::net::IpAddr>),
}

/// Where the MQTT bridge is.
#[derive(Clone, Debug, PartialEq)]
pub enum BridgeTarget {
    /// fleetgate's embedded bridge.
    Embedded,
    /// An external bridge.
    External {
        /// Host name or address.
        host: String,
        /// MQTT port.
        port: u16,
        /// CA file, as written (relative to the scenario file).
        ca: Option<String>,
        /// The provider profile to expect.
        profile: Profile,
        /// Whether to use TLS.
        tls: bool,
        /// Devices registered on it that the conformance cases may use.
        devices: Vec<ExternalBridgeDevice>,
    },
}

/// A device registered on an external bridge, with its private key.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalBridgeDevice {
    /// Device id.
    pub id: String,
    /// Private key PEM file, as written (relative to the scenario file).
    pub key: String,
}

/// The outcome a scenario expects of a case instead of the profile's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseExpectation {
    /// The bridge accepts (or the behaviour holds).
    Accept,
    /// The bridge refuses.
    Refuse,
    /// The case is not run.
    Skip,
    /// A bridge case: the bridge refuses with exactly this CONNACK return code (1–5).
    Connack(u8),
    /// A push case: the endpoint answers with this HTTP status.
    Status(HttpStatus),
}

impl CaseExpectation {
    /// Whether the case expects a refusal: `refuse`, a CONNACK code, or an HTTP status outside
    /// 2xx.
    pub fn is_refusal(self) -> bool {
        match self {
            Self::Refuse | Self::Connack(_) => true,
            Self::Status(status) => !status.is_success(),
            Self::Accept | Self::Skip => false,
        }
    }
}

/// An HTTP status a push case expects: one code, or any code of a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpStatus {
    /// Exactly this code (100–599).
    Exact(u16),
    /// Any code of this hundred: `4` is `4xx` (1–5).
    Class(u8),
}

impl HttpStatus {
    /// Whether `status` is this one, or of this class.
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Exact(code) => code == status,
            Self::Class(class) => status / 100 == u16::from(class),
        }
    }

    /// Whether it is a 2xx status (or the 2xx class): an acceptance.
    pub fn is_success(self) -> bool {
        match self {
            Self::Exact(code) => (200..300).contains(&code),
            Self::Class(class) => class == 2,
        }
    }
}

impl std::fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(code) => write!(f, "{code}"),
            Self::Class(class) => write!(f, "{class}xx"),
        }
    }
}

/// Parameters of the cases an id or glob selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaseParams {
    /// How long a probe waits for any one answer.
    pub timeout: Option<Duration>,
    /// How long expiry cases wait on an external bridge.
    pub wait: Option<Duration>,
    /// How many connects device backoff cases refuse or leave unanswered.
    pub count: Option<u32>,
    /// How long `device.long-outage` keeps the listener down.
    pub outage: Option<Duration>,
    /// How long past `exp` a device's refresh still counts (`device.refresh-before-expiry`).
    pub grace: Option<Duration>,
}

/// `[cases.params]` and `[cases.expect]`, in file order; for a case, an exact id wins over a
/// glob, and among globs the last one written wins.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseSettings {
    /// `pattern → parameters`.
    pub params: Vec<(String, CaseParams)>,
    /// `pattern → expected outcome`.
    pub expect: Vec<(String, CaseExpectation)>,
}

impl CaseSettings {
    fn pick<'a, T>(entries: &'a [(String, T)], id: &str) -> Option<&'a T> {
        entries
            .iter()
            .find(|(p, _)| p == id)
            .or_else(|| entries.iter().rev().find(|(p, _)| crate::glob::matches(p, id)))
            .map(|(_, v)| v)
    }

    /// The expectation the scenario sets for `id`, if any.
    pub fn expectation(&self, id: &str) -> Option<CaseExpectation> {
        Self::pick(&self.expect, id).copied()
    }

    /// The parameters of `id`: each one from the most specific pattern that sets it.
    pub fn params(&self, id: &str) -> CaseParams {
        let set = |field: fn(&CaseParams) -> Option<Duration>| {
            let with: Vec<(String, Duration)> = self
                .params
                .iter()
                .filter_map(|(p, v)| field(v).map(|d| (p.clone(), d)))
                .collect();
            Self::pick(&with, id).copied()
        };
        let count = Self::pick(
            &self
                .params
                .iter()
                .filter_map(|(p, v)| v.count.map(|c| (p.clone(), c)))
                .collect::<Vec<_>>(),
            id,
        )
        .copied();
        CaseParams {
            timeout: set(|p| p.timeout),
            wait: set(|p| p.wait),
            count,
            outage: set(|p| p.outage),
            grace: set(|p| p.grace),
        }
    }
}

/// A bridge profile: which answers to expect where the protocol leaves them open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Google Cloud IoT Core as observed.
    Google,
    /// ClearBlade IoT Core as documented.
    ClearBlade,
}

/// Where Pub/Sub is.
#[derive(Clone, Debug, PartialEq)]
pub enum PubsubTarget {
    /// fleetgate's embedded emulator.
    Embedded,
    /// Google's emulator, started in a container.
    Container,
    /// An emulator already running at `host:port`.
    Emulator(String),
}

/// Where pushes go.
#[derive(Clone, Debug, PartialEq)]
pub enum PushTarget {
    /// fleetgate's reference verifier.
    Embedded,
    /// The user's endpoint.
    External {
        /// The URL pushes are sent to.
        url: String,
        /// The `aud` the endpoint expects (the URL when `None`).
        audience: Option<String>,
    },
}

/// `[project]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    /// Project id, the `aud` of device JWTs.
    pub id: String,
    /// Cloud region.
    pub region: String,
    /// Registry id.
    pub registry: String,
    /// Topic id (in this project) telemetry goes to without a matching route.
    pub telemetry_topic: String,
    /// Subfolder routes, first match wins.
    pub routes: Vec<Route>,
    /// Topic id for state notifications.
    pub state_topic: Option<String>,
    /// Registry CA certificate files, as written (relative to the scenario file).
    pub registry_cas: Vec<String>,
}

/// A subfolder route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The subfolder matched exactly.
    pub subfolder: String,
    /// Topic id (in the project).
    pub topic: String,
}

/// The embedded bridge's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedBridge {
    /// The answers it gives where the protocol leaves them open.
    pub profile: Profile,
    /// TLS (true) or plain TCP.
    pub tls: bool,
    /// User-supplied certificate, key and CA files (relative to the scenario file); a CA is
    /// generated per run when `None`.
    pub files: Option<TlsFiles>,
}

/// Certificate, key and CA files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: String,
    /// PEM private key.
    pub key: String,
    /// PEM CA devices trust.
    pub ca: String,
}

/// A device that lives outside fleetgate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// Whether it is a gateway.
    pub gateway: bool,
    /// For a gateway, the devices bound to it.
    pub bound: Vec<String>,
    /// Its credentials.
    pub credentials: Vec<DeviceCredential>,
}

/// A credential file of a `[[device]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCredential {
    /// Its format.
    pub format: KeyFormat,
    /// PEM file, as written (relative to the scenario file).
    pub file: String,
    /// Unix seconds after which it no longer authenticates.
    pub expires: Option<i64>,
}

/// A group of virtual devices.
#[derive(Clone, Debug)]
pub struct Cohort {
    /// Name in reports.
    pub name: String,
    /// Number of devices.
    pub devices: u32,
    /// Device id template.
    pub device_id: IdTemplate,
    /// Algorithm and credential format.
    pub key: KeyChoice,
    /// Clock model.
    pub clock: Clock,
    /// Token policy.
    pub token: TokenPolicy,
    /// Telemetry, if the devices publish any.
    pub telemetry: Option<Telemetry>,
    /// Connect rate; as fast as possible when `None`.
    pub connect_rate: Option<Rate>,
    /// State updates, if the devices send any.
    pub state: Option<StateUpdates>,
    /// Backoff after a refusal or a lost connection.
    pub backoff: Backoff,
    /// Messages kept while offline.
    pub offline_queue: u32,
    /// The fault a share of its devices carries on every connect.
    pub fault: Option<CohortFault>,
    /// What the bridge must do with its devices' connects instead of the natural expectation.
    pub expect: Option<CohortExpectation>,
}

/// A fault from the conformance catalogue that a share of a cohort's devices carries.
#[derive(Clone, Debug, PartialEq)]
pub struct CohortFault {
    /// The catalogue case id, as written (`auth.alg-none`, `key-format.rsa-pkcs1-public`).
    pub id: String,
    /// What it does.
    pub kind: FaultKind,
    /// The share of the cohort's devices that carry it, spread evenly over device indexes.
    pub share: f64,
}

impl CohortFault {
    /// Whether device `index` carries the fault: the devices where the running count of
    /// `share × (index + 1)` steps up.
    pub fn carried_by(&self, index: u64) -> bool {
        let step = |i: u64| (i as f64 * self.share + 1e-9).floor();
        step(index + 1) > step(index)
    }
}

/// What a cohort fault changes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// Every token the device sends is this catalogue mutation.
    Token(fleetgate_identity::jwt::mutations::TokenMutation),
    /// The device's credential is registered as this malformed variant (embedded bridge only).
    Credential(&'static fleetgate_identity::variants::KeyFormatVariant),
}

/// What the bridge must do with a cohort's connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CohortExpectation {
    /// Accept every connect.
    Accept,
    /// Refuse the faulty devices' connects.
    Refuse {
        /// The embedded bridge's reason, when stated.
        reason: Option<String>,
        /// The CONNACK code, when stated.
        connack: Option<u8>,
    },
}

/// A cohort's state updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateUpdates {
    /// Interval between updates.
    pub every: Duration,
    /// Size of each update.
    pub bytes: u64,
}

/// A cohort's backoff.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub min: Duration,
    /// Longest wait.
    pub max: Duration,
    /// Growth per consecutive failure.
    pub multiplier: f64,
}

/// Telemetry payload encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadEncoding {
    /// A JSON object.
    Json,
    /// A compact binary header.
    Binary,
}

/// JWT signing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

/// IoT Core credential formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// SPKI RSA public key.
    RsaPem,
    /// X.509 certificate with an RSA key.
    RsaX509Pem,
    /// SPKI P-256 public key.
    Es256Pem,
    /// X.509 certificate with a P-256 key.
    Es256X509Pem,
}

/// A cohort's key choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyChoice {
    /// Algorithm.
    pub alg: Algorithm,
    /// Registered credential format.
    pub format: KeyFormat,
    /// RSA key size (RS256 only).
    pub rsa_bits: Option<u32>,
}

/// A cohort's clock model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    /// Fixed offset from true time.
    pub skew: SignedDuration,
    /// Drift in parts per million.
    pub drift_ppm: f64,
    /// Where the clock starts: synchronised, or a fixed date it counts on from (a Pi without
    /// a real-time clock and no network time starts in 1970).
    pub start: Option<i64>,
}

/// A cohort's token policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenPolicy {
    /// exp − iat.
    pub lifetime: Duration,
    /// Fraction of the lifetime after which the device refreshes.
    pub refresh_at: f64,
}

/// Open-loop schedule shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// One message every interval.
    Fixed,
    /// Poisson arrivals with the interval as mean.
    Poisson,
}

/// A cohort's telemetry.
#[derive(Clone, Debug, PartialEq)]
pub struct Telemetry {
    /// Mean interval between messages of one device.
    pub every: Duration,
    /// Payload size in bytes.
    pub payload_bytes: u64,
    /// MQTT QoS, 0 or 1.
    pub qos: u8,
    /// Schedule shape.
    pub schedule: Schedule,
    /// Payload encoding.
    pub payload: PayloadEncoding,
    /// Subfolder, if any.
    pub subfolder: Option<String>,
    /// Messages per device, after which it stops; unlimited when `None`.
    pub count: Option<u64>,
}

/// A load phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// Name in reports.
    pub name: String,
    /// Ramp-up time.
    pub ramp: Duration,
    /// Time at full load.
    pub hold: Duration,
    /// Ramp-down time.
    pub ramp_down: Duration,
    /// Connection drops and re-opens per device per minute while up.
    pub churn_per_min: f64,
}

/// Which side of a threshold passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// Passes when the value is at most the threshold.
    Max,
    /// Passes when the value is at least the threshold.
    Min,
}

/// One gate: a bound on a metric, the threshold in the metric's unit (µs for latencies).
#[derive(Clone, Debug)]
pub struct Gate {
    /// The metric (and statistic) gated.
    pub key: GateKey,
    /// Max or min.
    pub bound: Bound,
    /// The threshold in the metric's unit.
    pub threshold: f64,
    /// The threshold as written in the file, for reports.
    pub written: String,
}

/// A scheduled fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// When, from the start of the run.
    pub at: Duration,
    /// What happens.
    pub action: FaultAction,
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Close the device's connection.
    DropConnection {
        /// The device.
        device: String,
    },
    /// Refuse the device's next `count` connects.
    RefuseConnects {
        /// The device.
        device: String,
        /// How many.
        count: u32,
    },
    /// Hold every PUBACK back by `delay`, for `lasting` (until the end when `None`).
    DelayPubacks {
        /// The delay.
        delay: Duration,
        /// How long the fault lasts.
        lasting: Option<Duration>,
    },
    /// Stall forwarding to Pub/Sub for `lasting` (until the end when `None`).
    StallForwarding {
        /// How long the fault lasts.
        lasting: Option<Duration>,
    },
    /// Close every connection and refuse new ones for `down`.
    RestartListener {
        /// How long the listener stays down.
        down: Duration,
    },
}
