//! Bridge capacity benchmark (issue 4, item 10): concurrent TLS + JWT devices held, connects per
//! second, RSS per connection, and QoS 1 messages per second through the bridge into the
//! embedded Pub/Sub emulator with PUBACK latency.
//!
//! `cargo bench -p fleetgate-runner --bench bridge_capacity [-- --phase=P --devices=N ...]`;
//! every `--name=value` can also be given as `BRIDGE_BENCH_NAME=value`. Phases:
//! `in-process` (clients and bridge in one process), `split` (bridge here, clients in a child
//! process: server-side and client-side RSS apart), `throughput`, and `all` (the default: each
//! of the three in a fresh process of its own, so one phase's freed memory does not hide the
//! next one's growth).
//!
//! # Layout
//!
//! - `setup`: registry, CA, JWTs, bridge and embedded emulator.
//! - `clients`: rumqttc device clients, connect-all, RSS and CPU readings.
//! - `throughput`: the QoS 1 publishing round.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // a benchmark binary: it reports on stdout and stops loudly when its own setup fails

#[path = "bridge_capacity/clients.rs"]
mod clients;
#[path = "bridge_capacity/setup.rs"]
mod setup;
#[path = "bridge_capacity/throughput.rs"]
mod throughput;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetgate_bridge::profile::Profile;
use hdrhistogram::Histogram;

use crate::clients::{Held, connect_all, cpu_time, rss_kib, tls_config};

/// Sizes and switches, from `--name=value` arguments or `BRIDGE_BENCH_NAME` variables.
struct Options(HashMap<String, String>);

