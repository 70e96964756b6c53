//! From the scenario and the started environment to the fleet's plan: where devices connect,
//! and what every cohort does.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_fleet::backoff::BackoffPolicy;
use fleetgate_fleet::device::{DeviceSpec, StateSpec, TelemetrySpec, TokenPolicy};
use fleetgate_fleet::driver::conduct::{Judge, TokenSource};
use fleetgate_fleet::driver::{Identity, Scope, Target, tls};
use fleetgate_fleet::engine::{CohortPlan, FleetPlan, PhasePlan};
use fleetgate_fleet::payload::PayloadKind;
use fleetgate_fleet::schedule::ScheduleKind;
use fleetgate_fleet::shard::Shard;
use fleetgate_identity::clock::{ClockModel, ClockStart, DeviceClock};
use fleetgate_identity::jwt::TokenMinter;
use fleetgate_identity::{DeviceKey, KeySpec};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{BridgeTarget, Cohort, FaultKind, PayloadEncoding, Schedule};

use super::addresses;
use super::faulty::{self, MutatedTokens, RulesJudge};
use crate::environment::Environment;

/// Where the fleet connects (the embedded bridge, or the scenario's external one), and the
/// source addresses its devices are spread over (empty: the kernel's choice).
pub(super) fn target(
    scenario: &Scenario,
    env: &Environment,
    scenario_dir: &Path,
) -> Result<(Target, Vec<IpAddr>), String> {
    let project = &scenario.project;
    let client_id_prefix = format!(
        "projects/{}/locations/{}/registries/{}/devices/",
        project.id, project.region, project.registry
    );
    let (host, port, ca, use_tls) = match (&scenario.target.bridge, &env.bridge) {
        (
            BridgeTarget::External {
                host, port, ca, tls, ..
            },
            _,
        ) => (
            host.clone(),
            *port,
            ca.as_ref().map(|c| scenario_dir.join(c)),
            *tls,
        ),
        (BridgeTarget::Embedded, Some(bridge)) => (
            "localhost".to_owned(),
            bridge.bridge.local_addr().port(),
            Some(bridge.ca_file.clone()),
            scenario.bridge.tls,
        ),
        (BridgeTarget::Embedded, None) => return Err("the embedded bridge did not start".to_owned()),
    };
    let tls = match (use_tls, ca) {
        (false, _) => None,
        (true, None) => {
            return Err(format!(
                "{}: [target] bridge uses TLS but names no `ca` file the devices could trust",
                scenario.file
            ));
        }
        (true, Some(ca)) => {
            let pem = std::fs::read(&ca).map_err(|e| format!("cannot read CA {}: {e}", ca.display()))?;
            Some(tls::client_config(&pem, &ca.display().to_string()).map_err(|e| e.to_string())?)
        }
    };
    let addrs = match (&scenario.target.bridge, &env.bridge) {
        (BridgeTarget::Embedded, Some(bridge)) => vec![addresses::reachable(bridge.bridge.local_addr())],
        _ => addresses::resolve(&host, port)?,
    };
    let sources = addresses::sources(&scenario.target.source_addresses, &addrs, &scenario.file)?;
    Ok((
        Target {
            host,
            addrs,
            tls,
            client_id_prefix,
        },
        sources,
    ))
}

