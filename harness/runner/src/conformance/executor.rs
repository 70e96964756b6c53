//! Runs the selected bridge cases: builds the target from the environment, runs independent
//! cases concurrently (bounded) and the ones that move the bridge's clock or set bridge-wide
//! faults one at a time afterwards, and turns each observation into a verdict.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::session::RegistryPath;
use fleetgate_report::{CaseResult, Verdict};
use fleetgate_scenario::model::{BridgeTarget, CaseExpectation, Profile as ScenarioProfile, PubsubTarget};
use futures_util::StreamExt;
use tokio::sync::Notify;

use super::catalogue::{self, BridgeCase, Check, Outcome};
use super::checks::{self, Ctx, Pubsub};
use super::evidence::judge;
use super::probe::{Endpoint, client_tls};
use super::target::{Embedded, EventLog, ExternalDevice, Target};
use crate::cases::CaseContext;
use crate::events::RunEvent;

/// How many independent cases run at once.
const CONCURRENCY: usize = 16;

/// How long a probe waits for any one answer, unless the scenario says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long expiry cases against an external bridge wait past `exp` + skew's start.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

fn profile_of(profile: ScenarioProfile) -> Profile {
    match profile {
        ScenarioProfile::Google => Profile::google(),
        ScenarioProfile::ClearBlade => Profile::clearblade(),
    }
}

/// The target the scenario names, or why it cannot be reached.
fn target(ctx: &CaseContext<'_>, events: &Arc<EventLog>) -> Result<Target, String> {
    let scenario = ctx.scenario;
    let project = &scenario.project;
    let path = RegistryPath {
        project: project.id.clone(),
        region: project.region.clone(),
        registry: project.registry.clone(),
    };
    let timeout = DEFAULT_TIMEOUT;
    match (&scenario.target.bridge, &ctx.env.bridge) {
        (BridgeTarget::Embedded, Some(bridge)) => {
            let ca = std::fs::read_to_string(&bridge.ca_file)
                .map_err(|e| format!("cannot read {}: {e}", bridge.ca_file.display()))?;
            let endpoint = Endpoint {
                host: "localhost".to_owned(),
                port: bridge.bridge.local_addr().port(),
                tls: if scenario.bridge.tls {
                    Some(client_tls(&ca, &bridge.ca_file.display().to_string()).map_err(|e| e.to_string())?)
                } else {
                    None
                },
                timeout,
            };
            let embedded = Embedded {
                bridge: bridge.bridge.clone(),
                store: Arc::clone(&bridge.store),
                events: Arc::clone(events),
            };
            let profile = Profile::named(bridge.profile).unwrap_or_else(Profile::google);
            Ok(Target::new(endpoint, profile, path, Some(embedded), Vec::new()))
        }
        (
            BridgeTarget::External {
                host,
                port,
                ca,
                profile,
                tls,
                devices,
            },
            _,
        ) => {
            let tls_config = match (tls, ca) {
                (false, _) => None,
                (true, None) => {
                    return Err(
                        "[target.bridge] needs `ca`, the PEM CA file the bridge's certificate chains to"
                            .into(),
                    );
                }
                (true, Some(ca)) => {
                    let file = ctx.scenario_dir.join(ca);
                    let pem = std::fs::read_to_string(&file)
                        .map_err(|e| format!("cannot read the bridge CA {}: {e}", file.display()))?;
                    Some(client_tls(&pem, &file.display().to_string()).map_err(|e| e.to_string())?)
                }
            };
            let mut external = Vec::new();
            for device in devices {
                let file = ctx.scenario_dir.join(&device.key);
                let key = fleetgate_identity::DeviceKey::load(&file)
                    .map_err(|e| format!("device `{}` of [target.bridge]: {e}", device.id))?;
                external.push(ExternalDevice {
                    id: device.id.clone(),
                    key: Arc::new(key),
                });
            }
            let endpoint = Endpoint {
                host: host.clone(),
                port: *port,
                tls: tls_config,
                timeout,
            };
            Ok(Target::new(endpoint, profile_of(*profile), path, None, external))
        }
        (BridgeTarget::Embedded, None) => Err("the embedded bridge did not start".into()),
    }
}