impl Options {
    fn parse() -> Self {
        let args = std::env::args()
            .skip(1)
            .filter_map(|a| {
                let (k, v) = a.strip_prefix("--")?.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect();
        Self(args)
    }

    fn text(&self, name: &str, default: &str) -> String {
        let variable = format!("BRIDGE_BENCH_{}", name.to_uppercase().replace('-', "_"));
        self.0
            .get(name)
            .cloned()
            .or_else(|| std::env::var(variable).ok())
            .unwrap_or_else(|| default.to_owned())
    }

    fn number(&self, name: &str, default: u64) -> u64 {
        let text = self.text(name, &default.to_string());
        text.parse().unwrap_or_else(|_| {
            println!("--{name}={text}: expected a whole number");
            std::process::exit(2)
        })
    }

    fn devices(&self) -> usize {
        usize::try_from(self.number("devices", 10_000)).expect("device count")
    }

    fn concurrency(&self) -> usize {
        usize::try_from(self.number("concurrency", 128)).expect("concurrency")
    }

    fn hold(&self) -> Duration {
        Duration::from_secs(self.number("hold-secs", 10))
    }
}

fn main() {
    let options = Options::parse();
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("RLIMIT_NOFILE");
    let phase = options.text("phase", "all");
    if phase == "all" {
        run_all(&options);
        return;
    }
    let timeout = Duration::from_secs(options.number("timeout-secs", 900));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let finished = runtime.block_on(async {
        tokio::time::timeout(timeout, async {
            match phase.as_str() {
                "in-process" => in_process(&options, limit).await,
                "split" => split(&options, limit).await,
                "clients" => clients_role(&options).await,
                "throughput" => throughput(&options).await,
                other => println!("unknown --phase={other}: expected all, in-process, split or throughput"),
            }
        })
        .await
    });
    if finished.is_err() {
        println!("gave up after the global timeout of {timeout:?}");
        std::process::exit(2);
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// Runs each phase in a fresh process of this binary, passing the other options through.
fn run_all(options: &Options) {
    let exe = std::env::current_exe().expect("own path");
    for phase in ["in-process", "split", "throughput"] {
        let mut command = Command::new(&exe);
        command.arg(format!("--phase={phase}"));
        for (k, v) in options.0.iter().filter(|(k, _)| *k != "phase") {
            command.arg(format!("--{k}={v}"));
        }
        let status = command.status().expect("phase process");
        if !status.success() {
            println!("phase {phase} failed: {status}");
            std::process::exit(1);
        }
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn percentiles(h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n = {})",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        h.len()
    )
}

fn print_held(held: &Held, devices: usize) {
    let rate = held.connected as f64 / held.elapsed.as_secs_f64();
    println!(
        "  connected {} of {devices} in {:.2} s: {rate:.0} connects/s; {} failed {:?}",
        held.connected,
        held.elapsed.as_secs_f64(),
        held.failed,
        held.reasons
    );
    println!(
        "  connect latency (TCP + TLS + CONNECT/JWT → CONNACK): {}",
        percentiles(&held.latency)
    );
}

fn per_connection(before: u64, after: u64, count: usize) -> String {
    let grown = after.saturating_sub(before);
    let each = grown as f64 / count.max(1) as f64;
    format!(
        "{before} KiB → {after} KiB (+{:.1} MiB): {each:.1} KiB per connection",
        grown as f64 / 1024.0
    )
}

/// Bridge and clients in one process. Each connection costs two descriptors here, so the count
/// is capped by the open-files limit.
async fn in_process(options: &Options, limit: u64) {
    let wanted = options.devices();
    let budget = usize::try_from(limit.saturating_sub(64) / 2).unwrap_or(usize::MAX);
    let devices = wanted.min(budget);
    println!(
        "== in-process: bridge and {devices} TLS + JWT clients in one process (load {})",
        load_average()
    );
    println!("  open-files limit {limit} (soft raised to hard); 2 descriptors per in-process connection");
    if devices < wanted {
        println!("  capped at {devices} of the {wanted} asked: the hard open-files limit allows no more");
    }
    let setup = setup::start(devices, "pi", Profile::google(), true).await;
    let tls = tls_config(&setup.ca_pem);
    let before = rss_kib();
    let cpu = cpu_time();
    let held = connect_all(
        &setup.devices,
        setup.bridge.local_addr().port(),
        &tls,
        options.concurrency(),
    )
    .await;
    let cpu = cpu_time().saturating_sub(cpu);
    let after = rss_kib();
    print_held(&held, devices);
    println!(
        "  CPU {:.2} s over {:.2} s wall, both sides ({:.0} µs per connect)",
        cpu.as_secs_f64(),
        held.elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / held.connected.max(1) as f64
    );
    println!(
        "  RSS (bridge + clients): {}",
        per_connection(before, after, held.connected)
    );
    hold(&setup.bridge, &held, options.hold()).await;
    held.close().await;
    setup.bridge.shutdown().await;
}

/// Waits `hold`, then counts who is still connected on both sides.
async fn hold(bridge: &fleetgate_bridge::Bridge, held: &Held, hold: Duration) {
    tokio::time::sleep(hold).await;
    let lost = held.lost.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "  after holding {hold:?}: bridge lists {} connected devices; clients lost {lost}",
        bridge.connected_devices().len()
    );
}

/// The bridge here, its clients in a child process (`--phase=clients`): the bridge's own RSS
/// growth is the server-side figure per connection.
async fn split(options: &Options, limit: u64) {
    let devices = options.devices();
    println!(
        "== split: bridge here, {devices} TLS + JWT clients in a child process (load {})",
        load_average()
    );
    println!("  open-files limit {limit} per process");
    let setup = setup::start(devices, "pi", Profile::google(), true).await;
    let dir = std::env::temp_dir().join(format!("fleetgate-bridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("ca.pem"), &setup.ca_pem).expect("ca.pem");
    let tokens: String = setup
        .devices
        .iter()
        .map(|d| format!("{} {}\n", d.id, d.jwt))
        .collect();
    std::fs::write(dir.join("tokens"), tokens).expect("tokens");
    let before = rss_kib();
    let cpu = cpu_time();
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--phase=clients")
        .arg(format!("--port={}", setup.bridge.local_addr().port()))
        .arg(format!("--dir={}", dir.display()))
        .arg(format!("--concurrency={}", options.concurrency()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("client process");
    let stdout = child.stdout.take().expect("child stdout");
    let report = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("child report");
    let cpu = cpu_time().saturating_sub(cpu);
    let after = rss_kib();
    let connected = setup.bridge.connected_devices().len();
    println!("  clients: {}", report.trim());
    println!(
        "  bridge lists {connected} connected devices; bridge-process CPU {:.2} s ({:.0} µs per connect)",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / connected.max(1) as f64
    );
    println!(
        "  RSS (bridge only): {}",
        per_connection(before, after, connected)
    );
    tokio::time::sleep(options.hold()).await;
    println!(
        "  after holding {:?}: bridge lists {} connected devices",
        options.hold(),
        setup.bridge.connected_devices().len()
    );
    drop(child.stdin.take());
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let _ = std::fs::remove_dir_all(&dir);
    setup.bridge.shutdown().await;
}

/// The child of `split`: connects every device listed in `--dir`/tokens, prints one summary
/// line, and holds the connections until its standard input closes.
async fn clients_role(options: &Options) {
    let dir = std::path::PathBuf::from(options.text("dir", "."));
    let port = u16::try_from(options.number("port", 0)).expect("port");
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem")).expect("ca.pem");
    let devices: Vec<setup::Device> = std::fs::read_to_string(dir.join("tokens"))
        .expect("tokens")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, jwt)| setup::Device {
            id: id.to_owned(),
            jwt: jwt.to_owned(),
        })
        .collect();
    let tls = tls_config(&ca_pem);
    let before = rss_kib();
    let cpu = cpu_time();
    let held = connect_all(&devices, port, &tls, options.concurrency()).await;
    let cpu = cpu_time().saturating_sub(cpu);
    let after = rss_kib();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "connected {} of {} in {:.2} s ({:.0} connects/s), {} failed {:?}; connect latency {}; client-process CPU {:.2} s; RSS (clients only) {}",
        held.connected,
        devices.len(),
        held.elapsed.as_secs_f64(),
        held.connected as f64 / held.elapsed.as_secs_f64(),
        held.failed,
        held.reasons,
        percentiles(&held.latency),
        cpu.as_secs_f64(),
        per_connection(before, after, held.connected)
    );
    let _ = out.flush();
    drop(out);
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().lock().read_line(&mut String::new())).await;
}

/// QoS 1 through the bridge into the embedded emulator.
async fn throughput(options: &Options) {
    let devices = usize::try_from(options.number("tp-devices", 100)).expect("devices");
    let shape = throughput::Shape {
        per_device: options.number("tp-messages", 3000),
        inflight: u16::try_from(options.number("inflight", 20)).expect("in-flight window"),
        payload: usize::try_from(options.number("payload", 200)).expect("payload"),
    };
    println!(
        "== throughput: {devices} devices × {} QoS 1 messages of {} B, in-flight window {} (load {})",
        shape.per_device,
        shape.payload,
        shape.inflight,
        load_average()
    );
    println!(
        "  profile google with max_messages_per_second lifted (the 100/s per-device limit would close the connections)"
    );
    let mut profile = Profile::google();
    profile.max_messages_per_second = u32::MAX;
    let tls_on = options.text("tls", "on") != "off";
    if !tls_on {
        println!("  plain TCP (--tls=off)");
    }
    let setup = setup::start(devices, "tp", profile, tls_on).await;
    let tls = tls_on.then(|| tls_config(&setup.ca_pem));
    let started = Instant::now();
    let outcome = throughput::run(setup, tls, shape).await;
    println!(
        "  {} PUBACKs in {:.2} s: {:.0} msgs/s; emulator subscription holds {}; failures {:?}",
        outcome.acked,
        outcome.elapsed.as_secs_f64(),
        outcome.acked as f64 / outcome.elapsed.as_secs_f64(),
        outcome.stored,
        outcome.failures
    );
    println!(
        "  PUBACK latency (publish written → PUBACK): {}",
        percentiles(&outcome.latency)
    );
    println!(
        "  whole phase incl. connects {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