/// The fleet plan: every cohort with its keys, clocks, faults, expectations and behaviour, and
/// the phases. With more than one cohort, each cohort's devices are also measured apart. Only
/// `shard`'s devices are planned; each keeps its index in the cohort (key, id, fault, window).
/// The planned devices take `sources` in turn and run on `lanes` threads.
pub(super) fn fleet(
    scenario: &Scenario,
    env: &Environment,
    shard: Shard,
    sources: &[IpAddr],
    lanes: usize,
) -> Result<FleetPlan, String> {
    let origin_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let profile = faulty::profile_under_test(scenario);
    let scoped = scenario.cohorts.len() > 1;
    let mut cohorts = Vec::new();
    let mut placed = 0_usize;
    for (cohort, keys) in scenario.cohorts.iter().zip(&env.devices.cohorts) {
        let start = match cohort.clock.start {
            None => ClockStart::Synced,
            Some(secs) => ClockStart::FixedDate(secs),
        };
        let clock = DeviceClock::new(
            ClockModel {
                skew_ms: (cohort.clock.skew.as_secs_f64() * 1000.0).round() as i64,
                drift_ppm: cohort.clock.drift_ppm,
                start,
            },
            origin_ms,
        );
        let lifetime = i64::try_from(cohort.token.lifetime.as_secs()).unwrap_or(i64::MAX);
        let scope = scoped.then(|| Arc::new(Scope::new(&cohort.name)));
        let other_key = match cohort.fault.as_ref().map(|f| f.kind) {
            Some(FaultKind::Token(_)) => Some(Arc::new(
                DeviceKey::generate(keys.keys.first().map_or(KeySpec::P256, |k| k.spec())).map_err(|e| {
                    format!(
                        "cohort `{}`: cannot make the key of another device: {e}",
                        cohort.name
                    )
                })?,
            )),
            _ => None,
        };
        let devices = keys
            .keys
            .iter()
            .enumerate()
            .filter(|(index, _)| shard.holds(*index as u64))
            .map(|(index, key)| {
                let faulty = cohort.fault.as_ref().filter(|f| f.carried_by(index as u64));
                let minter = || -> Arc<dyn TokenSource> {
                    Arc::new(TokenMinter::new(
                        Arc::clone(key),
                        &scenario.project.id,
                        lifetime,
                        clock,
                    ))
                };
                let tokens = match (faulty.map(|f| f.kind), &other_key) {
                    (Some(FaultKind::Token(mutation)), Some(other)) => Arc::new(MutatedTokens {
                        mutation,
                        key: Arc::clone(key),
                        other_key: Arc::clone(other),
                        audience: scenario.project.id.clone(),
                        clock,
                        skew_secs: profile.jwt.skew_secs,
                    }),
                    _ => minter(),
                };
                let registered = !matches!(faulty.map(|f| f.kind), Some(FaultKind::Credential(_)));
                let judged = faulty.is_some() || faulty::clock_needs_judging(&clock);
                let judge = judged.then(|| {
                    let stated = faulty.and(cohort.expect.clone());
                    Arc::new(RulesJudge::new(
                        &scenario.project.id,
                        key,
                        registered,
                        &profile,
                        stated,
                    )) as Arc<dyn Judge>
                });
                let source = sources.get(placed % sources.len().max(1)).copied();
                placed += 1;
                Identity {
                    id: cohort.device_id.render(index as u64),
                    tokens,
                    alg: key.alg(),
                    judge,
                    scope: scope.clone(),
                    source,
                }
            })
            .collect();
        cohorts.push(CohortPlan {
            name: cohort.name.clone(),
            spec: Arc::new(spec(cohort)),
            devices,
            size: keys.keys.len(),
            connect_rate: cohort.connect_rate.map(|r| r.per_second()),
        });
    }
    Ok(FleetPlan {
        seed: scenario.seed,
        cohorts,
        phases: scenario
            .phases
            .iter()
            .map(|p| PhasePlan {
                name: p.name.clone(),
                ramp: p.ramp,
                hold: p.hold,
                ramp_down: p.ramp_down,
                churn_per_min: p.churn_per_min,
            })
            .collect(),
        shard,
        lanes,
    })
}

fn spec(cohort: &Cohort) -> DeviceSpec {
    DeviceSpec {
        telemetry: cohort.telemetry.as_ref().map(|t| TelemetrySpec {
            every: t.every,
            schedule: match t.schedule {
                Schedule::Fixed => ScheduleKind::Fixed,
                Schedule::Poisson => ScheduleKind::Poisson,
            },
            payload_bytes: usize::try_from(t.payload_bytes).unwrap_or(usize::MAX),
            kind: match t.payload {
                PayloadEncoding::Json => PayloadKind::Json,
                PayloadEncoding::Binary => PayloadKind::Binary,
            },
            qos: t.qos,
            subfolder: t.subfolder.clone(),
            count: t.count,
        }),
        state: cohort.state.map(|s| StateSpec {
            every: s.every,
            bytes: usize::try_from(s.bytes).unwrap_or(usize::MAX),
        }),
        token: TokenPolicy {
            lifetime: cohort.token.lifetime,
            refresh_at: cohort.token.refresh_at,
        },
        backoff: BackoffPolicy {
            min: cohort.backoff.min,
            max: cohort.backoff.max,
            multiplier: cohort.backoff.multiplier,
        },
        queue_limit: usize::try_from(cohort.offline_queue).unwrap_or(usize::MAX),
        drain_timeout: Duration::from_secs(10),
    }
}
