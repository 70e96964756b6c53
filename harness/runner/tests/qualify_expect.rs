//! `[cases.expect]` for device cases, in-process: a `device.*` case the scenario skips is
//! skipped for every device, with the reason, whether the device connects or not; the cases
//! left are judged as usual.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fleetgate_fleet::driver::tls;
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use fleetgate_report::{CaseResult, Outcome, ReportData, Verdict};
use fleetgate_runner::environment::EnvironmentOptions;
use fleetgate_runner::qualify::{Qualification, QualifyEvent};
use fleetgate_scenario::{Scenario, SourceFile, compile};
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};

const SKIPPED: &str = "skipped: the scenario's [cases.expect] says skip";

/// A scenario with one `[[device]]`, `pi-1`, registered with `key`'s public key.
fn scenario(dir: &Path, key: &DeviceKey, cases: &str) -> Scenario {
    std::fs::write(dir.join("pi-1.pub"), key.spki_pem()).unwrap();
    let text = format!(
        "[scenario]\nname = \"skip\"\n[project]\nid = \"demo-project\"\nregion = \"us-central1\"\nregistry = \"pi-fleet\"\n{cases}\n[[device]]\nid = \"pi-1\"\ncredentials = [{{ format = \"ES256_PEM\", file = \"pi-1.pub\" }}]\n"
    );
    let compiled = compile(
        &SourceFile::new("skip.toml", text),
        &fleetgate_runner::catalogue::case_ids(),
    );
    compiled
        .scenario
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics))
}

fn options(dir: &Path) -> EnvironmentOptions {
    EnvironmentOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.join("out"),
        dir.to_path_buf(),
        Arc::new(|_, _, _| {}),
    )
}

/// `pi-1` connecting with a valid token to the bridge at `port`, trusting `ca_file`; the
/// returned task keeps it connected until aborted.
fn device(key: &DeviceKey, port: u16, ca_file: &Path) -> tokio::task::JoinHandle<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = mint(
        key,
        &DeviceClaims::new("demo-project", i64::try_from(now).unwrap(), 3600),
    )
    .unwrap();
    let id = "projects/demo-project/locations/us-central1/registries/pi-fleet/devices/pi-1";
    let mut options = MqttOptions::new(id, "localhost", port);
    options
        .set_credentials("unused", jwt)
        .set_keep_alive(Duration::from_secs(60));
    let tls = tls::client_config(&std::fs::read(ca_file).unwrap(), "the bridge's CA").unwrap();
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    let (client, mut events) = AsyncClient::new(options, 8);
    tokio::spawn(async move {
        // The event loop ends once no client is left to send requests.
        let _keep = client;
        while events.poll().await.is_ok() {}
    })
}

/// Runs the qualification until every case has its verdict, keeping what was watched.
async fn qualify(qualification: Qualification<'_>) -> (ReportData, Vec<CaseResult>) {
    let mut watched = Vec::new();
    let report = qualification
        .run(std::future::pending(), &mut |event| {
            if let QualifyEvent::CaseFinished(result) = event {
                watched.push(result.clone());
            }
        })
        .await;
    (report, watched)
}

fn verdicts(cases: &[CaseResult]) -> Vec<(&str, Verdict, &str)> {
    cases
        .iter()
        .map(|c| (c.id.as_str(), c.verdict, c.message.as_deref().unwrap_or("")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_device_case_is_skipped_and_the_others_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    let scenario = scenario(
        dir.path(),
        &key,
        "[cases]\ninclude = [\"device.connect\", \"device.clock-offset\", \"device.tls-*\"]\n[cases.expect]\n\"device.tls-*\" = \"skip\"\n",
    );
    let qualification = Qualification::start(&scenario, options(dir.path()))
        .await
        .unwrap();
    let bridge = qualification.environment().bridge.as_ref().unwrap();
    let pi = device(&key, bridge.bridge.local_addr().port(), &bridge.ca_file);
    let (report, watched) = qualify(qualification).await;
    pi.abort();

    assert_eq!(
        verdicts(&report.cases),
        vec![
            ("device.connect", Verdict::Passed, ""),
            ("device.clock-offset", Verdict::Passed, ""),
            ("device.tls-untrusted-ca", Verdict::Skipped, SKIPPED),
            ("device.tls-wrong-host", Verdict::Skipped, SKIPPED),
            ("device.tls-expired", Verdict::Skipped, SKIPPED),
        ],
        "{:#?}",
        report.cases
    );
    assert!(report.cases.iter().all(|c| c.device.as_deref() == Some("pi-1")));
    assert_eq!(report.outcome, Outcome::Passed);
    let mut watched: Vec<&str> = watched.iter().map(|c| c.id.as_str()).collect();
    watched.sort_unstable();
    assert_eq!(
        watched,
        [
            "device.clock-offset",
            "device.connect",
            "device.tls-expired",
            "device.tls-untrusted-ca",
            "device.tls-wrong-host"
        ],
        "every verdict, the skipped ones too, is told as it is known"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_never_connects_still_fails_when_device_connect_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    let scenario = scenario(
        dir.path(),
        &key,
        "[cases]\ninclude = [\"device.connect\", \"device.clock-offset\", \"device.keepalive\"]\n[cases.expect]\n\"device.connect\" = \"skip\"\n[cases.params.\"device.connect\"]\ntimeout = \"1s\"\n",
    );
    let qualification = Qualification::start(&scenario, options(dir.path()))
        .await
        .unwrap();
    let (report, _) = qualify(qualification).await;

    assert_eq!(
        verdicts(&report.cases),
        vec![
            ("device.connect", Verdict::Skipped, SKIPPED),
            (
                "device.clock-offset",
                Verdict::Failed,
                "the device did not connect within 1s"
            ),
            (
                "device.keepalive",
                Verdict::Skipped,
                "not run: the device never connected"
            ),
        ],
        "{:#?}",
        report.cases
    );
    assert_eq!(report.outcome, Outcome::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_skipped_ends_the_qualification_without_waiting_for_devices() {
    let dir = tempfile::tempdir().unwrap();
    let key = DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap();
    let scenario = scenario(dir.path(), &key, "[cases.expect]\n\"device.*\" = \"skip\"\n");
    let qualification = Qualification::start(&scenario, options(dir.path()))
        .await
        .unwrap();
    let (report, _) = qualify(qualification).await;

    assert_eq!(report.cases.len(), 15, "{:#?}", report.cases);
    assert!(
        report
            .cases
            .iter()
            .all(|c| c.verdict == Verdict::Skipped && c.message.as_deref() == Some(SKIPPED)),
        "{:#?}",
        report.cases
    );
}
