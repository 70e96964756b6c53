//! Command-line arguments.

use std::path::PathBuf;
use std::time::SystemTime;

use fleetgate_runner::Shard;

use clap::{Args, Parser, Subcommand};

/// fleetgate: end-to-end conformance and load tests for IoT-Core-style Raspberry Pi fleets.
///
/// Exit codes: 0 passed · 1 a case, gate or baseline comparison failed · 2 invalid scenario or
/// arguments · 3 environment could not start or target unreachable · 4 internal error ·
/// 5 interrupted (Ctrl-C, SIGTERM).
#[derive(Debug, Parser)]
#[command(name = "fleetgate", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a scenario and write its reports (report.json, junit.xml, summary.md, report.html).
    Run(RunArgs),
    /// Check scenario files and print every error and warning with its location.
    Validate(ValidateArgs),
    /// Print the JSON schema of scenario files (--report: of report.json; --markdown: the reference).
    Schema(SchemaArgs),
    /// List the conformance cases this build can run.
    Cases,
    /// Start the scenario's embedded parts for real devices and run until interrupted.
    Serve(ServeArgs),
    /// Qualify real devices: play bridge, Pub/Sub and Google, run the device.* cases against
    /// every [[device]] that connects, write the reports.
    Qualify(QualifyArgs),
    /// Device key pools.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Reports: merge the reports of a sharded run.
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Merge the reports of the shards of one run (`run --shard I/N`) into one, losslessly:
    /// histograms merged, counters summed, ratios recomputed, gates judged on the merged figures.
    /// Writes the same report files as `run` and exits like it.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The shards' report folders (each with its report.json), or report.json files.
    #[arg(required = true, value_name = "DIR")]
    pub(crate) dirs: Vec<PathBuf>,
    /// Write the merged reports to this folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Merge even when shards are missing (a shard crashed); the report names them.
    #[arg(long)]
    pub(crate) partial: bool,
    /// The scenario file the shards ran: its [baseline] table sets how the merged figures are
    /// compared with --baseline (the defaults without it).
    #[arg(long, value_name = "FILE", requires = "baseline")]
    pub(crate) scenario: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) baseline: BaselineArgs,
}

