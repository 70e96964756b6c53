//! The push suite from a scenario: the `push.*` cases and a push load against the embedded
//! reference verifier pass and measure `push.request`/`push.errors`; the same cases against an
//! external endpoint (a verifier trusting the mock at `[push] google_listen`) report per-case
//! evidence; `[push] subscribe` makes the embedded emulator's authenticated pushes reach the
//! verifier, signed by the identity the mock serves.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use fleetgate_bridge::forward::Outgoing;
use fleetgate_push::verifier::{self, VerifierConfig, VerifierHandle};
use fleetgate_push::{Endpoint, PushCase, Verdict as PushVerdict};
use fleetgate_report::{Outcome, Verdict};
use fleetgate_runner::environment::{self, EnvironmentOptions};
use fleetgate_runner::{RunEvent, RunOptions};
use fleetgate_scenario::{Scenario, SourceFile, compile};

fn scenario(text: &str) -> Scenario {
    let catalogue = fleetgate_runner::catalogue::case_ids();
    let compiled = compile(&SourceFile::new("push.toml", text.to_owned()), &catalogue);
    compiled
        .scenario
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics))
}

fn options(dir: &tempfile::TempDir) -> RunOptions {
    RunOptions::new(dir.path().to_path_buf(), dir.path().to_path_buf())
}

#[test]
fn push_cases_and_load_pass_against_the_embedded_verifier() {
    let text = r#"
[scenario]
name = "push"
[cases]
include = ["push.*"]
[push]
body = "both"
[push.load]
rate = "50/s"
duration = "1s"
users = 2
[gates]
"push.errors" = { max = 0 }
"push.request.p99" = { max = "10s" }
"#;
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let report =
        fleetgate_runner::run(&scenario(text), &options(&dir), &mut |e| events.push(e.clone())).unwrap();
    assert_eq!(report.cases.len(), PushCase::ALL.len());
    for case in &report.cases {
        assert_eq!(case.verdict, Verdict::Passed, "{}: {:?}", case.id, case.message);
        assert!(case.evidence.contains_key("status"), "{}", case.id);
        assert!(case.evidence.contains_key("request"), "{}", case.id);
    }
    let wrong_aud = report.cases.iter().find(|c| c.id == "push.wrong-aud").unwrap();
    assert_eq!(wrong_aud.evidence["status"], "403");
    assert_eq!(wrong_aud.evidence["body"], "aud-mismatch");
    assert_eq!(report.measurements["push.errors"].value, 0.0);
    assert!(report.measurements["push.request.count"].value >= 1.0);
    assert!(report.measurements.contains_key("push.request.p99"));
    assert!(
        report.gates.iter().all(|g| g.verdict == Verdict::Passed),
        "{:?}",
        report.gates
    );
    assert_eq!(report.outcome, Outcome::Passed);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEvent::GoogleMock { embedded: true, .. }))
    );
    let load = events.iter().find_map(|e| match e {
        RunEvent::PushLoadFinished { requests, errors, .. } => Some((*requests, errors.clone())),
        _ => None,
    });
    let (requests, errors) = load.unwrap();
    assert_eq!(requests as f64, report.measurements["push.request.count"].value);
    assert!(errors.is_empty(), "{errors:?}");
}

/// A reference verifier on its own runtime, trusting a mock that does not exist yet, at a
/// fixed address; `audience` and `service_account` as the endpoint expects them.
fn external_verifier(
    jwks_url: String,
    audience: &str,
    service_account: &str,
) -> (tokio::runtime::Runtime, VerifierHandle) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = VerifierConfig {
        audience: Some(audience.to_owned()),
        ..VerifierConfig::new(jwks_url, service_account)
    };
    let (handle, _deliveries) = runtime.block_on(verifier::start(config)).unwrap();
    (runtime, handle)
}

/// A loopback port that was free a moment ago, for the mock's fixed address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn external_scenario(url: &str, port: u16, service_account: &str) -> Scenario {
    scenario(&format!(
        r#"
[scenario]
name = "external-push"
[target]
push_endpoint = {{ url = "{url}", audience = "https://my-service.example/push" }}
[push]
service_account = "{service_account}"
google_listen = "127.0.0.1:{port}"
[cases]
include = ["push.valid", "push.wrong-aud", "push.wrong-email"]
"#
    ))
}

