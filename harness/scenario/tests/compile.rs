//! The compile step on whole files: every key of the format read into the model, and several
//! mistakes in one file all reported at once.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on broken fixtures

use std::time::Duration;

use fleetgate_scenario::model::{
    Algorithm, Bound, BridgeTarget, CaseExpectation, CaseParams, ExternalBridgeDevice, HttpStatus, KeyFormat,
    Profile, PubsubTarget, PushBody, PushTarget, Route, Schedule, SourceAddresses,
};
use fleetgate_scenario::{Severity, SourceFile, compile};

const CATALOGUE: &[&str] = &[
    "auth.aud-mismatch",
    "auth.alg-none",
    "clock.iat-future",
    "topic.other-device",
];

const FULL: &str = r#"
[scenario]
name = "full"
seed = 42
description = "every key"

[target]
bridge = { host = "bridge.local", port = 8883, ca = "fixtures/tls/ca.pem", profile = "clearblade", devices = [{ id = "conf-1", key = "keys/conf-1.pem" }] }
pubsub = { emulator = "127.0.0.1:8085" }
push_endpoint = { url = "http://127.0.0.1:8080/push", audience = "https://example.com" }
source_addresses = ["10.0.0.5", "fd00::5"]

[project]
id = "demo-project"
region = "europe-west1"
registry = "pi-fleet"
telemetry_topic = "fleet-telemetry"
routes = [{ subfolder = "alerts", topic = "fleet-alerts" }]
state_topic = "fleet-state"
registry_cas = ["tls/registry-ca.pem"]

[bridge]
profile = "clearblade"
tls = true
cert = "tls/server.pem"
key = "tls/server.key"
ca = "tls/ca.pem"

[[device]]
id = "real-pi-1"
gateway = true
bound = ["pi-7"]
credentials = [
  { format = "RSA_X509_PEM", file = "keys/real-pi-1.crt" },
  { format = "ES256_PEM", file = "keys/real-pi-1-ec.pub", expires = "2027-01-31T00:00:00Z" },
]

[[cohort]]
name = "rsa"
devices = 3
device_id = "rsa-{index:03}"
key = { alg = "RS256", format = "RSA_PEM", rsa_bits = 3072 }
clock = { skew = "-90s", drift_ppm = -12.5 }
token = { lifetime = "20m", refresh_at = 0.5 }
telemetry = { every = "250ms", payload_bytes = "1KiB", qos = 0, schedule = "poisson" }
connect_rate = "30/m"

[[cohort]]
name = "ec"
devices = 1
device_id = "ec-{index}"

[cases]
include = ["auth.*", "clock.iat-future"]
exclude = ["auth.alg-none"]
expect = { "auth.*" = "refuse", "auth.aud-mismatch" = "skip" }

[cases.params."auth.*"]
timeout = "2s"

[cases.params."auth.aud-mismatch"]
wait = "30s"

[[phase]]
name = "ramp-and-hold"
ramp = "5s"
hold = "1m"
ramp_down = "2s"

[gates]
"publish.puback.p99" = { max = "50ms" }
"pipeline.delivered_ratio" = { min = "99.9%" }
"messages.lost" = { max = 0 }
"publish.throughput" = { min = "100/s", max = 1e6 }
"#;

