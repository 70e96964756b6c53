//! `fleetgate serve FILE`: starts the scenario's embedded parts on loopback for real devices,
//! registers its devices, writes the CA and generated keys to the output folder, prints one JSON
//! line with every address and path, reports each connection attempt and disconnect (and each
//! push the reference verifier answers) on stderr, and runs until interrupted. With
//! `--verifier-only` it serves the push side alone ([`super::serve_push`]).

use std::path::Path;

use fleetgate_runner::bridge_events::{Event, Recorded, Verdict};
use fleetgate_runner::environment::Observe;
use fleetgate_runner::environment::{self, Environment, EnvironmentError, EnvironmentOptions, faults};
use fleetgate_scenario::Scenario;
use serde_json::{Value, json};

use crate::args::ServeArgs;
use crate::commands::run::write_reports;
use crate::commands::serve_push;
use crate::commands::validate::runnable;
use crate::exit_codes;
use crate::output::{error, interrupted, out, prepare_out_dir, stamped};
use fleetgate_runner::observe::Observer;
use fleetgate_runner::sanitize::label;

pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<u8> {
    let Some(scenario) = runnable(&args.file, false) else {
        return Ok(exit_codes::INVALID);
    };
    let scenario = &scenario;
    if args.verifier_only {
        return serve_push::serve_verifier(scenario);
    }
    let out_dir = match prepare_out_dir(args.out.as_deref(), &format!("{}-serve", scenario.name)) {
        Ok(dir) => dir,
        Err(message) => {
            error(&message);
            return Ok(exit_codes::ENVIRONMENT);
        }
    };
    let admin_key = match &args.admin_key_file {
        None => None,
        Some(file) => match std::fs::read_to_string(file) {
            Ok(key) if !key.trim().is_empty() => Some(key.trim().to_owned()),
            Ok(_) => {
                error(&format!("--admin-key-file {}: the file is empty", file.display()));
                return Ok(exit_codes::INVALID);
            }
            Err(e) => {
                error(&format!("--admin-key-file {}: {e}", file.display()));
                return Ok(exit_codes::INVALID);
            }
        },
    };
    let scenario_dir = args.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let options = EnvironmentOptions {
        observe: Observe::Everyone,
        server_names: args.server_names.clone(),
        ca_dir: args.ca_dir.clone(),
        pubsub_listen: args.pubsub_listen,
        admin_key,
        ..EnvironmentOptions::new(args.listen, out_dir, scenario_dir, crate::output::key_progress())
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(scenario, &options))
}

async fn run(scenario: &Scenario, options: &EnvironmentOptions) -> anyhow::Result<u8> {
    let started = std::time::SystemTime::now();
    let mut env = match environment::start(scenario, options).await {
        Ok(env) => env,
        Err(EnvironmentError::Input(message)) => {
            error(&message);
            return Ok(exit_codes::INVALID);
        }
        Err(EnvironmentError::Start(message)) => {
            error(&message);
            return Ok(exit_codes::ENVIRONMENT);
        }
    };
    out(&announcement(scenario, options, &env).to_string());
    stamped("fleetgate: serving; press Ctrl-C to stop (the report of what each device did is written then)");
    let mut schedule = None;
    if let Some(b) = env.bridge.as_ref().filter(|_| !scenario.faults.is_empty()) {
        let note = |fault: &_| stamped(&faults::describe(fault));
        schedule = Some(faults::schedule(b.bridge.clone(), scenario.faults.clone(), note).await);
    }
    let mut deliveries = env.push.as_mut().and_then(|p| p.deliveries.take());
    let events = env.bridge.as_ref().map(|b| std::sync::Arc::clone(&b.events));
    let mut events = match &events {
        Some(events) => Some(events.lock().await),
        None => None,
    };
    let mut observer = Observer::default();
    let stop = interrupted();
    tokio::pin!(stop);
    loop {
        let event = async {
            match events.as_mut() {
                Some(events) => events.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => break,
            Some(recorded) = event => {
                observer.record(&recorded);
                if let Some(line) = describe(&recorded) {
                    stamped(&line);
                }
            }
            Some(delivery) = serve_push::next(&mut deliveries) => stamped(&serve_push::describe(&delivery)),
        }
    }
    stamped("fleetgate: stopping");
    drop(events);
    if let Some(schedule) = schedule {
        schedule.abort();
    }
    env.shutdown().await;
    let report =
        fleetgate_runner::observe::report(scenario, started, observer.summaries(|_| true), Vec::new());
    if let Err(message) = write_reports(&options.out_dir, &report) {
        error(&message);
        return Ok(exit_codes::ENVIRONMENT);
    }
    stamped(&format!(
        "fleetgate: {} device(s) observed; reports in {}",
        report.devices.len(),
        options.out_dir.display()
    ));
    Ok(exit_codes::PASSED)
}

/// The one JSON line: every address and path a device or a person needs.
pub(crate) fn announcement(scenario: &Scenario, options: &EnvironmentOptions, env: &Environment) -> Value {
    let project = &scenario.project;
    let prefix = format!(
        "projects/{}/locations/{}/registries/{}/devices/",
        project.id, project.region, project.registry
    );
    let bridge = env.bridge.as_ref().map(|b| {
        json!({
            "mqtt": b.bridge.local_addr().to_string(),
            "tls": scenario.bridge.tls,
            "ca": b.ca_file.display().to_string(),
            "profile": b.profile,
            "http": format!("https://{}/v1", b.http),
            "admin": format!("http://{}/v1", b.admin),
            "admin_key": b.admin_key,
            "admin_key_file": b.admin_key_file.display().to_string(),
        })
    });
    let cohorts: Vec<Value> = env
        .devices
        .cohorts
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "devices": c.devices,
                "device_id": c.device_id,
                "format": c.format,
                "private_keys": c.keys_dir.join("keys").display().to_string(),
            })
        })
        .collect();
    json!({
        "scenario": scenario.name,
        "out": options.out_dir.display().to_string(),
        "project": { "id": project.id, "region": project.region, "registry": project.registry },
        "client_id_prefix": prefix,
        "bridge": bridge,
        "pubsub": {
            "emulator": env.pubsub.address,
            "topics": env.pubsub.topics,
            "subscriptions": env.pubsub.subscriptions,
        },
        "cohorts": cohorts,
        "devices": env.devices.devices,
        "push": env.push.as_ref().map(serve_push::announcement),
    })
}