/// Runs `cases` (bridge cases, in catalogue order) and tells `watch` of each verdict.
pub(crate) async fn run(
    ctx: &CaseContext<'_>,
    cases: &[&'static BridgeCase],
    watch: &mut dyn FnMut(&RunEvent),
) -> Vec<CaseResult> {
    let events = Arc::new(EventLog::default());
    let stop = Arc::new(Notify::new());
    let collector = ctx.env.bridge.as_ref().map(|bridge| {
        let (events, stop, rx) = (Arc::clone(&events), Arc::clone(&stop), Arc::clone(&bridge.events));
        tokio::spawn(async move {
            let mut rx = rx.lock().await;
            events.collect(&mut rx, stop).await;
        })
    });
    let target = match target(ctx, &events) {
        Ok(target) => target,
        Err(reason) => {
            return finish(cases, watch, |case| {
                skipped(case, format!("could not run: {reason}"), Verdict::Failed)
            });
        }
    };
    let pubsub = Pubsub::start(&ctx.env.pubsub.address, &ctx.env.pubsub.topics)
        .await
        .ok();
    let checks_ctx = Ctx {
        endpoint: target.endpoint.clone(),
        target: &target,
        pubsub: pubsub.as_ref(),
        wait: DEFAULT_WAIT,
    };
    let mut results: BTreeMap<usize, CaseResult> = BTreeMap::new();
    let (exclusive, shared): (Vec<_>, Vec<_>) = cases.iter().enumerate().partition(|(_, c)| c.exclusive());
    let mut concurrent = futures_util::stream::iter(shared)
        .map(|(i, case)| {
            let checks_ctx = &checks_ctx;
            async move { (i, one(ctx, checks_ctx, case).await) }
        })
        .buffer_unordered(if target.embedded.is_some() { CONCURRENCY } else { 1 });
    while let Some((i, result)) = concurrent.next().await {
        watch(&RunEvent::CaseFinished(result.clone()));
        results.insert(i, result);
    }
    drop(concurrent);
    for (i, case) in exclusive {
        let result = one(ctx, &checks_ctx, case).await;
        watch(&RunEvent::CaseFinished(result.clone()));
        results.insert(i, result);
    }
    if let Some(pubsub) = pubsub {
        pubsub.stop().await;
    }
    stop.notify_one();
    if let Some(collector) = collector {
        let _ = collector.await;
    }
    results.into_values().collect()
}

fn finish(
    cases: &[&'static BridgeCase],
    watch: &mut dyn FnMut(&RunEvent),
    result: impl Fn(&BridgeCase) -> CaseResult,
) -> Vec<CaseResult> {
    cases
        .iter()
        .map(|case| {
            let result = result(case);
            watch(&RunEvent::CaseFinished(result.clone()));
            result
        })
        .collect()
}

fn skipped(case: &BridgeCase, message: String, verdict: Verdict) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        device: None,
        rule: case.rule.clone(),
        verdict,
        duration_secs: 0.0,
        message: Some(message),
        evidence: BTreeMap::new(),
    }
}

/// Why the pipeline cases cannot be judged on an external bridge reading the embedded Pub/Sub.
const PIPELINE_UNKNOWN: &str = "skipped: an external bridge forwards to its own Pub/Sub, which fleetgate does not know: set [target] pubsub = { emulator = \"host:port\" } to where it forwards";

/// Runs one case and judges it.
async fn one(ctx: &CaseContext<'_>, checks_ctx: &Ctx<'_>, case: &BridgeCase) -> CaseResult {
    let (mut expected, detail) = case.expected(&checks_ctx.target.profile);
    match ctx.scenario.case_settings.expectation(&case.id) {
        Some(CaseExpectation::Skip) => {
            return skipped(
                case,
                "skipped: the scenario's [cases.expect] says skip".into(),
                Verdict::Skipped,
            );
        }
        Some(CaseExpectation::Accept) => expected = Outcome::Accept,
        Some(CaseExpectation::Refuse) => expected = Outcome::Refuse,
        None => {}
    }
    if let Some(reason) = checks::unsupported(case.check, checks_ctx.target) {
        return skipped(case, reason, Verdict::Skipped);
    }
    if let (Check::Pipeline(_), None, PubsubTarget::Embedded) = (
        case.check,
        &checks_ctx.target.embedded,
        &ctx.scenario.target.pubsub,
    ) {
        return skipped(case, PIPELINE_UNKNOWN.to_owned(), Verdict::Skipped);
    }
    let params = ctx.scenario.case_settings.params(&case.id);
    let mut case_ctx = checks_ctx.clone();
    case_ctx.endpoint.timeout = params.timeout.unwrap_or(DEFAULT_TIMEOUT);
    case_ctx.wait = params.wait.unwrap_or(DEFAULT_WAIT);
    let started = Instant::now();
    let observed = checks::run(case.check, &case_ctx).await;
    let duration_secs = started.elapsed().as_secs_f64();
    let (verdict, message, mut evidence) = match observed {
        Err(problem) => (
            Verdict::Failed,
            Some(format!("could not run: {problem}")),
            BTreeMap::new(),
        ),
        Ok(seen) => match judge(expected, &detail, &seen) {
            Ok(()) => (Verdict::Passed, None, seen.evidence),
            Err(why) => (Verdict::Failed, Some(why), seen.evidence),
        },
    };
    evidence.insert("expected".to_owned(), expected_text(expected, &detail));
    evidence.insert("profile".to_owned(), checks_ctx.target.profile.name.to_owned());
    CaseResult {
        id: case.id.clone(),
        device: None,
        rule: case.rule.clone(),
        verdict,
        duration_secs,
        message,
        evidence,
    }
}

fn expected_text(outcome: Outcome, detail: &catalogue::RefusalDetail) -> String {
    let mut text = outcome.word().to_owned();
    if outcome == Outcome::Refuse {
        if let Some(code) = detail.connack {
            text.push_str(&format!(", CONNACK {code}"));
        }
        if let Some(reason) = &detail.reason {
            text.push_str(&format!(", `{reason}`"));
        }
    }
    text
}
