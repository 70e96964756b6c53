//! Test helpers: an embedded emulator whose pushes carry Google-mock tokens, with one topic and
//! one authenticated push subscription to a given endpoint.

#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::sync::{Arc, RwLock};

use fleetgate_identity::google::GoogleIdentity;
use fleetgate_pubsub::{EmulatorConfig, EmulatorHandle};
use fleetgate_runner::push_tokens::GoogleTokens;
use gcloud_googleapis::pubsub::v1::push_config::{AuthenticationMethod, OidcToken};
use gcloud_googleapis::pubsub::v1::{PushConfig, Subscription, Topic};

/// The push service account of the subscription.
pub(crate) const SERVICE_ACCOUNT: &str = "pusher@demo-project.iam.gserviceaccount.com";
/// The topic to publish to.
pub(crate) const TOPIC: &str = "projects/demo-project/topics/telemetry";

/// Starts the emulator with `google` minting push tokens, and subscribes `endpoint` to [`TOPIC`]
/// with an OIDC token for [`SERVICE_ACCOUNT`] (audience: the endpoint URL).
pub(crate) async fn pushing_emulator(google: &Arc<RwLock<GoogleIdentity>>, endpoint: &str) -> EmulatorHandle {
    let config = EmulatorConfig {
        token_source: Some(Arc::new(GoogleTokens::new(Arc::clone(google)))),
        ..EmulatorConfig::default()
    };
    let handle = fleetgate_pubsub::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let emulator = handle.emulator();
    emulator
        .create_topic(Topic {
            name: TOPIC.into(),
            ..Topic::default()
        })
        .unwrap();
    let oidc = OidcToken {
        service_account_email: SERVICE_ACCOUNT.into(),
        audience: String::new(),
    };
    let push = PushConfig {
        push_endpoint: endpoint.to_owned(),
        authentication_method: Some(AuthenticationMethod::OidcToken(oidc)),
        ..PushConfig::default()
    };
    let subscription = Subscription {
        name: "projects/demo-project/subscriptions/pushed".into(),
        topic: TOPIC.into(),
        push_config: Some(push),
        ..Subscription::default()
    };
    emulator.create_subscription(subscription).unwrap();
    handle
}
