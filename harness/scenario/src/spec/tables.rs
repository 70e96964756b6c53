//! The tables of the scenario format, top level first.

use super::{KeySpec, Kind, TableSpec};

const fn key(name: &'static str, kind: Kind, doc: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind,
        required: true,
        default: None,
        doc,
    }
}

const fn opt(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind,
        required: false,
        default: Some(default),
        doc,
    }
}

const fn maybe(name: &'static str, kind: Kind, doc: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind,
        required: false,
        default: None,
        doc,
    }
}

/// Bridge profiles: the answers a bridge gives where docs/protocol.md leaves the rule configurable.
pub const PROFILES: &[&str] = &["google", "clearblade"];
/// JWT algorithms a device may sign with.
pub const ALGORITHMS: &[&str] = &["RS256", "ES256"];
/// IoT Core public-key credential formats.
pub const KEY_FORMATS: &[&str] = &["RSA_PEM", "RSA_X509_PEM", "ES256_PEM", "ES256_X509_PEM"];
/// RSA key sizes a cohort may use.
pub const RSA_BITS: &[i64] = &[1024, 2048, 3072, 4096];
/// Telemetry schedules.
pub const SCHEDULES: &[&str] = &["fixed", "poisson"];
/// Telemetry payload encodings.
pub const PAYLOADS: &[&str] = &["json", "binary"];

/// The whole file.
pub static ROOT: TableSpec = TableSpec {
    title: "the top level",
    doc: "A fleetgate scenario: what is under test, the fleet, the cases, the load and the gates.",
    keys: &[
        key(
            "scenario",
            Kind::Table(&SCENARIO),
            "Name and seed of the scenario.",
        ),
        maybe(
            "target",
            Kind::Table(&TARGET),
            "What is under test; omitted parts are embedded.",
        ),
        maybe(
            "project",
            Kind::Table(&PROJECT),
            "The IoT Core project, region and registry the devices belong to.",
        ),
        maybe(
            "bridge",
            Kind::Table(&BRIDGE),
            "Settings of the embedded bridge (when [target] bridge is embedded).",
        ),
        maybe(
            "cohort",
            Kind::Array(&Kind::Table(&COHORT)),
            "Groups of virtual devices that share a key type, clock, token policy and schedule.",
        ),
        maybe(
            "device",
            Kind::Array(&Kind::Table(&DEVICE)),
            "Devices that live outside fleetgate (real Pis), registered with their public keys.",
        ),
        maybe(
            "fault",
            Kind::Array(&Kind::Table(&FAULT)),
            "Faults the embedded bridge injects, on a schedule from the start of the run.",
        ),
        maybe("cases", Kind::Table(&CASES), "Which conformance cases run."),
        maybe(
            "push",
            Kind::Table(&PUSH),
            "Authenticated push: what the push endpoint expects, the pipeline's push hop, push load.",
        ),
        maybe(
            "phase",
            Kind::Array(&Kind::Table(&PHASE)),
            "Load phases, run in order.",
        ),
        maybe(
            "gates",
            Kind::Map {
                keys: "a metric such as \"publish.puback.p99\" or \"messages.lost\"",
                value: &Kind::Table(&GATE),
            },
            "Thresholds on measured metrics; a run that misses one fails.",
        ),
        maybe(
            "baseline",
            Kind::Table(&BASELINE),
            "How a run is compared with a baseline report (`fleetgate run --baseline`).",
        ),
    ],
};

/// `[baseline]`.
pub static BASELINE: TableSpec = TableSpec {
    title: "[baseline]",
    doc: "How a run is compared with a baseline report (`--baseline`): which measurements, how strictly, and whether case verdicts count.",
    keys: &[
        opt(
            "compare",
            Kind::Array(&Kind::Str),
            "[\"*.p50\", \"*.p99\", \"publish.throughput\", \"push.rate\", \"pipeline.delivered_ratio\", \"messages.lost\", …]",
            "Measurement keys or globs compared (`*` matches any run of characters, `?` one); the default compares medians and 99th percentiles of latencies, throughput, the push rate, the delivery ratio and the loss and error counters, never min or max.",
        ),
        opt(
            "tolerance",
            Kind::Threshold,
            "\"25%\"",
            "How much worse than the baseline a latency or a rate may be, as a percentage (99th percentiles: 50% unless `tolerances` says otherwise); counts and ratios compare exactly.",
        ),
        opt(
            "noise_floor",
            Kind::Duration,
            "\"1ms\"",
            "A latency change smaller than this is never a regression, whatever the percentage.",
        ),
        opt(
            "cases",
            Kind::Bool,
            "true",
            "Compare case verdicts: a case that passed in the baseline and fails now fails the run; new cases are noted.",
        ),
        maybe(
            "tolerances",
            Kind::Map {
                keys: "a measurement key or glob such as \"publish.puback.p99\" or \"messages.*\"",
                value: &Kind::Threshold,
            },
            "Tolerances of single measurements, as percentages; an exact key wins over a glob, and among globs the last written wins.",
        ),
    ],
};

