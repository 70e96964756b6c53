//! `report.html` in a real browser: Debian's Chromium, headless, loads the page of a run
//! with a load, cases and a failure, offline; every plot must hold a line of data, the script
//! must run to its end without an error, and the case filter must work.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod common;

use std::path::Path;
use std::process::Command;

/// Chromium, as Debian installs it (`.ci/run` does).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Loads `url` in headless Chromium with a fresh profile and returns the DOM after its
/// scripts ran, and what Chromium logged.
fn dump_dom(url: &str, profile: &Path) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium at {CHROMIUM}: apt-get install chromium (.ci/run installs it)"
    );
    let output = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether `figure` shows data: a line of 3 points or more (a legend's has 2), or markers.
fn has_data(figure: &str) -> bool {
    longest_line(figure) >= 3 || figure.contains("<circle")
}

/// The number of points of the longest polyline in `figure`.
fn longest_line(figure: &str) -> usize {
    figure
        .split("<polyline")
        .skip(1)
        .filter_map(|line| line.split("points=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(|points| points.split_whitespace().count())
        .max()
        .unwrap_or(0)
}

#[test]
fn chromium_renders_every_plot_with_data_and_no_script_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("html.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"html\"\n[cases]\ninclude = [\"auth.valid\", \"auth.aud-mismatch\", \"auth.alg-none\"]\n[cases.expect]\n\"auth.aud-mismatch\" = \"accept\"\n[[cohort]]\nname = \"pis\"\ndevices = 4\ndevice_id = \"pi-{index}\"\ntelemetry = { every = \"100ms\" }\n[[phase]]\nname = \"steady\"\nhold = \"4s\"\n[gates]\n\"publish.puback.p99\" = { max = \"1s\" }\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = common::text(&common::fleetgate(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "one case fails on purpose: {stdout}{stderr}");
    let page = out.join("report.html");
    let url = format!("file://{}#verdict=failed", page.display());
    let (dom, log) = dump_dom(&url, &tmp.path().join("profile"));

    assert!(
        dom.contains("data-script=\"ready\""),
        "the script did not finish: {log}"
    );
    assert!(!dom.contains("data-script-error=\""), "{dom}");
    assert!(!log.contains("Uncaught"), "{log}");

    let figures: Vec<&str> = dom.split("<figure class=\"plot\"").skip(1).collect();
    let ids: Vec<&str> = figures.iter().filter_map(|f| f.split('"').nth(1)).collect();
    for wanted in [
        "latency-over-time:publish.puback",
        "latency-over-time:connect",
        "throughput",
        "connected",
        "distribution",
        "hops",
    ] {
        assert!(ids.contains(&wanted), "no {wanted} plot among {ids:?}");
    }
    for (id, figure) in ids.iter().zip(&figures) {
        assert!(has_data(figure), "plot {id} has no data");
    }

    let rows: Vec<&str> = dom.split("<tr data-verdict=\"").skip(1).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("failed") && !rows[0].split('>').next().unwrap().contains("hidden"));
    for row in &rows[1..] {
        let tag = row.split('>').next().unwrap();
        assert!(tag.contains("hidden"), "#verdict=failed hides the others: {tag}");
    }
    assert!(dom.contains("1 of 3 cases shown"), "the filter counted the rows");
}