#[test]
fn an_external_endpoint_trusting_the_mock_at_its_fixed_address_passes() {
    let port = free_port();
    let jwks = format!("http://127.0.0.1:{port}{}", Endpoint::Jwks.path());
    let sa = "pusher@demo-project.iam.gserviceaccount.com";
    let (_runtime, verifier) = external_verifier(jwks.clone(), "https://my-service.example/push", sa);
    let url = verifier.url();
    let dir = tempfile::tempdir().unwrap();
    let mut announced = None;
    let report = fleetgate_runner::run(&external_scenario(&url, port, sa), &options(&dir), &mut |e| {
        if let RunEvent::GoogleMock { embedded, jwks, .. } = e {
            announced = Some((*embedded, jwks.clone()));
        }
    })
    .unwrap();
    assert_eq!(announced, Some((false, jwks)), "the mock's JWKS URL is announced");
    for case in &report.cases {
        assert_eq!(case.verdict, Verdict::Passed, "{}: {:?}", case.id, case.message);
    }
    assert_eq!(report.outcome, Outcome::Passed);
}

#[test]
fn an_external_endpoint_expecting_another_account_fails_with_evidence() {
    let port = free_port();
    let jwks = format!("http://127.0.0.1:{port}{}", Endpoint::Jwks.path());
    let other = "someone-else@demo-project.iam.gserviceaccount.com";
    let (_runtime, verifier) = external_verifier(jwks, "https://my-service.example/push", other);
    let url = verifier.url();
    let dir = tempfile::tempdir().unwrap();
    let sa = "pusher@demo-project.iam.gserviceaccount.com";
    let report =
        fleetgate_runner::run(&external_scenario(&url, port, sa), &options(&dir), &mut |_| {}).unwrap();
    let valid = report.cases.iter().find(|c| c.id == "push.valid").unwrap();
    assert_eq!(valid.verdict, Verdict::Failed);
    assert_eq!(valid.evidence["status"], "403");
    assert_eq!(valid.evidence["body"], "email-mismatch");
    assert!(
        valid
            .message
            .as_deref()
            .unwrap()
            .starts_with("push.valid: expected 2xx")
    );
    // The control case failed: no refusal of this endpoint means anything.
    let wrong_aud = report.cases.iter().find(|c| c.id == "push.wrong-aud").unwrap();
    assert_eq!(wrong_aud.verdict, Verdict::NotJudged, "{wrong_aud:?}");
    assert!(
        !wrong_aud.evidence.contains_key("status"),
        "not sent: {wrong_aud:?}"
    );
    assert_eq!(report.outcome, Outcome::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_push_subscription_reaches_the_verifier_with_the_mocks_identity() {
    let text = r#"
[scenario]
name = "pipeline-push"
[project]
id = "demo-project"
[push]
subscribe = true
"#;
    let scenario = scenario(text);
    let dir = tempfile::tempdir().unwrap();
    let options = EnvironmentOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_path_buf(),
        dir.path().to_path_buf(),
        Arc::new(|_, _, _| {}),
    );
    let mut env = environment::start(&scenario, &options).await.unwrap();
    let push = env.push.as_mut().unwrap();
    assert_eq!(
        push.subscription.as_deref(),
        Some("projects/demo-project/subscriptions/telemetry-push")
    );
    let mut deliveries = push.deliveries.take().unwrap();
    let first_kid = push.mock.active_kid();
    let publish = |data: &'static [u8]| Outgoing {
        topic: "projects/demo-project/topics/telemetry".into(),
        data: Bytes::from_static(data),
        attributes: BTreeMap::from([("deviceId".to_owned(), "pi-00001".to_owned())]),
    };
    env.pubsub.forwarder().forward(publish(b"first")).await.unwrap();
    let delivery = deliveries.recv().await.unwrap();
    assert_eq!(delivery.verdict, PushVerdict::Accepted);
    assert_eq!(delivery.message.unwrap().data.as_ref(), b"first");
    // Rotating the mock's identity changes the emulator's signing key too.
    let push = env.push.as_ref().unwrap();
    let rotated = push.mock.rotate(1_800_000_000).unwrap();
    assert_ne!(rotated, first_kid);
    env.pubsub.forwarder().forward(publish(b"second")).await.unwrap();
    let delivery = deliveries.recv().await.unwrap();
    assert_eq!(
        delivery.verdict,
        PushVerdict::Accepted,
        "signed by the new key, fetched by the verifier"
    );
    assert_eq!(
        push.mock.requests(Endpoint::Jwks),
        2,
        "one fetch, one refetch for the new kid"
    );
    env.shutdown().await;
}