/// `[scenario]`.
pub static SCENARIO: TableSpec = TableSpec {
    title: "[scenario]",
    doc: "Name and seed of the scenario.",
    keys: &[
        key(
            "name",
            Kind::Ident,
            "Names the scenario in reports and in the report folder.",
        ),
        opt(
            "seed",
            Kind::Int {
                min: 0,
                max: i64::MAX,
            },
            "0",
            "Every random choice derives from it, so runs are reproducible.",
        ),
        maybe(
            "description",
            Kind::Str,
            "Free text shown at the top of the report.",
        ),
    ],
};

/// `[target]`.
pub static TARGET: TableSpec = TableSpec {
    title: "[target]",
    doc: "What is under test; omitted parts are embedded.",
    keys: &[
        opt(
            "bridge",
            Kind::OneOf(&[Kind::Enum(&["embedded"]), Kind::Table(&EXTERNAL_BRIDGE)]),
            "\"embedded\"",
            "The MQTT bridge: \"embedded\", or an external bridge.",
        ),
        opt(
            "pubsub",
            Kind::OneOf(&[
                Kind::Enum(&["embedded", "container"]),
                Kind::Table(&EXTERNAL_PUBSUB),
            ]),
            "\"embedded\"",
            "Pub/Sub: \"embedded\", \"container\" (Google's emulator in Docker), or an emulator address.",
        ),
        opt(
            "pubsub_max_stored",
            Kind::Size,
            "\"1GiB\"",
            "Most bytes of messages (data, attributes, ordering keys) the embedded Pub/Sub stores at once; publishes beyond it get RESOURCE_EXHAUSTED. The peak is reported as pubsub.stored_bytes.peak.",
        ),
        opt(
            "push_endpoint",
            Kind::OneOf(&[Kind::Enum(&["embedded"]), Kind::Table(&EXTERNAL_PUSH)]),
            "\"embedded\"",
            "The push endpoint: \"embedded\" (the reference verifier), or your endpoint.",
        ),
        opt(
            "source_addresses",
            Kind::OneOf(&[Kind::Enum(&["auto"]), Kind::Array(&Kind::Str)]),
            "\"auto\"",
            "Local IP addresses the virtual devices connect from, device k from address k mod n; each address has its own ephemeral ports toward the bridge. \"auto\": 127.0.0.1–127.0.0.16 when the bridge is on IPv4 loopback (on Linux), else the kernel's choice.",
        ),
    ],
};

/// `bridge = { … }`.
pub static EXTERNAL_BRIDGE: TableSpec = TableSpec {
    title: "[target.bridge]",
    doc: "An external IoT-Core-style MQTT bridge.",
    keys: &[
        key("host", Kind::Str, "Host name or address of the bridge."),
        key(
            "port",
            Kind::Int { min: 1, max: 65535 },
            "MQTT port, usually 8883.",
        ),
        maybe(
            "ca",
            Kind::Str,
            "PEM file of the CA that signed the bridge's certificate, relative to the scenario file.",
        ),
        opt(
            "profile",
            Kind::Enum(PROFILES),
            "\"google\"",
            "Which provider's answers to expect where the protocol leaves them open.",
        ),
        opt("tls", Kind::Bool, "true", "Connect with TLS (false: plain TCP)."),
        maybe(
            "devices",
            Kind::Array(&Kind::Table(&EXTERNAL_BRIDGE_DEVICE)),
            "Devices registered on the bridge that conformance cases may connect as (cases needing one device use the first, two the first two).",
        ),
    ],
};

