//! A Google mock and a verifier trusting it, and a client posting pushes to it.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // shared by several test binaries

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_identity::google::PushClaims;
use fleetgate_push::verifier::{self, Deliveries, Delivery, VerifierConfig, VerifierHandle};
use fleetgate_push::{GoogleMock, GoogleMockConfig};

pub const SERVICE_ACCOUNT: &str = "pusher@demo-project.iam.gserviceaccount.com";

pub const WRAPPED: &str = r#"{"message":{"data":"aGVsbG8=","attributes":{"device":"pi-7"},"messageId":"42","message_id":"42","publishTime":"2026-01-01T00:00:00.000Z","publish_time":"2026-01-01T00:00:00.000Z"},"subscription":"projects/demo-project/subscriptions/pushed"}"#;

pub fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

pub struct Setup {
    pub mock: GoogleMock,
    pub verifier: VerifierHandle,
    pub deliveries: Deliveries,
    pub client: reqwest::Client,
}

impl Setup {
    /// A mock serving with `max_age_secs`, a verifier trusting its JWKS with default audience.
    pub async fn start(max_age_secs: u64) -> Self {
        let config = GoogleMockConfig {
            max_age: Duration::from_secs(max_age_secs),
        };
        let mock = GoogleMock::generate(now(), config).await.unwrap();
        let (verifier, deliveries) = verifier::start(VerifierConfig::new(mock.jwks_url(), SERVICE_ACCOUNT))
            .await
            .unwrap();
        Self {
            mock,
            verifier,
            deliveries,
            client: reqwest::Client::new(),
        }
    }

    /// Valid claims for this verifier, issued now.
    pub fn claims(&self) -> PushClaims {
        PushClaims::new(&self.verifier.url(), SERVICE_ACCOUNT, now())
    }

    /// A fresh valid token from the mock's active key.
    pub fn token(&self) -> String {
        self.mock.push_token(&self.claims()).unwrap()
    }

    /// Posts a wrapped push with `authorization` (the whole header value); status and body.
    pub async fn post(&self, authorization: Option<&str>) -> (u16, String) {
        self.post_with(authorization, &[], WRAPPED).await
    }

    /// Posts `body` with extra `headers`.
    pub async fn post_with(
        &self,
        authorization: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut request = self.client.post(self.verifier.url()).body(body.to_owned());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Posts a wrapped push carrying `token`.
    pub async fn push(&self, token: &str) -> (u16, String) {
        self.post(Some(&format!("Bearer {token}"))).await
    }

    /// The delivery of the push just answered (recorded before the answer was sent).
    pub fn delivery(&mut self) -> Delivery {
        self.deliveries.try_recv().unwrap()
    }
}