#[test]
fn cases_expect_holds_for_push_cases_too() {
    let text = r#"
[scenario]
name = "push-expect"
[cases]
include = ["push.valid", "push.wrong-aud", "push.expired"]
[cases.expect]
"push.valid" = "refuse"
"push.expired" = "skip"
"#;
    let dir = tempfile::tempdir().unwrap();
    let report = fleetgate_runner::run(&scenario(text), &options(&dir), &mut |_| {}).unwrap();
    // In catalogue order, skipped or not.
    let verdicts: Vec<(&str, Verdict)> = report.cases.iter().map(|c| (c.id.as_str(), c.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            ("push.valid", Verdict::Failed),
            ("push.expired", Verdict::Skipped),
            ("push.wrong-aud", Verdict::Passed),
        ]
    );
    let valid = &report.cases[0];
    assert_eq!(valid.evidence["expected"], "401|403", "{valid:?}");
}

#[test]
fn the_push_body_mode_decides_what_is_sent_and_whether_unwrapped_body_runs() {
    let run = |body: &str| {
        let text = format!(
            "[scenario]\nname = \"bodies\"\n[cases]\ninclude = [\"push.valid\", \"push.wrong-aud\", \"push.unwrapped-body\"]\n{body}"
        );
        let dir = tempfile::tempdir().unwrap();
        fleetgate_runner::run(&scenario(&text), &options(&dir), &mut |_| {}).unwrap()
    };
    // Wrapped only (the default): the unwrapped case is skipped with the reason, not failed.
    let wrapped = run("");
    let unwrapped_case = wrapped
        .cases
        .iter()
        .find(|c| c.id == "push.unwrapped-body")
        .unwrap();
    assert_eq!(unwrapped_case.verdict, Verdict::Skipped);
    assert!(
        unwrapped_case
            .message
            .as_deref()
            .unwrap()
            .contains("body = \"wrapped\""),
        "{unwrapped_case:?}"
    );
    assert_eq!(wrapped.outcome, Outcome::Passed);
    // Unwrapped: every case is sent unwrapped, and judged as usual.
    let unwrapped = run("[push]\nbody = \"unwrapped\"\n");
    for case in &unwrapped.cases {
        assert_eq!(case.verdict, Verdict::Passed, "{case:?}");
        assert!(case.evidence["request"].starts_with("unwrapped body"), "{case:?}");
    }
    let both = run("[push]\nbody = \"both\"\n");
    let valid = both.cases.iter().find(|c| c.id == "push.valid").unwrap();
    assert!(valid.evidence["request"].starts_with("wrapped body"), "{valid:?}");
    assert!(
        both.cases.iter().all(|c| c.verdict == Verdict::Passed),
        "{:?}",
        both.cases
    );
}

#[test]
fn cases_expect_names_an_http_status_or_class() {
    let text = r#"
[scenario]
name = "push-status"
[cases]
include = ["push.valid", "push.wrong-aud", "push.wrong-email", "push.expired"]
[cases.expect]
"push.wrong-aud" = { status = 403 }
"push.wrong-email" = { status = 400 }
"push.expired" = { status = "4xx" }
"#;
    let dir = tempfile::tempdir().unwrap();
    let report = fleetgate_runner::run(&scenario(text), &options(&dir), &mut |_| {}).unwrap();
    let case = |id: &str| report.cases.iter().find(|c| c.id == id).unwrap();
    assert_eq!(case("push.wrong-aud").verdict, Verdict::Passed);
    assert_eq!(case("push.wrong-aud").evidence["expected"], "403");
    // The reference verifier answers 403: a stated 400 fails.
    let email = case("push.wrong-email");
    assert_eq!(email.verdict, Verdict::Failed, "{email:?}");
    assert!(
        email
            .message
            .as_deref()
            .unwrap()
            .contains("expected 400, got 403"),
        "{email:?}"
    );
    assert_eq!(case("push.expired").verdict, Verdict::Passed);
    assert_eq!(case("push.expired").evidence["expected"], "4xx");
}