/// `devices = [{ … }]` of an external bridge.
pub static EXTERNAL_BRIDGE_DEVICE: TableSpec = TableSpec {
    title: "[target.bridge.devices]",
    doc: "A device registered on the external bridge, with the private key its JWTs are signed with.",
    keys: &[
        key("id", Kind::Str, "Device id, as registered."),
        key(
            "key",
            Kind::Str,
            "Private key PEM file (PKCS#8, or PKCS#1/SEC1), relative to the scenario file.",
        ),
    ],
};

/// `pubsub = { … }`.
pub static EXTERNAL_PUBSUB: TableSpec = TableSpec {
    title: "[target.pubsub]",
    doc: "An external Pub/Sub emulator.",
    keys: &[key(
        "emulator",
        Kind::Str,
        "host:port of the emulator, as PUBSUB_EMULATOR_HOST would name it.",
    )],
};

/// `push_endpoint = { … }`.
pub static EXTERNAL_PUSH: TableSpec = TableSpec {
    title: "[target.push_endpoint]",
    doc: "Your push endpoint.",
    keys: &[
        key(
            "url",
            Kind::Str,
            "The http:// or https:// URL pushes are sent to.",
        ),
        maybe(
            "audience",
            Kind::Str,
            "The `aud` the endpoint expects; the URL when omitted.",
        ),
    ],
};

/// `[project]`.
pub static PROJECT: TableSpec = TableSpec {
    title: "[project]",
    doc: "The IoT Core project, region and registry the devices belong to.",
    keys: &[
        opt(
            "id",
            Kind::Str,
            "\"fleetgate-demo\"",
            "Project id; also the `aud` of every device JWT.",
        ),
        opt("region", Kind::Str, "\"us-central1\"", "Cloud region."),
        opt("registry", Kind::Str, "\"pi-fleet\"", "Device registry id."),
        opt(
            "telemetry_topic",
            Kind::Str,
            "\"telemetry\"",
            "Pub/Sub topic (in this project) that telemetry without a matching route goes to.",
        ),
        maybe(
            "routes",
            Kind::Array(&Kind::Table(&ROUTE)),
            "Up to 10 subfolder routes, first match wins.",
        ),
        maybe(
            "state_topic",
            Kind::Str,
            "Pub/Sub topic for device state notifications.",
        ),
        maybe(
            "registry_cas",
            Kind::Array(&Kind::Str),
            "Up to 10 PEM CA certificate files (relative to the scenario file); with any, device credentials must be certificates they signed.",
        ),
    ],
};

/// A subfolder route of `[project] routes`.
pub static ROUTE: TableSpec = TableSpec {
    title: "[project.routes]",
    doc: "Telemetry published to `/devices/{id}/events/{subfolder}` goes to this topic.",
    keys: &[
        key("subfolder", Kind::Str, "The subfolder to match exactly."),
        key("topic", Kind::Str, "Pub/Sub topic (in this project)."),
    ],
};

/// `[bridge]`.
pub static BRIDGE: TableSpec = TableSpec {
    title: "[bridge]",
    doc: "Settings of the embedded bridge.",
    keys: &[
        opt(
            "profile",
            Kind::Enum(PROFILES),
            "\"google\"",
            "Which provider's answers the embedded bridge gives where the protocol leaves them open.",
        ),
        opt(
            "tls",
            Kind::Bool,
            "true",
            "Serve MQTT over TLS (false: plain TCP).",
        ),
        maybe(
            "cert",
            Kind::Str,
            "PEM certificate chain to serve, relative to the scenario file; a CA is generated per run when omitted.",
        ),
        maybe(
            "key",
            Kind::Str,
            "PEM private key of `cert`, relative to the scenario file.",
        ),
        maybe(
            "ca",
            Kind::Str,
            "PEM CA that devices trust for `cert`, relative to the scenario file.",
        ),
    ],
};

/// `[[device]]`.
pub static DEVICE: TableSpec = TableSpec {
    title: "[[device]]",
    doc: "A device that lives outside fleetgate, such as a real Raspberry Pi.",
    keys: &[
        key("id", Kind::Str, "Device id."),
        opt("gateway", Kind::Bool, "false", "Whether the device is a gateway."),
        maybe(
            "bound",
            Kind::Array(&Kind::Str),
            "For a gateway: the devices bound to it, which it may attach.",
        ),
        key(
            "credentials",
            Kind::Array(&Kind::Table(&DEVICE_CREDENTIAL)),
            "Up to 3 registered public keys or certificates.",
        ),
    ],
};