/// One line per connection event, for a person watching real devices; packets are not
/// described (they are counted in the report).
pub(crate) fn describe(recorded: &Recorded) -> Option<String> {
    let line = match &recorded.event {
        Event::ConnectAttempt(attempt) => {
            // Every value the peer chose (client id, claims) is escaped and cut on its own, so a
            // client id holding `\nconnect … accepted` cannot forge a line, and a 64 KB one
            // cannot push the verdict out of it.
            let device = label(attempt.device.as_deref().unwrap_or(&attempt.client_id));
            let keep_alive = attempt.keep_alive;
            let claims = attempt
                .claims
                .as_ref()
                .map(|c| {
                    format!(
                        " (alg {}, iat {}, exp {}, aud {})",
                        label(c.alg.as_deref().unwrap_or("-")),
                        c.iat.map_or("-".into(), |v| v.to_string()),
                        c.exp.map_or("-".into(), |v| v.to_string()),
                        label(c.aud.as_deref().unwrap_or("-")),
                    )
                })
                .unwrap_or_default();
            match &attempt.verdict {
                Verdict::Accepted => format!(
                    "connect {device} from {}: accepted, keep-alive {keep_alive} s{claims}",
                    recorded.peer
                ),
                Verdict::Withheld => format!(
                    "connect {device} from {}: CONNACK withheld (injected fault){claims}",
                    recorded.peer
                ),
                Verdict::Refused { connack, reason } => {
                    format!(
                        "connect {device} from {}: refused, {}, CONNACK {connack}{claims}",
                        recorded.peer,
                        label(reason)
                    )
                }
            }
        }
        Event::Disconnected { device, cause } => {
            format!("disconnect {}: {}", label(device), label(&cause.to_string()))
        }
        Event::Dropped { reason } => format!("dropped {}: {}", recorded.peer, label(reason)),
        Event::Packet { .. } | Event::Forwarded { .. } => return None,
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use fleetgate_identity::jwt::PresentedClaims;
    use fleetgate_runner::bridge_events::{ConnectAttempt, Event, Recorded, Verdict};

    use super::describe;

    fn attempt(client_id: &str, aud: &str) -> Recorded {
        Recorded {
            at: 0,
            peer: "6.6.6.6:1883".parse().unwrap(),
            event: Event::ConnectAttempt(ConnectAttempt {
                client_id: client_id.to_owned(),
                device: None,
                claims: Some(PresentedClaims {
                    alg: Some("ES256".into()),
                    kid: None,
                    iat: None,
                    exp: None,
                    aud: Some(aud.to_owned()),
                }),
                server_time: 0,
                keep_alive: 60,
                token_fingerprint: None,
                verdict: Verdict::Refused {
                    connack: 2,
                    reason: "malformed-client-id".into(),
                },
            }),
        }
    }

    #[test]
    fn a_client_id_cannot_forge_a_line_or_push_the_verdict_out() {
        let forged = describe(&attempt(
            "x\nconnect pi-00009 from 6.6.6.6: accepted (FORGED)",
            "p",
        ))
        .unwrap();
        assert!(!forged.contains('\n'), "{forged}");
        assert!(forged.starts_with("connect x\\nconnect pi-00009"), "{forged}");
        let huge = describe(&attempt(&"\u{1b}".repeat(65_536), &"a".repeat(1000))).unwrap();
        assert!(huge.len() < 2_000, "{}", huge.len());
        assert!(!huge.contains('\u{1b}'));
        assert!(
            huge.contains("(65536 bytes in all)") && huge.contains("(1000 bytes in all)"),
            "{huge}"
        );
        assert!(huge.contains("refused, malformed-client-id, CONNACK 2"), "{huge}");
    }
}
