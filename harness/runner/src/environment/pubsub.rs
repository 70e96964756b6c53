//! Pub/Sub for a run: the embedded emulator on loopback, an emulator at `host:port`, or Google's
//! emulator in a container fleetgate starts (`super::container`); the scenario's topics and one `<topic>-fleetgate` subscription per topic are created in either.

use std::sync::{Arc, RwLock};

use fleetgate_bridge::Forwarder;
use fleetgate_fleet::shard::Shard;
use fleetgate_identity::google::GoogleIdentity;
use fleetgate_metrics::{Better, Unit};
use fleetgate_pubsub::{EmulatorConfig, EmulatorHandle, Source};
use fleetgate_push::PushTarget;
use fleetgate_report::Measurement;
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::PubsubTarget;
use gcloud_googleapis::pubsub::v1::push_config::{AuthenticationMethod, OidcToken};
use gcloud_googleapis::pubsub::v1::{PushConfig, Subscription, Topic};

use super::EnvironmentError;
use super::container::PubsubContainer;
use crate::forwarders::{EmbeddedPubsub, ExternalPubsub};
use crate::push_tokens::GoogleTokens;

enum Kind {
    Embedded(EmulatorHandle),
    External(Box<ExternalPubsub>),
    Container(Box<PubsubContainer>),
}

/// The run's Pub/Sub.
pub struct PubsubEnv {
    kind: Kind,
    /// `host:port`, as `PUBSUB_EMULATOR_HOST` names it.
    pub address: String,
    /// Full names of the topics created.
    pub topics: Vec<String>,
    /// Full names of the subscriptions created, one per topic.
    pub subscriptions: Vec<String>,
}

impl PubsubEnv {
    /// How the bridge publishes into it.
    pub fn forwarder(&self) -> Arc<dyn Forwarder> {
        match &self.kind {
            Kind::Embedded(handle) => Arc::new(EmbeddedPubsub(handle.emulator().clone())),
            Kind::External(external) => Arc::new((**external).clone()),
            Kind::Container(container) => Arc::new(container.client.clone()),
        }
    }

    /// Creates `name`, an authenticated push subscription on `topic` to `target` (OIDC token
    /// for its service account, audience its own or the URL). Only the embedded emulator can
    /// push with a token (docs/protocol.md §7); the scenario compiler refuses the rest.
    pub(super) fn subscribe_push(
        &self,
        topic: &str,
        name: &str,
        target: &PushTarget,
    ) -> Result<(), EnvironmentError> {
        let Kind::Embedded(handle) = &self.kind else {
            return Err(EnvironmentError::Start(
                "an authenticated push subscription needs the embedded Pub/Sub".into(),
            ));
        };
        let oidc = OidcToken {
            service_account_email: target.service_account.clone(),
            audience: target.audience.clone().unwrap_or_default(),
        };
        let push = PushConfig {
            push_endpoint: target.url.clone(),
            authentication_method: Some(AuthenticationMethod::OidcToken(oidc)),
            ..PushConfig::default()
        };
        let subscription = Subscription {
            name: name.to_owned(),
            topic: topic.to_owned(),
            push_config: Some(push),
            ..Subscription::default()
        };
        handle
            .emulator()
            .create_subscription(subscription)
            .map(|_| ())
            .map_err(|e| EnvironmentError::Start(format!("Pub/Sub: the push subscription {name}: {e}")))
    }

    /// Where a consumer reads this Pub/Sub from.
    pub fn source(&self) -> Source {
        match &self.kind {
            Kind::Embedded(handle) => Source::Embedded(handle.emulator().clone()),
            Kind::External(_) | Kind::Container(_) => Source::External(self.address.clone()),
        }
    }

    /// The most bytes of messages the embedded emulator held at once so far, as the report's
    /// `pubsub.stored_bytes.peak` (none for an external emulator).
    pub fn stored_bytes_peak(&self) -> Option<(String, Measurement)> {
        let Kind::Embedded(handle) = &self.kind else {
            return None;
        };
        let (_, peak) = handle.emulator().stored_bytes();
        let measurement = Measurement {
            value: peak as f64,
            unit: Unit::Count,
            better: Better::Lower,
        };
        Some(("pubsub.stored_bytes.peak".to_owned(), measurement))
    }