/// A credential of a `[[device]]`.
pub static DEVICE_CREDENTIAL: TableSpec = TableSpec {
    title: "[[device.credentials]]",
    doc: "A public key or certificate file and its format.",
    keys: &[
        key(
            "format",
            Kind::Enum(KEY_FORMATS),
            "The IoT Core credential format.",
        ),
        key("file", Kind::Str, "PEM file, relative to the scenario file."),
        maybe(
            "expires",
            Kind::Str,
            "RFC 3339 UTC time after which it no longer authenticates.",
        ),
    ],
};

/// `[[cohort]]`.
pub static COHORT: TableSpec = TableSpec {
    title: "[[cohort]]",
    doc: "A group of virtual devices that share a key type, clock, token policy and schedule.",
    keys: &[
        key("name", Kind::Ident, "Names the cohort in reports."),
        key(
            "devices",
            Kind::Int {
                min: 1,
                max: 1_000_000,
            },
            "How many devices the cohort has.",
        ),
        key(
            "device_id",
            Kind::Str,
            "Device id template; must contain {index} or {index:0N} (zero-padded to N digits).",
        ),
        maybe("key", Kind::Table(&KEY), "Key algorithm and credential format."),
        maybe("clock", Kind::Table(&CLOCK), "The devices' clock model."),
        maybe("token", Kind::Table(&TOKEN), "JWT lifetime and refresh policy."),
        maybe(
            "telemetry",
            Kind::Table(&TELEMETRY),
            "What the devices publish and how often.",
        ),
        maybe(
            "connect_rate",
            Kind::Rate,
            "How fast the cohort's devices connect; as fast as possible when omitted.",
        ),
        maybe(
            "state",
            Kind::Table(&STATE),
            "State updates the devices publish to /devices/{id}/state.",
        ),
        maybe(
            "backoff",
            Kind::Table(&BACKOFF),
            "Backoff after a refused connect or a lost connection.",
        ),
        opt(
            "offline_queue",
            Kind::Int {
                min: 0,
                max: 1_000_000,
            },
            "1000",
            "Messages a device keeps while offline; beyond it the oldest are dropped and counted as messages.dropped_by_device.",
        ),
        maybe(
            "fault",
            Kind::Str,
            "A fault every connect of the cohort's faulty devices carries: a token case id of the catalogue (auth.alg-none, clock.exp-past-beyond-skew, …) or a credential one (key-format.rsa-pkcs1-public, …; embedded bridge only). `fleetgate cases` lists them.",
        ),
        opt(
            "fault_share",
            Kind::Float { min: 0.0, max: 1.0 },
            "1",
            "Share of the cohort's devices that carry the fault, spread evenly over device indexes; the others are well-behaved.",
        ),
        maybe(
            "expect",
            Kind::Enum(EXPECTATIONS),
            "What the bridge must do with the faulty devices' connects; when omitted, what a correct bridge of the profile does with each token sent (the natural expectation).",
        ),
        maybe(
            "expect_reason",
            Kind::Ident,
            "With expect = \"refuse\": the embedded bridge's refusal reason (bad-signature, alg-none, expired, no-credentials, …).",
        ),
        maybe(
            "expect_connack",
            Kind::Int { min: 1, max: 5 },
            "With expect = \"refuse\": the CONNACK code of the refusals; the profile's when omitted.",
        ),
    ],
};

/// What a cohort may expect of the bridge.
pub const EXPECTATIONS: &[&str] = &["accept", "refuse"];

/// `state = { … }` of a cohort.
pub static STATE: TableSpec = TableSpec {
    title: "[cohort.state]",
    doc: "State updates of a cohort's devices (QoS 1, at most 1 per second per device by IoT Core's limit).",
    keys: &[
        key("every", Kind::Duration, "Interval between state updates."),
        opt("bytes", Kind::Size, "64", "Size of each state update."),
    ],
};

/// `backoff = { … }` of a cohort.
pub static BACKOFF: TableSpec = TableSpec {
    title: "[cohort.backoff]",
    doc: "Exponential backoff with jitter: the n-th consecutive failure waits up to min × multiplier^(n−1), at most max, of which a random half is jitter.",
    keys: &[
        opt("min", Kind::Duration, "\"1s\"", "Wait after the first failure."),
        opt("max", Kind::Duration, "\"32s\"", "Longest wait."),
        opt(
            "multiplier",
            Kind::Float { min: 1.0, max: 10.0 },
            "2",
            "Growth per consecutive failure.",
        ),
    ],
};