#[test]
fn every_key_of_the_format_reaches_the_model() {
    let compiled = compile(&SourceFile::new("full.toml", FULL), CATALOGUE);
    assert_eq!(compiled.errors().count(), 0, "{:#?}", compiled.diagnostics);
    let s = compiled.scenario.unwrap();
    assert_eq!(
        (s.name.as_str(), s.seed, s.description.as_deref()),
        ("full", 42, Some("every key"))
    );
    assert_eq!(
        s.target.bridge,
        BridgeTarget::External {
            host: "bridge.local".into(),
            port: 8883,
            ca: Some("fixtures/tls/ca.pem".into()),
            profile: Profile::ClearBlade,
            tls: true,
            devices: vec![ExternalBridgeDevice {
                id: "conf-1".into(),
                key: "keys/conf-1.pem".into()
            }],
        }
    );
    assert_eq!(s.target.pubsub, PubsubTarget::Emulator("127.0.0.1:8085".into()));
    assert_eq!(
        s.target.source_addresses,
        SourceAddresses::Listed(vec!["10.0.0.5".parse().unwrap(), "fd00::5".parse().unwrap()])
    );
    assert!(
        matches!(s.target.push_endpoint, PushTarget::External { ref audience, .. } if audience.as_deref() == Some("https://example.com"))
    );
    assert_eq!(
        (s.project.region.as_str(), s.project.registry.as_str()),
        ("europe-west1", "pi-fleet")
    );
    assert_eq!(s.project.telemetry_topic, "fleet-telemetry");
    assert_eq!(
        s.project.routes,
        [Route {
            subfolder: "alerts".into(),
            topic: "fleet-alerts".into()
        }]
    );
    assert_eq!(s.project.state_topic.as_deref(), Some("fleet-state"));
    assert_eq!(s.bridge.profile, Profile::ClearBlade);
    assert_eq!(s.bridge.files.as_ref().map(|f| f.ca.as_str()), Some("tls/ca.pem"));
    let device = &s.devices[0];
    assert!(device.gateway);
    assert_eq!(device.bound, ["pi-7"]);
    assert_eq!(s.project.registry_cas, ["tls/registry-ca.pem"]);
    assert_eq!(device.credentials[0].format, KeyFormat::RsaX509Pem);
    assert_eq!(device.credentials[1].expires, Some(1_801_353_600));

    let rsa = &s.cohorts[0];
    assert_eq!((rsa.devices, rsa.device_id.render(2)), (3, "rsa-002".to_owned()));
    assert_eq!(
        (rsa.key.alg, rsa.key.format, rsa.key.rsa_bits),
        (Algorithm::Rs256, KeyFormat::RsaPem, Some(3072))
    );
    assert_eq!(rsa.clock.skew.as_secs_f64(), -90.0);
    assert_eq!(rsa.clock.drift_ppm, -12.5);
    assert_eq!(
        (rsa.token.lifetime, rsa.token.refresh_at),
        (Duration::from_secs(1200), 0.5)
    );
    let telemetry = rsa.telemetry.clone().unwrap();
    assert_eq!(
        (
            telemetry.every,
            telemetry.payload_bytes,
            telemetry.qos,
            telemetry.schedule
        ),
        (Duration::from_millis(250), 1024, 0, Schedule::Poisson)
    );
    assert_eq!(rsa.connect_rate.unwrap().per_second(), 0.5);

    let ec = &s.cohorts[1];
    assert_eq!(
        (ec.key.alg, ec.key.format),
        (Algorithm::Es256, KeyFormat::Es256X509Pem),
        "defaults"
    );
    assert_eq!(
        (ec.token.lifetime, ec.token.refresh_at),
        (Duration::from_secs(3600), 0.75),
        "defaults"
    );
    assert!(ec.telemetry.is_none() && ec.connect_rate.is_none());

    assert_eq!(s.cases, ["auth.aud-mismatch", "clock.iat-future"]);
    let settings = &s.case_settings;
    assert_eq!(
        settings.expectation("auth.aud-mismatch"),
        Some(CaseExpectation::Skip),
        "an exact id wins"
    );
    assert_eq!(
        settings.expectation("auth.alg-none"),
        Some(CaseExpectation::Refuse)
    );
    assert_eq!(settings.expectation("clock.iat-future"), None);
    assert_eq!(
        settings.params("auth.aud-mismatch"),
        CaseParams {
            timeout: Some(Duration::from_secs(2)),
            wait: Some(Duration::from_secs(30)),
            count: None,
            outage: None,
            grace: None,
        },
        "each parameter from the most specific pattern that sets it"
    );
    assert_eq!(s.phases[0].hold, Duration::from_secs(60));
    assert_eq!(s.phases[0].ramp_down, Duration::from_secs(2));

    // Per metric, max comes before min; thresholds are compared to 9 significant digits.
    let gates: Vec<(String, Bound, f64)> = s
        .gates
        .iter()
        .map(|g| (g.key.to_string(), g.bound, (g.threshold * 1e9).round() / 1e9))
        .collect();
    assert_eq!(
        gates,
        [
            ("publish.puback.p99".to_owned(), Bound::Max, 50_000.0),
            ("pipeline.delivered_ratio".to_owned(), Bound::Min, 0.999),
            ("messages.lost".to_owned(), Bound::Max, 0.0),
            ("publish.throughput".to_owned(), Bound::Max, 1e6),
            ("publish.throughput".to_owned(), Bound::Min, 100.0),
        ]
    );
}

