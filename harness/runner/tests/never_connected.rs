//! A fleet phase in which no device ever connected names why, attempt by attempt: here a
//! "bridge" that accepts TCP and answers the TLS handshake with an HTTP error, so every
//! attempt fails in TLS before any CONNACK.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::io::Write;
use std::net::TcpListener;

use fleetgate_identity::certs::{CertOptions, RegistryCa};
use fleetgate_report::Verdict;
use fleetgate_runner::{RunOptions, run};
use fleetgate_scenario::{SourceFile, compile};

/// A listener that answers every connection with an HTTP error and closes it.
fn not_a_bridge() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    port
}

#[test]
fn the_phase_verdict_names_the_tls_failure_and_counts_the_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = RegistryCa::generate("someone-else", &CertOptions::valid_around(1_800_000_000, 3650)).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    let port = not_a_bridge();
    let text = format!(
        "[scenario]\nname = \"tls\"\n[target]\nbridge = {{ host = \"127.0.0.1\", port = {port}, ca = \"ca.pem\", profile = \"google\" }}\n[project]\nid = \"tls-test\"\nregion = \"us-central1\"\nregistry = \"pis\"\n[[cohort]]\nname = \"pis\"\ndevices = 2\ndevice_id = \"pi-{{index}}\"\nbackoff = {{ min = \"100ms\", max = \"200ms\" }}\n[[phase]]\nname = \"steady\"\nhold = \"1s\"\n"
    );
    let compiled = compile(&SourceFile::new("tls.toml", text), &[]);
    let scenario = compiled
        .scenario
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
    let options = RunOptions::new(dir.path().join("out"), dir.path().to_path_buf());
    let report = run(&scenario, &options, &mut |_| {}).unwrap();
    let phase = &report.phases[0];
    assert_eq!(phase.verdict, Verdict::Failed);
    let attempts = report.measurements["connects.failed"].value;
    assert!(attempts >= 2.0, "each device tried at least once: {attempts}");
    assert_eq!(
        report.measurements["connects.attempts"].value, attempts,
        "every attempt is counted, and each ended before a CONNACK"
    );
    let tls = report.measurements["connect_errors.tls"].value;
    assert_eq!(tls, attempts, "every attempt failed in TLS");
    let message = phase.message.as_deref().unwrap();
    assert_eq!(
        message,
        format!(
            "no device could connect in {attempts} attempts: {attempts} × TLS handshake failed (connect_errors.tls)"
        )
    );
    assert_eq!(report.measurements["connect.success_ratio"].value, 0.0);
}
