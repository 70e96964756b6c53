//! Runs push cases against an endpoint URL: mints each case's token from the Google mock's
//! identity, sends a realistic Pub/Sub push, and judges the answer.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fleetgate_identity::google::mutations::{PushContext, PushMutation};
use fleetgate_identity::google::{GoogleError, PushClaims};
use fleetgate_identity::{DeviceKey, KeyError, KeySpec};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::catalogue::{Expectation, PushCase, Request};
use super::outcome::{Answer, CaseOutcome, judge};
use crate::GoogleMock;

/// The endpoint under test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// Where pushes are POSTed.
    pub url: String,
    /// The `aud` the endpoint expects; `None` means [`PushTarget::url`], Pub/Sub's default.
    pub audience: Option<String>,
    /// The push service account, the `email` the endpoint expects.
    pub service_account: String,
}

impl PushTarget {
    /// An endpoint at `url` expecting its own URL as audience and `service_account` as email.
    pub fn new(url: impl Into<String>, service_account: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            audience: None,
            service_account: service_account.into(),
        }
    }

    /// The audience valid tokens carry.
    pub fn audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.url)
    }
}

/// How cases are sent and judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// The statuses that count as a refusal (401 and 403 by default); acceptance is any 2xx.
    pub refusal_statuses: Vec<u16>,
    /// The largest clock skew the endpoint may allow: expired and future tokens miss it by 60 s.
    /// 300 s by default (Node google-auth's, the most tolerant common default).
    pub endpoint_skew: Duration,
    /// How long before sending tokens are issued, so that an endpoint with no skew (google-auth
    /// ≥ 2.1) and a clock a second behind still sees valid tokens as valid. 5 s by default.
    pub issued_ago: Duration,
    /// Timeout of one push request.
    pub timeout: Duration,
    /// The subscription named in each push.
    pub subscription: String,
    /// The audience of another service, for the replay case.
    pub other_audience: String,
    /// Expectations the scenario states instead of the catalogue's (`[cases.expect]`), for an
    /// endpoint that differs on purpose.
    pub overrides: std::collections::BTreeMap<PushCase, Expectation>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            refusal_statuses: vec![401, 403],
            endpoint_skew: Duration::from_secs(300),
            issued_ago: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            subscription: "projects/fleetgate/subscriptions/telemetry-push".to_owned(),
            other_audience: "https://billing.other-service.example/pubsub/push".to_owned(),
            overrides: std::collections::BTreeMap::new(),
        }
    }
}

/// Why a run could not go on (an endpoint's wrong answer is a failed case, not an error).
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The HTTP client could not be built.
    #[error("building the push HTTP client: {error}")]
    Client {
        /// The client error.
        error: reqwest::Error,
    },
    /// The rogue RSA key could not be generated.
    #[error("generating the rogue RSA key: {error}")]
    RogueKey {
        /// The key error.
        error: KeyError,
    },
    /// The Google mock could not rotate its keys.
    #[error("rotating the Google mock's keys: {error}")]
    Rotate {
        /// The mock's error.
        error: GoogleError,
    },
    /// A case's token could not be signed.
    #[error("minting the token of {case}: {error}")]
    Mint {
        /// The case id.
        case: &'static str,
        /// The key error.
        error: KeyError,
    },
}

/// Runs `cases` in order against `target`, whose endpoint trusts `mock`'s keys. The mock is
/// rotated once, before the first case that [`PushCase::needs_rotation`].
pub async fn run(
    mock: &GoogleMock,
    target: &PushTarget,
    config: &ExecutorConfig,
    cases: &[PushCase],
) -> Result<Vec<CaseOutcome>, CaseError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(config.timeout)
        .build()
        .map_err(|error| CaseError::Client { error })?;
    let rogue = DeviceKey::generate(KeySpec::RSA_2048).map_err(|error| CaseError::RogueKey { error })?;
    let mut rotated = false;
    let mut outcomes = Vec::with_capacity(cases.len());
    for (seq, case) in cases.iter().copied().enumerate() {
        if case.needs_rotation() && !rotated {
            mock.rotate(unix_now())
                .map_err(|error| CaseError::Rotate { error })?;
            rotated = true;
        }
        let push = prepare(mock, &rogue, target, config, case, seq)?;
        let started = Instant::now();
        let answer = send(&client, &target.url, &push).await;
        let expect = config.overrides.get(&case).copied().unwrap_or(case.expectation());
        outcomes.push(judge(
            case,
            expect,
            &push.describe,
            answer,
            &config.refusal_statuses,
            started.elapsed(),
        ));
    }
    Ok(outcomes)
}

