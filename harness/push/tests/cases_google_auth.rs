//! The catalogue judged by a real verifier: a push endpoint on Google's `google-auth` Python
//! library (`tests/python/google_auth_endpoint.py`, installed from `.ci/requirements.txt`),
//! trusting the Google mock's PEM certificates URL. It passes every case; with its audience
//! check removed it fails exactly the audience cases.
//!
//! Where google-auth 2.62 differs from docs/protocol.md §6, and how the endpoint handles it:
//! - a token without `kid` is verified against every published certificate and accepted; §6
//!   tokens always carry one, so the endpoint refuses a missing `kid` before `verify_token`;
//! - `verify_token` checks neither `iss`, `email` nor `email_verified`: the endpoint checks them
//!   (both `iss` forms accepted, as `verify_oauth2_token` does);
//! - skew 0 s by default: the executor issues tokens 5 s in the past;
//! - no maximum token age (only `exp`), so the 59-minute-old token passes as §6 wants;
//! - an `aud` mismatch is a `ValueError`, answered 401 rather than the reference's 403;
//! - the certificates are fetched on every verification (no cache), so the rotation cases
//!   pass without exercising a refetch on an unknown `kid`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::{SERVICE_ACCOUNT, now};
use fleetgate_push::cases::{self, CaseOutcome, ExecutorConfig, PushCase, PushTarget};
use fleetgate_push::{Endpoint, GoogleMock, GoogleMockConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The audience the endpoint is configured with (its port is only known once it listens).
const AUDIENCE: &str = "https://push.fleetgate.test/google-auth";

/// Bounds the endpoint's start and the whole catalogue run.
const BOUND: Duration = Duration::from_secs(120);

/// Starts the endpoint; it exits when the returned child (holding its stdin) is dropped.
async fn start_endpoint(mock: &GoogleMock, audience_check: bool) -> (Child, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/google_auth_endpoint.py"
    );
    let mut command = Command::new("python3");
    command
        .arg(script)
        .args(["--audience", AUDIENCE, "--service-account", SERVICE_ACCOUNT])
        .args(["--certs-url", &mock.pem_certs_url()])
        .env("METADATA_SERVER_DETECTION", "none")
        .env("NO_GCE_CHECK", "True")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if !audience_check {
        command.arg("--no-audience-check");
    }
    let mut child = command
        .spawn()
        .expect("python3 runs (google-auth and requests come from .ci/requirements.txt)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(BOUND, lines.next_line())
        .await
        .expect("the google-auth endpoint prints its port within the bound")
        .unwrap()
        .expect("the google-auth endpoint started (google-auth and requests come from `pip install -r .ci/requirements.txt`)");
    let port: u16 = port.trim().parse().unwrap();
    (child, format!("http://127.0.0.1:{port}/push"))
}

/// The outcomes, and how many times the endpoint fetched the mock's PEM certificates.
async fn run_against_google_auth(audience_check: bool) -> (Vec<CaseOutcome>, u64) {
    let mock = GoogleMock::generate(now(), GoogleMockConfig::default())
        .await
        .unwrap();
    let (mut child, url) = start_endpoint(&mock, audience_check).await;
    let target = PushTarget {
        audience: Some(AUDIENCE.to_owned()),
        ..PushTarget::new(url, SERVICE_ACCOUNT)
    };
    let outcomes = tokio::time::timeout(
        BOUND,
        cases::run(&mock, &target, &ExecutorConfig::default(), PushCase::ALL),
    )
    .await
    .expect("the catalogue runs within the bound")
    .unwrap();
    child.kill().await.unwrap();
    assert_eq!(
        mock.requests(Endpoint::Jwks),
        0,
        "google-auth reads the PEM certificates"
    );
    (outcomes, mock.requests(Endpoint::PemCerts))
}

fn failed(outcomes: &[CaseOutcome]) -> BTreeSet<&str> {
    outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.id.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_auth_passes_every_case() {
    let (outcomes, pem_fetches) = run_against_google_auth(true).await;
    // One fetch per token that reaches `verify_token`: every case but the four refused on the
    // Authorization header or the missing kid (no-authorization, not-bearer, malformed, no-kid).
    assert_eq!(pem_fetches, PushCase::ALL.len() as u64 - 4);
    assert_eq!(outcomes.len(), PushCase::ALL.len());
    for outcome in &outcomes {
        assert!(outcome.passed, "{}: {:?}", outcome.id, outcome.message);
    }
    let by_id = |id: &str| outcomes.iter().find(|o| o.id == id).unwrap();
    // google-auth itself refuses the audience mismatch (a ValueError, answered 401).
    assert_eq!(by_id("push.wrong-aud").evidence["status"], "401");
    assert!(by_id("push.wrong-aud").evidence["body"].contains("audience"));
    assert_eq!(by_id("push.wrong-email").evidence["body"], "email-mismatch");
    assert_eq!(by_id("push.wrong-iss").evidence["body"], "wrong-issuer");
    assert_eq!(by_id("push.no-kid").evidence["body"], "missing-kid");
    assert_eq!(by_id("push.valid-after-rotation").evidence["status"], "204");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_auth_without_an_audience_fails_exactly_the_audience_cases() {
    let (outcomes, _) = run_against_google_auth(false).await;
    let expected: BTreeSet<&str> = PushCase::AUDIENCE.iter().map(|c| c.id()).collect();
    assert_eq!(failed(&outcomes), expected, "{outcomes:#?}");
    for outcome in outcomes.iter().filter(|o| !o.passed) {
        assert_eq!(outcome.evidence["status"], "204", "{}", outcome.id);
    }
}