#[test]
fn every_mistake_in_a_file_is_reported_at_once_in_file_order() {
    let text = r#"
[scenario]
name = "many"
colour = "blue"

[[cohort]]
name = "a"
devices = 0
device_id = "pi"
telemetry = { every = "soon", qos = 2 }

[[cohort]]
name = "a"
devices = "ten"
device_id = "pi-{index}"

[gates]
"publish.latency.p99" = { max = "50ms" }
"#;
    let compiled = compile(&SourceFile::new("many.toml", text), CATALOGUE);
    assert!(compiled.scenario.is_none());
    let paths: Vec<&str> = compiled.errors().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "scenario.colour",
            "cohort[0].devices",
            "cohort[0].device_id",
            "cohort[0].telemetry.every",
            "cohort[0].telemetry.qos",
            "cohort[1].name",
            "cohort[1].devices",
            "gates.\"publish.latency.p99\"",
        ],
        "{:#?}",
        compiled.diagnostics
    );
    let lines: Vec<usize> = compiled
        .errors()
        .map(|d| SourceFile::new("", text).line_col(d.span.start).0)
        .collect();
    assert_eq!(lines, [4, 8, 9, 10, 10, 13, 14, 18]);
    assert!(
        compiled.errors().all(|d| d.help.is_some()),
        "every error says what is accepted"
    );
}

#[test]
fn duplicate_names_are_found_even_when_the_second_cohort_is_otherwise_broken() {
    let text = "[scenario]\nname = \"d\"\n[[cohort]]\nname = \"a\"\ndevices = 1\ndevice_id = \"a-{index}\"\n[[cohort]]\nname = \"a\"\ndevices = 1\ndevice_id = \"b-{index}\"\n";
    let compiled = compile(&SourceFile::new("d.toml", text), &[]);
    let messages: Vec<&str> = compiled.errors().map(|d| d.message.as_str()).collect();
    assert_eq!(messages, ["cohort name `a` is used twice (first by cohort #0)"]);
}

#[test]
fn warnings_do_not_stop_a_scenario_from_compiling() {
    let text = "[scenario]\nname = \"w\"\n[[cohort]]\nname = \"a\"\ndevices = 1\ndevice_id = \"a-{index}\"\ntoken = { lifetime = \"25h\" }\n";
    let compiled = compile(&SourceFile::new("w.toml", text), &[]);
    assert!(compiled.scenario.is_some());
    let warnings: Vec<&str> = compiled.warnings().map(|d| d.path.as_str()).collect();
    assert_eq!(warnings, ["cohort[0].token.lifetime"]);
    assert!(
        compiled
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
}

#[test]
fn syntax_errors_are_all_reported_and_nothing_else_is_checked() {
    let text = "[scenario\nname = \"x\"\nseed = = 3\n";
    let compiled = compile(&SourceFile::new("s.toml", text), &[]);
    assert!(compiled.scenario.is_none());
    assert!(compiled.errors().count() >= 2, "{:#?}", compiled.diagnostics);
    assert!(compiled.errors().all(|d| d.message.starts_with("TOML syntax")));
}

#[test]
fn device_case_parameters_reach_the_model_and_are_bounded() {
    let catalogue = ["device.backoff-refused", "device.long-outage"];
    let text = "[scenario]\nname = \"d\"\n[cases.params.\"device.backoff-refused\"]\ncount = 5\n[cases.params.\"device.long-outage\"]\noutage = \"2m\"\ngrace = \"3s\"\n";
    let compiled = compile(&SourceFile::new("d.toml", text), &catalogue);
    let settings = compiled.scenario.unwrap().case_settings;
    assert_eq!(settings.params("device.backoff-refused").count, Some(5));
    let outage = settings.params("device.long-outage");
    assert_eq!(outage.outage, Some(Duration::from_secs(120)));
    assert_eq!(outage.grace, Some(Duration::from_secs(3)));
    let text = "[scenario]\nname = \"d\"\n[cases.params.\"device.backoff-refused\"]\ncount = 1\n";
    let compiled = compile(&SourceFile::new("d.toml", text), &catalogue);
    let errors: Vec<&str> = compiled.diagnostics.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        errors,
        ["cases.params.\"device.backoff-refused\".count"],
        "{:?}",
        compiled.diagnostics
    );
}

/// The errors of compiling `text`, as (key path, message).
fn errors_of(text: &str) -> Vec<(String, String)> {
    compile(&SourceFile::new("m.toml", text), &[])
        .errors()
        .map(|d| (d.path.clone(), d.message.clone()))
        .collect()
}

