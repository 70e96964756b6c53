//! Push load: goose users POST authenticated, wrapped Pub/Sub pushes, each with a freshly minted
//! valid token from the Google mock's active key, against an endpoint URL at a fixed rate
//! (goose's request throttle) for a fixed time. A share of the pushes may carry an invalid token
//! from the `push.*` catalogue instead; the endpoint must refuse those, and they are counted
//! apart (`push.invalid.*`), outside `push.request` and `push.errors`.
//!
//! Latencies are goose's own per-request timing (from the send, after the throttle released the
//! request, to the response headers), recorded in µs as `push.request` into per-user
//! [`Recorder`]s (shards by goose user) merged at the end; a push that is not answered 2xx, or
//! not answered at all, counts in `push.errors` and by kind (the status, or `transport`). Goose users are closed-loop: a slow endpoint lowers the achieved rate instead of
//! queueing pushes, so latency here is from the actual send, never from an intended time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fleetgate_identity::google::mutations::{PushContext, PushMutation};
use fleetgate_identity::google::{GoogleIdentity, PushClaims};
use fleetgate_identity::{DeviceKey, KeySpec};
use fleetgate_metrics::{Recorder, Shards};
use goose::config::GooseConfiguration;
use goose::goose::{GooseRequest, GooseUser, Scenario, Transaction, TransactionError, TransactionResult};
use goose::{GooseAttack, GooseError};
use serde_json::json;

use crate::GoogleMock;
use crate::cases::PushTarget;

/// The shape of a push load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadConfig {
    /// Pushes per second across all users (goose's throttle counts whole requests), at least 1.
    pub rate: u32,
    /// How long the load runs (whole seconds, at least one).
    pub duration: Duration,
    /// Concurrent goose users, each with one push in flight at most.
    pub users: u32,
    /// Timeout of one push.
    pub timeout: Duration,
    /// Share of the pushes that carry an invalid token (0: none), spread evenly.
    pub invalid_share: f64,
    /// The invalid tokens, taken in turn.
    pub invalid: Vec<PushMutation>,
    /// Statuses that count as the endpoint refusing an invalid push.
    pub refusal_statuses: Vec<u16>,
    /// The endpoint's clock skew, for the expired and future tokens (300 s: the most tolerant
    /// common default).
    pub endpoint_skew: Duration,
}

/// Counters of the invalid pushes mixed into a load: sent, refused with a refusal status,
/// acknowledged (the endpoint let an invalid token through), answered otherwise.
pub const INVALID_SENT: &str = "push.invalid.sent";
/// See [`INVALID_SENT`].
pub const INVALID_REFUSED: &str = "push.invalid.refused";
/// See [`INVALID_SENT`].
pub const INVALID_ACCEPTED: &str = "push.invalid.accepted";
/// See [`INVALID_SENT`].
pub const INVALID_OTHER: &str = "push.invalid.other";

/// The latency histogram of a push load (µs).
pub const REQUEST: &str = "push.request";
/// The counter of pushes not acknowledged.
pub const ERRORS: &str = "push.errors";

/// What a push load measured.
#[derive(Clone, Debug)]
pub struct LoadOutcome {
    /// [`REQUEST`]: push latencies in µs (every push answered, whatever its status); [`ERRORS`]:
    /// pushes not acknowledged (present, 0 when none).
    pub metrics: Recorder,
    /// Pushes sent (a push still waiting on the throttle when the load ended is not).
    pub requests: u64,
    /// Pushes not acknowledged: by status (`"401"`) or `"transport"` (no answer).
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the load: from its start to its `duration` (or to goose's end, if
    /// sooner).
    pub elapsed: Duration,
    /// Invalid pushes the endpoint acknowledged, by case id.
    pub invalid_accepted: BTreeMap<String, u64>,
}

impl LoadOutcome {
    /// Every error, of whatever kind.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// The achieved rate: pushes sent per second of the load.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }
}

/// Why a push load could not run (an endpoint's refusals are errors in the outcome instead).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Goose refused the configuration or failed while running.
    #[error("goose: {error}")]
    Goose {
        /// Goose's error.
        error: Box<GooseError>,
    },
    /// The key for the rogue-key pushes could not be made.
    #[error("cannot make the rogue key of invalid pushes: {0}")]
    Key(String),
    /// The URL has no scheme and host for goose's base URL.
    #[error("the push endpoint URL {url} has no scheme://host part")]
    Url {
        /// The URL.
        url: String,
    },
}

/// What every goose user shares: the token minting and the recording.
struct Shared {
    identity: Arc<RwLock<GoogleIdentity>>,
    url: String,
    audience: String,
    service_account: String,
    seq: AtomicU64,
    sent: AtomicU64,
    metrics: Shards,
    errors: Mutex<BTreeMap<String, u64>>,
    invalid_share: f64,
    invalid: Vec<PushMutation>,
    refusal_statuses: Vec<u16>,
    skew_secs: i64,
    rogue: DeviceKey,
    invalid_accepted: Mutex<BTreeMap<String, u64>>,
    /// No push is sent from here on: the load lasts its `duration`, not goose's shutdown.
    deadline: Instant,
}