/// `key = { … }` of a cohort.
pub static KEY: TableSpec = TableSpec {
    title: "[cohort.key]",
    doc: "Key algorithm and credential format of a cohort.",
    keys: &[
        opt(
            "alg",
            Kind::Enum(ALGORITHMS),
            "\"ES256\"",
            "JWT signing algorithm.",
        ),
        maybe(
            "format",
            Kind::Enum(KEY_FORMATS),
            "Registered credential format; RSA_X509_PEM for RS256 and ES256_X509_PEM for ES256 when omitted.",
        ),
        maybe(
            "rsa_bits",
            Kind::Int { min: 1024, max: 4096 },
            "RSA key size (1024, 2048, 3072 or 4096); 2048 when omitted. RS256 only.",
        ),
    ],
};

/// `clock = { … }` of a cohort.
pub static CLOCK: TableSpec = TableSpec {
    title: "[cohort.clock]",
    doc: "The clock model of a cohort's devices.",
    keys: &[
        opt(
            "skew",
            Kind::SignedDuration,
            "\"0s\"",
            "Fixed offset of the device clock from true time.",
        ),
        opt(
            "drift_ppm",
            Kind::Float {
                min: -1_000_000.0,
                max: 1_000_000.0,
            },
            "0",
            "Clock drift in parts per million (positive: runs fast).",
        ),
        opt(
            "start",
            Kind::Str,
            "\"synced\"",
            "\"synced\" (true time plus skew and drift), or an RFC 3339 UTC time the clock starts from at the start of the run, such as \"1970-01-01T00:00:00Z\" for a Pi with no real-time clock and no network time.",
        ),
    ],
};

/// `token = { … }` of a cohort.
pub static TOKEN: TableSpec = TableSpec {
    title: "[cohort.token]",
    doc: "JWT lifetime and refresh policy.",
    keys: &[
        opt(
            "lifetime",
            Kind::Duration,
            "\"60m\"",
            "exp − iat of every JWT minted.",
        ),
        opt(
            "refresh_at",
            Kind::Float { min: 0.01, max: 1.0 },
            "0.75",
            "Fraction of the lifetime after which the device reconnects with a new JWT.",
        ),
    ],
};

/// `telemetry = { … }` of a cohort.
pub static TELEMETRY: TableSpec = TableSpec {
    title: "[cohort.telemetry]",
    doc: "What a cohort's devices publish and how often.",
    keys: &[
        key(
            "every",
            Kind::Duration,
            "Mean interval between messages of one device.",
        ),
        opt(
            "payload_bytes",
            Kind::Size,
            "200",
            "Payload size (at least 64 bytes: device id, sequence number and intended time).",
        ),
        opt(
            "qos",
            Kind::Int { min: 0, max: 1 },
            "1",
            "MQTT QoS (IoT Core accepts 0 and 1).",
        ),
        opt(
            "schedule",
            Kind::Enum(SCHEDULES),
            "\"fixed\"",
            "Open-loop schedule: a fixed interval, or Poisson arrivals with that mean.",
        ),
        opt(
            "payload",
            Kind::Enum(PAYLOADS),
            "\"json\"",
            "Payload encoding; both carry the device id, sequence number and intended send time.",
        ),
        maybe(
            "subfolder",
            Kind::Str,
            "Publish to /devices/{id}/events/{subfolder} instead of /devices/{id}/events.",
        ),
        maybe(
            "count",
            Kind::Int {
                min: 1,
                max: 1_000_000_000,
            },
            "Messages per device; once all are acknowledged the device disconnects and the run can end before the phases do.",
        ),
    ],
};

/// Fault kinds.
pub const FAULT_KINDS: &[&str] = &[
    "drop-connection",
    "refuse-connects",
    "delay-pubacks",
    "stall-forwarding",
    "restart-listener",
];

