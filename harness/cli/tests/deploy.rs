//! The deployment files users apply: `ci/k8s/` validated against the Kubernetes schemas by
//! `kubernetes-validate` (strict: unknown fields refused), the scenarios inside its ConfigMap
//! and under `ci/compose/` valid for fleetgate, the Indexed Job handing its completion index to
//! `--shard`, and `docker-compose.yml` checked by docker-compose without a Docker daemon.
//! Both validators are installed by `.ci/run`.

#![allow(clippy::unwrap_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .env_remove("START_AT")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (.ci/run installs it): {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn manifests() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("ci/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    files.sort();
    files
}

#[test]
fn the_kubernetes_manifests_match_the_kubernetes_schemas() {
    let files = manifests();
    assert!(files.len() >= 5, "{files:?}");
    let mut args = vec!["--strict"];
    args.extend(files.iter().map(String::as_str));
    let output = tool("kubernetes-validate", &args, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let kinds = text(&output);
    for kind in [
        "job/fleetgate-shards",
        "job/fleetgate-merge",
        "configmap/fleetgate-scenario",
        "deployment/fleetgate-serve",
        "service/fleetgate-serve",
    ] {
        assert!(
            kinds.contains(&format!("passed for resource {kind}")),
            "{kind}: {kinds}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("shards.yaml");
    let shards = std::fs::read_to_string(root().join("ci/k8s/shards.yaml")).unwrap();
    std::fs::write(&broken, shards.replace("completionMode:", "completionMod:")).unwrap();
    let output = tool(
        "kubernetes-validate",
        &["--strict", broken.to_str().unwrap()],
        &[],
    );
    assert!(!output.status.success(), "a misspelt field must be refused");
    assert!(text(&output).contains("completionMod"), "{}", text(&output));
}

#[test]
fn the_indexed_job_gives_each_pod_its_shard_and_the_scenarios_are_valid() {
    let shards = std::fs::read_to_string(root().join("ci/k8s/shards.yaml")).unwrap();
    assert!(shards.contains("completionMode: Indexed"));
    assert!(shards.contains("--shard=$(JOB_COMPLETION_INDEX)/4"));
    assert!(shards.contains("completions: 4"));
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys, yaml, pathlib\nfor doc in yaml.safe_load_all(open(sys.argv[1])):\n    for name, text in doc['data'].items():\n        pathlib.Path(sys.argv[2], name).write_text(text)\n";
    let configmap = root().join("ci/k8s/scenario.yaml");
    let output = tool(
        "python3",
        &[
            "-c",
            script,
            configmap.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", text(&output));
    let mut files: Vec<String> = ["serve.toml", "fleet.toml"]
        .iter()
        .map(|f| dir.path().join(f).to_str().unwrap().to_owned())
        .collect();
    files.extend(
        ["ci/compose/serve.toml", "ci/compose/fleet.toml"]
            .map(|f| root().join(f).to_str().unwrap().to_owned()),
    );
    let mut args = vec!["validate", "--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let output = tool(env!("CARGO_BIN_EXE_fleetgate"), &args, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn the_compose_file_is_valid_and_asks_for_a_start_time() {
    let output = tool(
        "docker-compose",
        &["-f", "docker-compose.yml", "config"],
        &[("START_AT", "2026-12-03T20:30:00Z")],
    );
    assert!(output.status.success(), "{}", text(&output));
    let config = text(&output);
    for service in ["pubsub:", "serve:", "shard-0:", "shard-1:", "shard-2:", "merge:"] {
        assert!(config.contains(service), "{service}");
    }
    assert!(config.contains("google-cloud-cli:emulators"));
    assert!(config.contains("--shard=2/3") && config.contains("--start-at=2026-12-03T20:30:00Z"));
    let unset = tool(
        "docker-compose",
        &["-f", "docker-compose.yml", "config", "-q"],
        &[],
    );
    assert!(!unset.status.success());
    assert!(text(&unset).contains("set START_AT"), "{}", text(&unset));
}