#[test]
fn the_embedded_pubsub_bound_defaults_to_1_gib_and_applies_only_to_it() {
    let base = "[scenario]\nname = \"m\"\n[[cohort]]\nname = \"a\"\ndevices = 1\ndevice_id = \"a-{index}\"\n";
    let default = compile(&SourceFile::new("m.toml", base), &[]);
    assert_eq!(default.scenario.unwrap().target.pubsub_max_stored, 1 << 30);
    let set = format!("{base}[target]\npubsub_max_stored = \"512MiB\"\n");
    let compiled = compile(&SourceFile::new("m.toml", &set), &[]);
    assert_eq!(compiled.scenario.unwrap().target.pubsub_max_stored, 512 << 20);
    for (target, words) in [
        (
            "pubsub = { emulator = \"127.0.0.1:8085\" }\npubsub_max_stored = \"1GiB\"",
            "bounds the embedded Pub/Sub",
        ),
        ("pubsub_max_stored = 0", "refuses every publish"),
    ] {
        let errors = errors_of(&format!("{base}[target]\n{target}\n"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "target.pubsub_max_stored");
        assert!(errors[0].1.contains(words), "{errors:?}");
    }
}

#[test]
fn source_addresses_default_to_auto_and_bad_ones_are_named() {
    let base = "[scenario]\nname = \"m\"\n[[cohort]]\nname = \"a\"\ndevices = 1\ndevice_id = \"a-{index}\"\n";
    let default = compile(&SourceFile::new("m.toml", base), &[]);
    assert_eq!(
        default.scenario.unwrap().target.source_addresses,
        SourceAddresses::Auto
    );
    for (value, words) in [
        (
            "[\"127.0.0.2\", \"pi-gateway\"]",
            "\"pi-gateway\" is not an IP address",
        ),
        ("[]", "no address to connect from"),
        ("\"all\"", "all"),
    ] {
        let errors = errors_of(&format!("{base}[target]\nsource_addresses = {value}\n"));
        assert_eq!(errors.len(), 1, "{value}: {errors:?}");
        assert!(errors[0].0.starts_with("target.source_addresses"), "{errors:?}");
        assert!(errors[0].1.contains(words), "{errors:?}");
    }
}

#[test]
fn baseline_settings_are_read_and_bad_tolerances_named() {
    let text = r#"
[scenario]
name = "b"
[gates]
"messages.lost" = { max = 0 }
[baseline]
compare = ["*.p50", "messages.lost", "nothing.like.this"]
tolerance = "10%"
noise_floor = "2ms"
cases = false
[baseline.tolerances]
"publish.puback.p99" = "40%"
"messages.*" = 5
"#;
    let compiled = compile(&SourceFile::new("b.toml", text.to_owned()), CATALOGUE);
    let messages: Vec<String> = compiled.diagnostics.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "`nothing.like.this` matches no measurement fleetgate reports, so it compares nothing",
            "a tolerance is a percentage",
        ],
        "{:#?}",
        compiled.diagnostics
    );
    let fixed = text.replace("\"messages.*\" = 5", "\"messages.*\" = \"5%\"");
    let scenario = compile(&SourceFile::new("b.toml", fixed), CATALOGUE)
        .scenario
        .unwrap();
    let b = scenario.baseline;
    assert_eq!(b.compare.unwrap().len(), 3);
    assert_eq!(b.tolerance_pct, Some(10.0));
    assert_eq!(b.noise_floor, Some(Duration::from_millis(2)));
    assert_eq!(b.cases, Some(false));
    assert_eq!(
        b.tolerances,
        [
            ("publish.puback.p99".to_owned(), 40.0),
            ("messages.*".to_owned(), 5.0)
        ]
    );
}

#[test]
fn cases_expect_reads_exact_answers_and_push_body_modes() {
    let catalogue = ["auth.alg-none", "auth.valid", "push.wrong-aud", "push.expired"];
    let text = r#"
[scenario]
name = "answers"
[cases]
include = ["auth.*", "push.*"]
[cases.expect]
"auth.alg-none" = { connack = 4 }
"push.wrong-aud" = { status = 400 }
"push.expired" = { status = "4xx" }
[push]
body = "both"
"#;
    let compiled = compile(&SourceFile::new("answers.toml", text), &catalogue);
    let s = compiled.scenario.unwrap();
    let expect = |id| s.case_settings.expectation(id);
    assert_eq!(expect("auth.alg-none"), Some(CaseExpectation::Connack(4)));
    assert_eq!(
        expect("push.wrong-aud"),
        Some(CaseExpectation::Status(HttpStatus::Exact(400)))
    );
    assert_eq!(
        expect("push.expired"),
        Some(CaseExpectation::Status(HttpStatus::Class(4)))
    );
    assert!(expect("push.expired").unwrap().is_refusal());
    assert_eq!(s.push.body, PushBody::Both);
    let plain = compile(
        &SourceFile::new(
            "plain.toml",
            "[scenario]\nname = \"p\"\n[cases]\ninclude = [\"auth.*\"]\n",
        ),
        &catalogue,
    );
    assert_eq!(
        plain.scenario.unwrap().push.body,
        PushBody::Wrapped,
        "wrapped by default"
    );
}