/// `[[fault]]`.
pub static FAULT: TableSpec = TableSpec {
    title: "[[fault]]",
    doc: "A fault the embedded bridge injects.",
    keys: &[
        key("at", Kind::Duration, "When, from the start of the run."),
        key("kind", Kind::Enum(FAULT_KINDS), "What happens."),
        maybe(
            "device",
            Kind::Str,
            "The device (drop-connection, refuse-connects).",
        ),
        opt(
            "count",
            Kind::Int {
                min: 1,
                max: 1_000_000,
            },
            "1",
            "How many connects to refuse (refuse-connects).",
        ),
        maybe(
            "delay",
            Kind::Duration,
            "How long each PUBACK is held back (delay-pubacks).",
        ),
        maybe(
            "for",
            Kind::Duration,
            "How long the fault lasts (delay-pubacks, stall-forwarding: until the end when omitted; restart-listener: required).",
        ),
    ],
};

/// `[cases]`.
pub static CASES: TableSpec = TableSpec {
    title: "[cases]",
    doc: "Which conformance cases run, by id or glob (`*` matches any run of characters).",
    keys: &[
        opt(
            "include",
            Kind::Array(&Kind::Str),
            "[]",
            "Case ids or globs to run, such as \"auth.*\".",
        ),
        opt(
            "exclude",
            Kind::Array(&Kind::Str),
            "[]",
            "Case ids or globs to leave out of what include selected.",
        ),
        maybe(
            "expect",
            Kind::Map {
                keys: "a case id or glob",
                value: &Kind::OneOf(&[Kind::Enum(CASE_EXPECTATIONS), Kind::Table(&CASE_ANSWER)]),
            },
            "Expected outcomes that replace the profile's, for deliberate differences of a bridge or push endpoint: \"accept\", \"refuse\", \"skip\", or the exact answer: { connack = 4 } (bridge cases), { status = 403 } or { status = \"4xx\" } (push cases). A device.* case takes \"skip\" only: it judges the device, not a bridge.",
        ),
        maybe(
            "params",
            Kind::Map {
                keys: "a case id or glob",
                value: &Kind::Table(&CASE_PARAMS),
            },
            "Parameters of the cases an id or glob selects.",
        ),
    ],
};

/// Expected outcomes a scenario may set for a case.
pub const CASE_EXPECTATIONS: &[&str] = &["accept", "refuse", "skip"];

/// `body` of `[push]`.
pub const PUSH_BODIES: &[&str] = &["wrapped", "unwrapped", "both"];

/// A `[cases.expect]` value written as a table: the exact answer a case expects.
pub static CASE_ANSWER: TableSpec = TableSpec {
    title: "[cases.expect] answer",
    doc: "The exact answer a case expects instead of the profile's: a CONNACK code for a bridge case, an HTTP status for a push case.",
    keys: &[
        maybe(
            "connack",
            Kind::Int { min: 1, max: 5 },
            "A bridge case: the bridge refuses with exactly this CONNACK return code (1–5); a close without CONNACK, or another code, fails.",
        ),
        maybe(
            "status",
            Kind::OneOf(&[Kind::Int { min: 100, max: 599 }, Kind::Str]),
            "A push case: the endpoint answers with exactly this HTTP status (100–599), or with any status of a class such as \"4xx\"; a 2xx status or class expects an acknowledgement.",
        ),
    ],
};

/// `[cases.params."…"]`.
pub static CASE_PARAMS: TableSpec = TableSpec {
    title: "[cases.params]",
    doc: "Parameters of the conformance cases an id or glob selects.",
    keys: &[
        opt(
            "timeout",
            Kind::Duration,
            "\"5s\"",
            "Bridge cases: how long a probe waits for any one answer of the bridge. Device cases: how long the case waits for the device to act (60s; device.connect 10m, backoff cases 3m, device.long-outage 90s after the listener is back).",
        ),
        opt(
            "wait",
            Kind::Duration,
            "\"10s\"",
            "External bridges: how long after connecting an expiry case's token reaches exp + skew.",
        ),
        opt(
            "count",
            Kind::Int { min: 3, max: 10 },
            "4",
            "Device backoff cases: how many connects are refused (device.backoff-refused, 4) or left unanswered (device.backoff-no-connack, 3).",
        ),
        opt(
            "outage",
            Kind::Duration,
            "\"60s\"",
            "device.long-outage: how long the listener is down for the device.",
        ),
        opt(
            "grace",
            Kind::Duration,
            "\"10m\"",
            "device.refresh-before-expiry: how long past exp a refresh still counts (the skew by default).",
        ),
    ],
};

