//! A sharded run as users run it: one `fleetgate serve` is the bridge and Pub/Sub under test,
//! three `fleetgate run --shard I/3` processes each drive their slice of the fleet against it
//! from a common start, and `fleetgate report merge` joins their reports. Every acknowledged
//! message is delivered and none is lost (each shard counted its own devices from its own
//! subscription), the merged histograms hold every shard's samples, and the merged percentiles
//! are those of one histogram of them all. Bad merges are refused naming the files.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use fleetgate_metrics::{MetricSet, Recorder, flatten};
use serde_json::Value;

const SHARDS: u32 = 3;

const FLEET: &str = r#"
[scenario]
name = "sharded"
seed = 11

[project]
id = "demo-project"
region = "us-central1"
registry = "pi-fleet"

[[cohort]]
name = "pis"
devices = 12
device_id = "pi-{index:03}"
key = { alg = "ES256", format = "ES256_PEM" }
telemetry = { every = "200ms", qos = 1, count = 5 }

[[phase]]
name = "steady"
ramp = "1s"
hold = "3s"

[gates]
"messages.lost" = { max = 0 }
"#;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fleetgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(args)
        .output()
        .unwrap()
}

/// Starts `fleetgate serve` for the fleet and writes the shards' scenario, aimed at it.
fn serve(dir: &Path) -> (Serve, PathBuf) {
    let serve_file = dir.join("serve.toml");
    std::fs::write(&serve_file, FLEET).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
        .args(["serve", serve_file.to_str().unwrap(), "--out"])
        .arg(dir.join("serve"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut serve = Serve(child);
    let mut line = String::new();
    BufReader::new(serve.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let port = info["bridge"]["mqtt"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let target = format!(
        "\n[target]\nbridge = {{ host = \"localhost\", port = {port}, ca = {} }}\npubsub = {{ emulator = {} }}\n",
        info["bridge"]["ca"], info["pubsub"]["emulator"]
    );
    let shard_file = dir.join("shard.toml");
    std::fs::write(&shard_file, format!("{FLEET}{target}")).unwrap();
    (serve, shard_file)
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn metrics(report: &Value) -> Recorder {
    let set: MetricSet = serde_json::from_value(report["metrics"].clone()).unwrap();
    set.to_recorder().unwrap()
}

fn value(report: &Value, key: &str) -> f64 {
    report["measurements"][key]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn three_shards_against_one_serve_merge_into_the_whole_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, scenario) = serve(dir.path());
    let start = SystemTime::now() + Duration::from_secs(3);
    let start = humantime::format_rfc3339_seconds(start).to_string();
    let shards: Vec<(PathBuf, Child)> = (0..SHARDS)
        .map(|i| {
            let out = dir.path().join(format!("shard-{i}"));
            let child = Command::new(env!("CARGO_BIN_EXE_fleetgate"))
                .arg("run")
                .arg(&scenario)
                .args(["--shard", &format!("{i}/{SHARDS}"), "--start-at", &start, "--out"])
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    let mut dirs = Vec::new();
    for (out, child) in shards {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{}: {stderr}", out.display());
        dirs.push(out);
    }
    let reports: Vec<Value> = dirs.iter().map(|d| report(d)).collect();
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r["shard"]["index"], i as u64);
        assert_eq!(r["shard"]["count"], SHARDS);
        assert_eq!(r["cohorts"][0]["devices"], 4, "a third of the cohort");
        assert_eq!(value(r, "messages.acked"), 20.0, "4 devices × 5 messages");
        assert_eq!(
            value(r, "pipeline.pubsub.count"),
            20.0,
            "its own devices' messages"
        );
    }
    let merged_dir = dir.path().join("merged");
    let mut args = vec!["report", "merge"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend(["--out", merged_dir.to_str().unwrap()]);
    let output = fleetgate(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in ["report.json", "junit.xml", "summary.md"] {
        assert!(merged_dir.join(file).exists(), "{file}");
    }
    let merged = report(&merged_dir);
    assert_eq!(value(&merged, "messages.acked"), 60.0);
    assert_eq!(value(&merged, "messages.delivered"), 60.0);
    assert_eq!(value(&merged, "messages.lost"), 0.0);
    assert_eq!(value(&merged, "pipeline.delivered_ratio"), 1.0);
    assert_eq!(merged["cohorts"][0]["devices"], 12);
    assert_eq!(merged["merged"]["shards"], serde_json::json!([0, 1, 2]));
    let mut all = Recorder::new();
    for r in &reports {
        all.merge(&metrics(r));
    }
    let merged_metrics = metrics(&merged);
    for metric in ["publish.puback", "pipeline.pubsub", "connect"] {
        let counts: u64 = reports
            .iter()
            .map(|r| metrics(r).histogram(metric).unwrap().len())
            .sum();
        assert_eq!(
            merged_metrics.histogram(metric).unwrap().len(),
            counts,
            "{metric}"
        );
    }
    let expected = flatten(&all);
    for (key, v) in &expected {
        assert_eq!(value(&merged, key), *v, "{key}: the statistic of every sample");
    }
    refusals(dir.path(), &dirs);
}

/// A duplicated shard, a missing one, and a partial merge that names what is missing.
fn refusals(dir: &Path, dirs: &[PathBuf]) {
    let out = dir.join("refused");
    let path = |d: &PathBuf| d.to_str().unwrap().to_owned();
    let merge = |inputs: &[String], extra: &[&str]| {
        let mut args = vec!["report".to_owned(), "merge".to_owned()];
        args.extend(inputs.iter().cloned());
        args.extend(["--out".to_owned(), out.to_str().unwrap().to_owned()]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fleetgate(&args)
    };
    let twice = merge(&[path(&dirs[0]), path(&dirs[0]), path(&dirs[1])], &[]);
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(2));
    assert!(stderr.contains("shard 0 appears twice"), "{stderr}");
    let crashed = dir.join("shard-crashed");
    std::fs::create_dir_all(&crashed).unwrap();
    let inputs = [path(&dirs[0]), path(&crashed), path(&dirs[2])];
    let missing = merge(&inputs, &[]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr.contains("shard-crashed/report.json does not exist: that shard wrote no report"),
        "{stderr}"
    );
    let partial = merge(&inputs, &["--partial"]);
    assert_eq!(
        partial.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );
    let merged = report(&out);
    assert_eq!(merged["merged"]["missing"], serde_json::json!([1]));
    let notes = merged["notes"].to_string();
    assert!(
        notes.contains("partial merge: shard(s) 1 of 3 missing"),
        "{notes}"
    );
}
