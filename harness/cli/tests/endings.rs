//! How runs end when they do not simply finish: Ctrl-C or SIGTERM stop the run in order and
//! every report is written with outcome `aborted` (exit 5); an environment that cannot start
//! or a bridge that cannot be reached writes every report with the error (exit 3, JUnit
//! `<error>`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(dir, "report.json")).unwrap()
}

/// A fleet that would run for ten minutes.
const LONG: &str = "[scenario]\nname = \"long\"\n[[cohort]]\nname = \"pis\"\ndevices = 5\ndevice_id = \"pi-{index}\"\ntelemetry = { every = \"100ms\" }\n[[phase]]\nname = \"steady\"\nhold = \"10m\"\n";

/// Starts the long run, waits for its first status line (the fleet is up and sending), sends
/// `signal` and returns the exit code, the messages the status line counted, and stderr.
fn interrupt(dir: &Path, signal: &str) -> (i32, u64, String) {
    let file = dir.join("long.toml");
    std::fs::write(&file, LONG).unwrap();
    let out = dir.join(signal);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .current_dir(common::root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let sent = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "exited early: {seen}");
        seen.push_str(&line);
        if let Some(rest) = line.split(" sent ").nth(1) {
            break rest.split_whitespace().next().unwrap().parse::<u64>().unwrap();
        }
    };
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        let _ = done.send((child.wait().unwrap(), rest));
    });
    let (exit, rest) = wait
        .recv_timeout(Duration::from_secs(60))
        .expect("the run stops in bounded time after the signal");
    seen.push_str(&rest);
    (exit.code().unwrap(), sent, seen)
}

#[test]
fn ctrl_c_and_sigterm_stop_the_run_and_write_every_report_as_aborted() {
    let tmp = tempfile::tempdir().unwrap();
    for signal in ["INT", "TERM"] {
        let (code, sent, stderr) = interrupt(tmp.path(), signal);
        assert_eq!(code, 5, "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted: stopping the run"), "{stderr}");
        let out = tmp.path().join(signal);
        let report = report(&out);
        assert_eq!(report["outcome"], "aborted", "SIG{signal}");
        let measured = report["measurements"]["messages.sent"]["value"].as_f64().unwrap();
        assert!(
            measured >= sent as f64,
            "{measured} sent in the report, {sent} on the status line"
        );
        assert_eq!(
            report["measurements"]["messages.lost"]["value"], 0.0,
            "every device returned what it had acknowledged, and all of it reached Pub/Sub"
        );
        assert!(
            report["notes"][0].as_str().unwrap().contains("interrupted"),
            "{report}"
        );
        assert!(
            report["phases"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("interrupted")
        );
        assert!(read(&out, "junit.xml").contains("<error message=\"aborted"));
        assert!(read(&out, "summary.md").starts_with("# fleetgate `long`: ABORTED"));
        assert!(read(&out, "report.html").contains("data-outcome=\"aborted\""));
    }
}

#[test]
fn an_environment_that_cannot_start_writes_its_reports_with_the_error_and_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let file = tmp.path().join("busy.toml");
    std::fs::write(
        &file,
        format!("[scenario]\nname = \"busy\"\n[cases]\ninclude = [\"push.valid\"]\n[push]\ngoogle_listen = \"{address}\"\n"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = common::text(&common::fleetgate(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stdout.starts_with("ERROR: `busy`:"), "{stdout}");
    let report = report(&out);
    assert_eq!(report["outcome"], "error");
    assert!(
        report["error"].as_str().unwrap().contains(&address.to_string()),
        "{report}"
    );
    assert_eq!(report["cases"][0]["verdict"], "skipped");
    let junit = read(&out, "junit.xml");
    assert_eq!(junit.matches("<error").count(), 1, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    drop(taken);
}

#[test]
fn an_unreachable_bridge_is_an_environment_error_not_failed_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = tmp.path().join("closed.toml");
    std::fs::write(
        &file,
        format!(
            "[scenario]\nname = \"closed\"\n[target]\nbridge = {{ host = \"127.0.0.1\", port = {port}, tls = false, profile = \"google\" }}\n[[cohort]]\nname = \"pis\"\ndevices = 2\ndevice_id = \"pi-{{index}}\"\n[[phase]]\nname = \"steady\"\nhold = \"2s\"\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = common::text(&common::fleetgate(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 3, "{stdout}{stderr}");
    let report = report(&out);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "cannot reach the bridge under test at 127.0.0.1:{port}:"
        )),
        "{error}"
    );
    assert_eq!(report["phases"][0]["verdict"], "skipped");
    assert!(read(&out, "junit.xml").contains("<error message=\"error: cannot reach the bridge"));
}
