//! The push side of `fleetgate serve`: `--verifier-only` (the Google mock and the reference
//! verifier alone), the `push` part of the JSON line, and one stderr line per push verdict.

use fleetgate_runner::environment::{self, EnvironmentError, PushEnv};
use fleetgate_runner::push::{Delivery, Verdict};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::PushTarget;
use serde_json::{Value, json};

use crate::exit_codes;
use crate::output::{err, error, out};

/// `fleetgate serve FILE --verifier-only`: runs until Ctrl-C.
pub(crate) fn serve_verifier(scenario: &Scenario) -> anyhow::Result<u8> {
    if let PushTarget::External { url, .. } = &scenario.target.push_endpoint {
        error(&format!(
            "--verifier-only serves the embedded reference verifier, but {} names your endpoint {url} as the push endpoint under test; remove push_endpoint from [target] or serve without --verifier-only",
            scenario.file
        ));
        return Ok(exit_codes::INVALID);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut push = match environment::start_push_only(scenario).await {
            Ok(push) => push,
            Err(EnvironmentError::Input(message)) => {
                error(&message);
                return Ok(exit_codes::INVALID);
            }
            Err(EnvironmentError::Start(message)) => {
                error(&message);
                return Ok(exit_codes::ENVIRONMENT);
            }
        };
        out(&json!({ "scenario": scenario.name, "push": announcement(&push) }).to_string());
        err("fleetgate: serving the push verifier; press Ctrl-C to stop");
        let mut deliveries = push.deliveries.take();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                Some(delivery) = next(&mut deliveries) => err(&describe(&delivery)),
            }
        }
        err("fleetgate: stopping");
        push.shutdown().await;
        Ok(exit_codes::PASSED)
    })
}

/// The next delivery, or never when there is no verifier to hear from.
pub(crate) async fn next(deliveries: &mut Option<fleetgate_runner::push::Deliveries>) -> Option<Delivery> {
    match deliveries {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The `push` part of serve's JSON line: the verifier (or your endpoint) and the mock's URLs.
pub(crate) fn announcement(push: &PushEnv) -> Value {
    let (jwks, pem_certs, openid_configuration) = push.google_urls();
    json!({
        "endpoint": push.target.url,
        "embedded": push.verifier.is_some(),
        "audience": push.target.audience(),
        "service_account": push.target.service_account,
        "subscription": push.subscription,
        "google": {
            "jwks": jwks,
            "pem_certs": pem_certs,
            "openid_configuration": openid_configuration,
        },
    })
}

/// One line per push the verifier answered.
pub(crate) fn describe(delivery: &Delivery) -> String {
    let message = delivery.message.as_ref();
    let id = fleetgate_runner::sanitize::label(message.and_then(|m| m.message_id.as_deref()).unwrap_or("-"));
    let form = match message {
        Some(m) if m.wrapped => "wrapped",
        Some(_) => "unwrapped",
        None => "unreadable",
    };
    let status = delivery.verdict.status();
    match delivery.verdict {
        Verdict::Accepted => format!("push {id} ({form}): accepted, {status}"),
        Verdict::Refused(refusal) => {
            format!("push {id} ({form}): refused, {}, {status}", refusal.id())
        }
    }
}