/// One push request, ready to send.
struct Push {
    authorization: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    describe: String,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn prepare(
    mock: &GoogleMock,
    rogue: &DeviceKey,
    target: &PushTarget,
    config: &ExecutorConfig,
    case: PushCase,
    seq: usize,
) -> Result<Push, CaseError> {
    let issued = unix_now() - i64::try_from(config.issued_ago.as_secs()).unwrap_or(0);
    let claims = PushClaims::new(target.audience(), &target.service_account, issued);
    let skew_secs = i64::try_from(config.endpoint_skew.as_secs()).unwrap_or(i64::MAX / 4);
    let mint = |mutation: PushMutation, claims: &PushClaims| {
        let google = mock
            .identity()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ctx = PushContext {
            google: &google,
            rogue,
            claims,
            skew_secs,
        };
        mutation.build(&ctx).map_err(|error| CaseError::Mint {
            case: case.id(),
            error,
        })
    };
    let message = Message::new(case, seq, &config.subscription);
    let (authorization, describe) = match case.request() {
        Request::Token(mutation) => (
            Some(format!("Bearer {}", mint(mutation, &claims)?)),
            format!("wrapped body, Bearer token ({})", mutation.id()),
        ),
        Request::OtherAudience => {
            let other = PushClaims {
                aud: config.other_audience.clone(),
                ..claims
            };
            let token = mint(PushMutation::Valid, &other)?;
            (
                Some(format!("Bearer {token}")),
                format!("wrapped body, Bearer token for aud {}", config.other_audience),
            )
        }
        Request::Unwrapped => {
            let token = mint(PushMutation::Valid, &claims)?;
            return Ok(Push {
                authorization: Some(format!("Bearer {token}")),
                headers: message.unwrapped_headers(),
                body: message.data.into_bytes(),
                describe: "unwrapped body with x-goog-pubsub-* headers, Bearer token (valid)".to_owned(),
            });
        }
        Request::NoAuthorization => (None, "wrapped body, no Authorization".to_owned()),
        Request::NotBearer => (
            Some(format!("Basic {}", mint(PushMutation::Valid, &claims)?)),
            "wrapped body, Authorization: Basic <valid token>".to_owned(),
        ),
        Request::Malformed => (
            Some("Bearer not-a-jwt".to_owned()),
            "wrapped body, Authorization: Bearer not-a-jwt".to_owned(),
        ),
    };
    Ok(Push {
        authorization,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: message.wrapped(),
        describe,
    })
}

/// The message a case pushes, as an IoT-Core-style bridge would publish it.
struct Message {
    data: String,
    attributes: Vec<(&'static str, String)>,
    id: String,
    publish_time: String,
    subscription: String,
}

impl Message {
    fn new(case: PushCase, seq: usize, subscription: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        let millis = now
            .replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
            .unwrap_or(now);
        Self {
            data: json!({"case": case.id(), "seq": seq, "temperature": 21.5}).to_string(),
            attributes: vec![
                ("deviceId", "pi-0001".to_owned()),
                ("deviceNumId", "2808618398434101".to_owned()),
                ("deviceRegistryId", "fleet".to_owned()),
                ("deviceRegistryLocation", "europe-west1".to_owned()),
                ("projectId", "fleetgate".to_owned()),
            ],
            id: format!("{}", 9_000_000_000_u64 + seq as u64),
            publish_time: millis.format(&Rfc3339).unwrap_or_default(),
            subscription: subscription.to_owned(),
        }
    }

    /// The wrapped JSON body.
    fn wrapped(&self) -> Vec<u8> {
        let attributes: serde_json::Map<_, _> = self
            .attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        json!({
            "message": {
                "data": STANDARD.encode(&self.data),
                "attributes": attributes,
                "messageId": self.id,
                "message_id": self.id,
                "publishTime": self.publish_time,
                "publish_time": self.publish_time,
            },
            "subscription": self.subscription,
        })
        .to_string()
        .into_bytes()
    }

    /// The metadata and attribute headers of an unwrapped push with `writeMetadata`.
    fn unwrapped_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            (
                "x-goog-pubsub-subscription-name".to_owned(),
                self.subscription.clone(),
            ),
            ("x-goog-pubsub-message-id".to_owned(), self.id.clone()),
            ("x-goog-pubsub-publish-time".to_owned(), self.publish_time.clone()),
        ];
        headers.extend(self.attributes.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        headers
    }
}

async fn send(client: &reqwest::Client, url: &str, push: &Push) -> Answer {
    let mut request = client
        .post(url)
        .header(
            "user-agent",
            "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
        )
        .body(push.body.clone());
    if let Some(value) = &push.authorization {
        request = request.header("authorization", value);
    }
    for (name, value) in &push.headers {
        request = request.header(name, value);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Answer::Failed(error.to_string()),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(body) => Answer::Http {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        },
        Err(error) => Answer::Failed(format!("reading the {status} answer: {error}")),
    }
}