/// `[push]`.
pub static PUSH: TableSpec = TableSpec {
    title: "[push]",
    doc: "Authenticated push (docs/protocol.md §6): what the push endpoint expects, the pipeline's push hop, push load.",
    keys: &[
        maybe(
            "service_account",
            Kind::Str,
            "The push service account, the `email` every push token carries; `fleetgate-push@<project id>.iam.gserviceaccount.com` when omitted.",
        ),
        opt(
            "refusal_statuses",
            Kind::Array(&Kind::Int { min: 100, max: 599 }),
            "[401, 403]",
            "The HTTP statuses that count as a refusal in the push.* cases (acceptance is any 2xx, so no 2xx here).",
        ),
        opt(
            "body",
            Kind::Enum(PUSH_BODIES),
            "\"wrapped\"",
            "The push bodies the endpoint is configured for: \"wrapped\" (Pub/Sub's default: JSON with the message and subscription), \"unwrapped\" (a noWrapper subscription: the raw data, metadata in x-goog-pubsub-* headers) or \"both\". The push.* cases send bodies of that form; push.unwrapped-body runs only with \"unwrapped\" or \"both\".",
        ),
        opt(
            "subscribe",
            Kind::Bool,
            "false",
            "Create an authenticated push subscription on the telemetry topic to the push endpoint (the pipeline's last hop); needs the embedded Pub/Sub.",
        ),
        opt(
            "google_listen",
            Kind::Str,
            "\"127.0.0.1:0\"",
            "Address of the Google mock (JWKS, PEM certificates, OpenID configuration); fix a port so that your endpoint can be configured to trust it before the run.",
        ),
        maybe(
            "load",
            Kind::Table(&PUSH_LOAD),
            "Push load: fresh valid pushes at a fixed rate against the push endpoint.",
        ),
    ],
};

/// `[push.load]`.
pub static PUSH_LOAD: TableSpec = TableSpec {
    title: "[push.load]",
    doc: "Push load (goose): authenticated pushes with fresh valid tokens at a fixed rate, optionally mixed with invalid ones; measures `push.request`, `push.errors` and `push.invalid.*`.",
    keys: &[
        key(
            "rate",
            Kind::Rate,
            "Pushes per second across all users, such as \"200/s\" (goose's request throttle).",
        ),
        key("duration", Kind::Duration, "How long the load runs."),
        opt(
            "users",
            Kind::Int { min: 1, max: 10_000 },
            "8",
            "Concurrent goose users (each sends one push at a time, so the rate needs rate × latency users at least).",
        ),
        opt(
            "invalid_share",
            Kind::Float { min: 0.0, max: 1.0 },
            "0",
            "Share of the pushes that carry an invalid token, which the endpoint must refuse (counted as push.invalid.refused / push.invalid.accepted, apart from push.request and push.errors).",
        ),
        maybe(
            "invalid",
            Kind::Array(&Kind::Str),
            "The invalid pushes, taken in turn: push.* case ids with a refused token (push.expired, push.wrong-aud, push.alg-none, …); every such case when omitted.",
        ),
    ],
};

/// `[[phase]]`.
pub static PHASE: TableSpec = TableSpec {
    title: "[[phase]]",
    doc: "A load phase: every cohort ramps up, holds, and ramps down.",
    keys: &[
        key("name", Kind::Ident, "Names the phase in reports."),
        opt("ramp", Kind::Duration, "\"0s\"", "Time to bring all devices up."),
        key("hold", Kind::Duration, "Time at full load."),
        opt(
            "ramp_down",
            Kind::Duration,
            "\"0s\"",
            "Time to take all devices down.",
        ),
        opt(
            "churn",
            Kind::Float { min: 0.0, max: 60.0 },
            "0",
            "Connection drops and re-opens per device per minute while up (0: none).",
        ),
    ],
};

/// A gate: `"publish.puback.p99" = { max = "50ms" }`.
pub static GATE: TableSpec = TableSpec {
    title: "[gates]",
    doc: "A threshold on one metric.",
    keys: &[
        maybe(
            "max",
            Kind::Threshold,
            "Largest passing value: a duration for latencies, a number for counts, a ratio or percentage for ratios.",
        ),
        maybe(
            "min",
            Kind::Threshold,
            "Smallest passing value: a duration for latencies, a number for counts, a ratio or percentage for ratios.",
        ),
    ],
};