    /// Stops the embedded emulator, or removes the container.
    pub(super) async fn shutdown(self) {
        match self.kind {
            Kind::Embedded(handle) => {
                let _ = handle.shutdown().await;
            }
            Kind::Container(container) => container.remove().await,
            Kind::External(_) => {}
        }
    }
}

/// The suffix of the harness's subscriptions: `-fleetgate` for a whole run, and
/// `-fleetgate-shard-I-of-N` for a shard, which watches its own devices' messages only.
pub fn subscription_suffix(shard: Shard) -> String {
    match shard.is_whole() {
        true => "-fleetgate".to_owned(),
        false => format!("-fleetgate-shard-{}-of-{}", shard.index, shard.count),
    }
}

fn names(scenario: &Scenario, shard: Shard) -> (Vec<String>, Vec<String>) {
    let project = &scenario.project;
    let mut ids = vec![project.telemetry_topic.clone()];
    ids.extend(project.routes.iter().map(|r| r.topic.clone()));
    ids.extend(project.state_topic.clone());
    ids.sort();
    ids.dedup();
    let topics = ids
        .iter()
        .map(|t| format!("projects/{}/topics/{t}", project.id))
        .collect();
    let subscriptions = ids
        .iter()
        .map(|t| {
            format!(
                "projects/{}/subscriptions/{t}{}",
                project.id,
                subscription_suffix(shard)
            )
        })
        .collect();
    (topics, subscriptions)
}

/// Starts or reaches the scenario's Pub/Sub and creates its topics and subscriptions. The
/// embedded emulator signs its push tokens with `google`, the identity the Google mock serves.
pub(super) async fn start(
    scenario: &Scenario,
    google: &Arc<RwLock<GoogleIdentity>>,
    options: &super::EnvironmentOptions,
) -> Result<PubsubEnv, EnvironmentError> {
    let shard = options.shard;
    let (topics, subscriptions) = names(scenario, shard);
    let pairs = || topics.iter().zip(&subscriptions);
    let start_error = |e: &dyn std::fmt::Display| EnvironmentError::Start(format!("Pub/Sub: {e}"));
    let (kind, address) = match &scenario.target.pubsub {
        PubsubTarget::Embedded => {
            let config = EmulatorConfig {
                token_source: Some(Arc::new(GoogleTokens::new(Arc::clone(google)))),
                max_stored_bytes: scenario.target.pubsub_max_stored,
                ..EmulatorConfig::default()
            };
            let handle = fleetgate_pubsub::start(options.pubsub_listen, config)
                .await
                .map_err(|e| start_error(&e))?;
            let emulator = handle.emulator();
            for (topic, subscription) in pairs() {
                emulator
                    .create_topic(Topic {
                        name: topic.clone(),
                        ..Topic::default()
                    })
                    .map_err(|e| start_error(&e))?;
                let sub = Subscription {
                    name: subscription.clone(),
                    topic: topic.clone(),
                    ..Subscription::default()
                };
                emulator.create_subscription(sub).map_err(|e| start_error(&e))?;
            }
            let address = handle.local_addr().to_string();
            (Kind::Embedded(handle), address)
        }
        PubsubTarget::Emulator(address) => {
            let external = ExternalPubsub::connect(address)
                .await
                .map_err(|e| start_error(&e))?;
            for (topic, subscription) in pairs() {
                external
                    .ensure(topic, subscription, !shard.is_whole())
                    .await
                    .map_err(|e| start_error(&e))?;
            }
            (Kind::External(Box::new(external)), address.clone())
        }
        PubsubTarget::Container => {
            let container = PubsubContainer::start().await.map_err(EnvironmentError::Start)?;
            for (topic, subscription) in pairs() {
                if let Err(e) = container.client.ensure(topic, subscription, false).await {
                    container.remove().await;
                    return Err(start_error(&e));
                }
            }
            let address = container.address.clone();
            (Kind::Container(Box::new(container)), address)
        }
    };
    Ok(PubsubEnv {
        kind,
        address,
        topics,
        subscriptions,
    })
}