impl Shared {
    fn error(&self, user: usize, kind: String) {
        self.metrics.with(user, |r| r.count(ERRORS, 1));
        *lock(&self.errors).entry(kind).or_default() += 1;
    }

    /// The invalid token push `seq` carries, if it is one of the share.
    fn invalid_for(&self, seq: u64) -> Option<PushMutation> {
        let step = |i: u64| (i as f64 * self.invalid_share + 1e-9).floor() as u64;
        let turn = step(seq);
        (step(seq + 1) > turn && !self.invalid.is_empty())
            .then(|| self.invalid[(turn % self.invalid.len() as u64) as usize])
    }

    /// Counts an invalid push's answer.
    fn judge_invalid(&self, user: usize, mutation: PushMutation, status: u16) {
        let counter = if (200..300).contains(&status) {
            *lock(&self.invalid_accepted)
                .entry(mutation.case_id().to_owned())
                .or_default() += 1;
            INVALID_ACCEPTED
        } else if self.refusal_statuses.contains(&status) {
            INVALID_REFUSED
        } else {
            INVALID_OTHER
        };
        self.metrics.with(user, |r| {
            r.count(INVALID_SENT, 1);
            r.count(counter, 1);
        });
    }

    /// One push: a fresh token (or an invalid one, for the share), a wrapped body, goose's
    /// request, the recording.
    async fn push(&self, user: &mut GooseUser) -> TransactionResult {
        if Instant::now() >= self.deadline {
            // Goose is about to stop its users; wait for that without spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(());
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let index = user.weighted_users_index;
        let claims = PushClaims::new(&self.audience, &self.service_account, unix_now() - 5);
        let invalid = self.invalid_for(seq);
        let minted = {
            let google = lock_read(&self.identity);
            match invalid {
                None => google.push_token(&claims),
                Some(mutation) => mutation.build(&PushContext {
                    google: &google,
                    rogue: &self.rogue,
                    claims: &claims,
                    skew_secs: self.skew_secs,
                }),
            }
        };
        let token = match minted {
            Ok(token) => token,
            Err(error) => {
                self.error(index, format!("mint: {error}"));
                return Ok(());
            }
        };
        let builder = user
            .client
            .post(&self.url)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body(seq));
        let request = GooseRequest::builder().set_request_builder(builder).build();
        let metric = match user.request(request).await {
            Ok(response) => response.request,
            Err(error) => match *error {
                TransactionError::RequestFailed { raw_request } => *raw_request,
                // Waiting on the throttle when the load ended: never sent.
                TransactionError::RequestCanceled { .. } => return Ok(()),
                other => {
                    self.error(index, format!("goose: {other}"));
                    return Ok(());
                }
            },
        };
        self.sent.fetch_add(1, Ordering::Relaxed);
        if let Some(mutation) = invalid {
            self.judge_invalid(index, mutation, metric.status_code);
            return Ok(());
        }
        if metric.status_code != 0 {
            let micros = metric.response_time * 1000 + u64::from(metric.response_time_fraction_us);
            self.metrics.with(index, |r| r.record(REQUEST, micros));
        }
        if !metric.success {
            let kind = match metric.status_code {
                0 => "transport".to_owned(),
                status => status.to_string(),
            };
            self.error(index, kind);
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock_read(identity: &RwLock<GoogleIdentity>) -> std::sync::RwLockReadGuard<'_, GoogleIdentity> {
    identity.read().unwrap_or_else(PoisonError::into_inner)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A wrapped push body carrying `seq`, as Pub/Sub sends it.
fn body(seq: u64) -> String {
    let data = STANDARD.encode(json!({"load": seq}).to_string());
    let id = (8_000_000_000_u64 + seq).to_string();
    let time = humantime_now();
    json!({
        "message": {
            "data": data,
            "attributes": {"deviceId": "pi-load"},
            "messageId": id,
            "message_id": id,
            "publishTime": time,
            "publish_time": time,
        },
        "subscription": "projects/fleetgate/subscriptions/push-load",
    })
    .to_string()
}

/// Now in RFC 3339 with milliseconds, as Pub/Sub writes `publishTime`.
fn humantime_now() -> String {
    use time::format_description::well_known::Rfc3339;
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The goose configuration of a load: no controllers (telnet; WebSocket is off by default),
/// nothing printed, every user launched at once (goose's run time starts once they all are).
fn configuration(host: &str, config: &LoadConfig) -> GooseConfiguration {
    let mut goose = GooseConfiguration::default();
    goose.host = Some(host.to_owned());
    goose.users = Some(config.users.max(1) as usize);
    goose.increase_rate = Some((u64::from(config.users.max(1)) * 1_000).to_string());
    goose.run_time = Some(config.duration.as_secs().max(1).to_string());
    goose.throttle_requests = Some(config.rate.max(1) as usize);
    goose.timeout = Some(config.timeout.as_secs().max(1).to_string());
    goose.no_print_metrics = true;
    goose.no_error_summary = true;
    goose.no_telnet = true;
    goose.no_gzip = true;
    goose.quiet = 1;
    goose
}

/// Runs a push load against `target`, whose endpoint trusts `mock`'s keys.
pub async fn run(
    mock: &GoogleMock,
    target: &PushTarget,
    config: &LoadConfig,
) -> Result<LoadOutcome, LoadError> {
    let host = base(&target.url).ok_or_else(|| LoadError::Url {
        url: target.url.clone(),
    })?;
    let started = Instant::now();
    let shared = Arc::new(Shared {
        identity: Arc::clone(mock.identity()),
        url: target.url.clone(),
        audience: target.audience().to_owned(),
        service_account: target.service_account.clone(),
        seq: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        metrics: Shards::new(config.users.max(1) as usize),
        errors: Mutex::new(BTreeMap::new()),
        invalid_share: config.invalid_share,
        invalid: config.invalid.clone(),
        refusal_statuses: config.refusal_statuses.clone(),
        skew_secs: i64::try_from(config.endpoint_skew.as_secs()).unwrap_or(i64::MAX / 4),
        rogue: DeviceKey::generate(KeySpec::RSA_2048).map_err(|e| LoadError::Key(e.to_string()))?,
        invalid_accepted: Mutex::new(BTreeMap::new()),
        deadline: started + config.duration.max(Duration::from_secs(1)),
    });
    let user_shared = Arc::clone(&shared);
    let push = Transaction::new(Arc::new(move |user| {
        let shared = Arc::clone(&user_shared);
        Box::pin(async move { shared.push(user).await })
    }))
    .set_name("push");
    silence_goose_logger();
    let goose = |error| LoadError::Goose {
        error: Box::new(error),
    };
    GooseAttack::initialize_with_config(configuration(&host, config))
        .map_err(goose)?
        .register_scenario(Scenario::new("push").register_transaction(push))
        .execute()
        .await
        .map_err(goose)?;
    let elapsed = started.elapsed().min(config.duration.max(Duration::from_secs(1)));
    let requests = shared.sent.load(Ordering::Relaxed);
    let mut metrics = shared.metrics.drain();
    metrics.count(ERRORS, 0);
    if config.invalid_share > 0.0 {
        for counter in [INVALID_SENT, INVALID_REFUSED, INVALID_ACCEPTED, INVALID_OTHER] {
            metrics.count(counter, 0);
        }
    }
    let errors = lock(&shared.errors).clone();
    let invalid_accepted = lock(&shared.invalid_accepted).clone();
    Ok(LoadOutcome {
        metrics,
        requests,
        errors,
        elapsed,
        invalid_accepted,
    })
}

/// A `log` logger that drops everything.
struct Silent;

impl log::Log for Silent {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        false
    }

    fn log(&self, _: &log::Record<'_>) {}

    fn flush(&self) {}
}

static SILENT: Silent = Silent;

/// Goose installs a process-wide logger that prints its warnings (one per failed push) on
/// stdout, where fleetgate writes results, and it cannot be set below warnings. The process
/// keeps the first logger set, so unless the program has one already, a silent one goes first.
fn silence_goose_logger() {
    if log::set_logger(&SILENT).is_ok() {
        log::set_max_level(log::LevelFilter::Off);
    }
}

/// `scheme://host[:port]` of `url`, goose's base URL.
fn base(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_is_scheme_and_authority() {
        assert_eq!(
            base("http://127.0.0.1:80/push?x=1").as_deref(),
            Some("http://127.0.0.1:80")
        );
        assert_eq!(
            base("https://example.com").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(base("example.com/push"), None);
        assert_eq!(base("http:///push"), None);
    }

    #[test]
    fn goose_runs_quietly_without_controllers() {
        let config = LoadConfig {
            rate: 0,
            duration: Duration::from_millis(300),
            users: 4,
            timeout: Duration::from_secs(10),
            invalid_share: 0.0,
            invalid: Vec::new(),
            refusal_statuses: vec![401, 403],
            endpoint_skew: Duration::from_secs(300),
        };
        let goose = configuration("http://127.0.0.1:1", &config);
        assert!(goose.no_telnet && !goose.websocket && goose.no_print_metrics);
        assert_eq!(goose.throttle_requests, Some(1), "at least one push per second");
        assert_eq!(goose.run_time.as_deref(), Some("1"), "at least one second");
        assert_eq!(goose.users, Some(4));
    }
}