/// The comparison with an earlier run, shared by `run` and `report merge`.
#[derive(Debug, Args)]
pub(crate) struct BaselineArgs {
    /// Compare with an earlier run's report.json of the same scenario, as its [baseline] table
    /// says (by default p50/p99 latencies, throughput, delivery and losses, and case verdicts).
    #[arg(id = "baseline", long = "baseline", value_name = "REPORT_JSON")]
    pub(crate) file: Option<PathBuf>,
    /// How much worse than the baseline a latency or rate may be, such as "25%" (replaces
    /// [baseline] tolerance).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, requires = "baseline")]
    pub(crate) tolerance: Option<f64>,
    /// A latency change smaller than this is never a regression, such as "1ms" (replaces
    /// [baseline] noise_floor).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "baseline")]
    pub(crate) noise_floor: Option<std::time::Duration>,
    /// A measurement key or glob to compare (repeatable; replaces [baseline] compare).
    #[arg(long = "compare", value_name = "KEY", requires = "baseline")]
    pub(crate) compare: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The scenario file.
    pub(crate) file: PathBuf,
    /// Write the reports to this folder [default: reports/<scenario>-<UTC time>/].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) baseline: BaselineArgs,
    /// Refuse to run a scenario that has warnings.
    #[arg(long)]
    pub(crate) deny_warnings: bool,
    /// The embedded bridge's MQTT address; another than loopback lets real devices join the
    /// run (they are reported device by device).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// A host name or address real devices use to reach this machine, added to the generated
    /// server certificate (repeatable).
    #[arg(long = "server-name", value_name = "NAME")]
    pub(crate) server_names: Vec<String>,
    /// Keep the generated CA in DIR (ca.pem, ca.key) and reuse it on later runs, so that real
    /// devices are given ca.pem once.
    #[arg(long, value_name = "DIR")]
    pub(crate) ca_dir: Option<PathBuf>,
    /// Run the I-th of N disjoint slices of every cohort (I from 0 to N-1, as Kubernetes'
    /// JOB_COMPLETION_INDEX): device k of a cohort runs in shard k mod N, with the id, key and
    /// seed the whole run gives it. Merge the shards' reports with `fleetgate report merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub(crate) shard: Option<Shard>,
    /// Start the load phases at this instant (RFC 3339, such as 2026-12-03T20:30:00Z), so that
    /// the shards of a run ramp and hold together; the environment is set up before it.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub(crate) start_at: Option<SystemTime>,
    /// Run the virtual devices on N threads [default: half the cores, at least 1]. The rest of
    /// the machine is left to what the fleet drives and to the kernel's part of every message.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) lanes: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct QualifyArgs {
    /// The scenario file: its [[device]] entries are the devices under test.
    pub(crate) file: PathBuf,
    /// The bridge's MQTT address; real Pis need one they can reach, such as 0.0.0.0:8883.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// Write the CA, keys and reports here [default: reports/<scenario>-qualify-<UTC time>/].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// A host name or address the devices use to reach this machine, added to the generated
    /// server certificate (repeatable).
    #[arg(long = "server-name", value_name = "NAME")]
    pub(crate) server_names: Vec<String>,
    /// Keep the generated CA in DIR (ca.pem, ca.key) and reuse it on later runs, so that real
    /// devices are given ca.pem once.
    #[arg(long, value_name = "DIR")]
    pub(crate) ca_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a key pool once (deterministic from the seed, on every core) for fast loading.
    Generate(KeysGenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeysGenerateArgs {
    /// RS256 or ES256.
    #[arg(long)]
    pub(crate) alg: String,
    /// How many keys.
    #[arg(long)]
    pub(crate) count: usize,
    /// The pool folder to write (manifest.json and keys/).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// The seed the keys derive from.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// RSA key size: 1024, 2048, 3072 or 4096 [default: 2048].
    #[arg(long)]
    pub(crate) bits: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The scenario file.
    pub(crate) file: PathBuf,
    /// The bridge's MQTT address; the HTTP device bridge listens on the same host.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// Read the admin API's key from FILE instead of generating one for this run.
    #[arg(long, value_name = "FILE", conflicts_with = "verifier_only")]
    pub(crate) admin_key_file: Option<PathBuf>,
    /// Write the CA, generated keys and, when stopped, the reports of what the devices did
    /// here [default: reports/<scenario>-serve-<UTC time>/].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// A host name or address real devices use to reach this machine, added to the generated
    /// server certificate (repeatable).
    #[arg(long = "server-name", value_name = "NAME", conflicts_with = "verifier_only")]
    pub(crate) server_names: Vec<String>,
    /// Keep the generated CA in DIR (ca.pem, ca.key) and reuse it on later runs, so that real
    /// devices are given ca.pem once.
    #[arg(long, value_name = "DIR")]
    pub(crate) ca_dir: Option<PathBuf>,
    /// Serve only the push side: the Google mock and the reference push verifier (no bridge,
    /// no Pub/Sub), logging each push's verdict.
    #[arg(long, conflicts_with_all = ["listen", "out", "pubsub_listen"])]
    pub(crate) verifier_only: bool,
    /// The embedded Pub/Sub's address; another than loopback lets the shards of a run on other
    /// machines consume from it (such as 0.0.0.0:8085).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) pubsub_listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Scenario files to check; a folder checks every *.toml file in it.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub(crate) files: Vec<PathBuf>,
    /// Treat warnings as errors (for CI).
    #[arg(long)]
    pub(crate) deny_warnings: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Print the schema of report.json instead of the scenario format.
    #[arg(long, conflicts_with = "markdown")]
    pub(crate) report: bool,
    /// Print the scenario format as the Markdown reference the README embeds.
    #[arg(long)]
    pub(crate) markdown: bool,
}

/// Parses `"10%"` or `"10"` as a percentage from 0 to 1000.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if (0.0..=1000.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "\"{text}\" is not a percentage; use a number from 0 to 1000, such as \"10%\""
        )),
    }
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
        .map_err(|e: fleetgate_runner::ShardError| e.to_string())
}

fn parse_time(text: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339_weak(text.trim()).map_err(|e| {
        format!("\"{text}\" is not an RFC 3339 time ({e}); write one such as 2026-12-03T20:30:00Z")
    })
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("\"{text}\" is not a duration ({e}); use a duration such as \"1ms\" or \"500us\"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_take_an_optional_percent_sign() {
        assert_eq!(parse_percent("10%"), Ok(10.0));
        assert_eq!(parse_percent("2.5"), Ok(2.5));
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("ten").is_err());
    }

    #[test]
    fn shards_and_start_times_are_checked() {
        assert_eq!(parse_shard("1/3").map(|s| s.to_string()), Ok("1/3".to_owned()));
        assert!(parse_shard("3/3").unwrap_err().contains("out of range"));
        assert!(parse_shard("0/0").unwrap_err().contains("0 shards"));
        assert!(parse_time("2026-12-03T20:30:00Z").is_ok());
        assert!(parse_time("tomorrow").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn lanes_are_a_whole_number_from_1() {
        let lanes = |n: &str| Cli::try_parse_from(["fleetgate", "run", "s.toml", "--lanes", n]);
        let Ok(Cli {
            command: Command::Run(args),
        }) = lanes("3")
        else {
            panic!("--lanes 3 is accepted");
        };
        assert_eq!(args.lanes, Some(3));
        for bad in ["0", "1025", "two"] {
            let error = lanes(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("--lanes"), "--lanes {bad}: {error}");
        }
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
