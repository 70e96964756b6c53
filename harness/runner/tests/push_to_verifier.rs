//! The whole authenticated-push hop with fleetgate's own parts: the embedded emulator pushes
//! with tokens from the Google mock's identity, and the reference verifier fetches the mock's
//! JWKS over HTTP, accepts the push, and records the delivery with its payload and attributes.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use fleetgate_push::verifier::{self, Verdict, VerifierConfig};
use fleetgate_push::{Endpoint, GoogleMock, GoogleMockConfig};
use gcloud_googleapis::pubsub::v1::PubsubMessage;

use common::SERVICE_ACCOUNT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_pushes_and_the_reference_verifier_accepts_and_records() {
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    let mock = GoogleMock::generate(now, GoogleMockConfig::default())
        .await
        .unwrap();
    let (verifier, mut deliveries) = verifier::start(VerifierConfig::new(mock.jwks_url(), SERVICE_ACCOUNT))
        .await
        .unwrap();

    let handle = common::pushing_emulator(mock.identity(), &verifier.url()).await;
    let emulator = handle.emulator();
    let topic = common::TOPIC;
    let message = PubsubMessage {
        data: b"21.5C".to_vec(),
        attributes: HashMap::from([("deviceId".to_owned(), "pi-1".to_owned())]),
        ..PubsubMessage::default()
    };
    emulator.publish(topic, vec![message]).unwrap();

    let delivery = deliveries.recv().await.unwrap();
    assert_eq!(delivery.verdict, Verdict::Accepted);
    let pushed = delivery.message.unwrap();
    assert_eq!(pushed.data.as_ref(), b"21.5C");
    assert_eq!(pushed.attributes["deviceId"], "pi-1");
    assert_eq!(
        mock.requests(Endpoint::Jwks),
        1,
        "the verifier fetched the mock's JWKS once"
    );
    let _ = handle.shutdown().await;
    verifier.shutdown().await.unwrap();
}
