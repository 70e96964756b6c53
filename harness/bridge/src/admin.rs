//! The admin API: HTTP/JSON on loopback, shaped after IoT Core's device manager. It changes the
//! registry while a run goes on (devices, credentials, configs, blocking), sends commands, lists
//! and closes sessions.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /v1/devices` | every device |
//! | `POST /v1/devices` | create `{id, gateway?, credentials?: [{publicKey: {format, key}, expirationTime?}]}` |
//! | `GET`, `DELETE /v1/devices/{id}` | one device; delete also closes its connection |
//! | `POST /v1/devices/{id}/credentials` | add `{publicKey: {format, key}, expirationTime?}` |
//! | `DELETE /v1/devices/{id}/credentials/{index}` | remove one |
//! | `POST /v1/devices/{id}/blocked` | `{blocked: bool}`; blocking closes the connection |
//! | `POST /v1/devices/{id}/config` | `{binaryData, versionToUpdate?}` → the new version, delivered at once |
//! | `POST /v1/devices/{id}/commands` | `{binaryData, subfolder?}`; `FAILED_PRECONDITION` when not subscribed |
//! | `POST /v1/devices/{id}/disconnect` | close its connection |
//! | `GET /v1/sessions` | devices connected now |
//! | `POST /v1/devices/{gateway}/bind`, `/unbind` | `{deviceId}`: bind a device to a gateway, or unbind it |
//! | `POST /v1/devices/{id}/refuse-connects` | `{count}`: refuse its next N connects |
//! | `GET`, `POST /v1/faults` | the faults in force; set `{pubackDelayMs?, stallForwarding?, listenerDownMs?}` |
//!
//! Every call needs the run's key, `Authorization: Bearer <key>` ([`generate_key`] makes one per
//! run; `fleetgate serve` prints it and writes it to `<out>/admin-key`, owner-only); without it
//! the answer is 401. Configs are refused above 64 KiB ([`MAX_CONFIG_BYTES`]), commands above
//! 256 KiB ([`MAX_COMMAND_BYTES`]), fault durations above an hour ([`MAX_FAULT_MS`]), each
//! refusal naming the limit.
//!
//! Errors are `{"error": {"code", "status", "message"}}` with Google's status names.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use fleetgate_identity::credentials::{Credential, CredentialFormat};

use crate::registry::{RegistryError, Store};
use crate::server::Bridge;
use crate::session::CommandError;

/// The largest config a device can be given, in bytes (IoT Core's 64 KiB).
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// The largest command, in bytes (IoT Core's 256 KiB).
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;
/// The longest PUBACK delay or listener outage a fault may ask for, in milliseconds: one hour.
pub const MAX_FAULT_MS: u64 = 3_600_000;

/// What the admin API works on.
#[derive(Clone)]
pub struct Admin {
    /// The registry.
    pub store: Arc<Store>,
    /// The running bridge.
    pub bridge: Bridge,
    /// The key every call must present as `Authorization: Bearer <key>`.
    pub key: Arc<str>,
}

/// A new admin key: 32 random bytes from the system's secure generator, as 64 hex digits.
pub fn generate_key() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    tokio_rustls::rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|e| format!("no random bytes for the admin key: {e:?}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The admin API's routes, behind the key.
pub fn router(admin: Admin) -> Router {
    let key = Arc::clone(&admin.key);
    routes(admin).layer(middleware::from_fn(move |request: Request, next: Next| {
        let key = Arc::clone(&key);
        async move {
            match presented(&request).is_some_and(|given| same(given.as_bytes(), key.as_bytes())) {
                true => next.run(request).await,
                false => ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "the admin API needs `Authorization: Bearer <key>`: the run's key is in serve's JSON line (bridge.admin_key) and in <out>/admin-key",
                )
                .into_response(),
            }
        }
    }))
}

/// The bearer token of a request.
fn presented(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn routes(admin: Admin) -> Router {
    Router::new()
        .route("/v1/devices", get(list).post(create))
        .route("/v1/devices/{id}", get(show).delete(remove))
        .route("/v1/devices/{id}/credentials", post(add_credential))
        .route("/v1/devices/{id}/credentials/{index}", delete(remove_credential))
        .route("/v1/devices/{id}/blocked", post(block))
        .route("/v1/devices/{id}/config", post(config))
        .route("/v1/devices/{id}/commands", post(command))
        .route("/v1/devices/{id}/disconnect", post(disconnect))
        .route("/v1/devices/{id}/bind", post(bind))
        .route("/v1/devices/{id}/unbind", post(unbind))
        .route("/v1/sessions", get(sessions))
        .route("/v1/devices/{id}/refuse-connects", post(refuse_connects))
        .route("/v1/faults", get(faults).post(set_faults))
        .with_state(admin)
}

/// An error in Google's JSON shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    name: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.status.as_u16(), "status": self.name, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        let (status, name) = match &error {
            RegistryError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            RegistryError::AlreadyExists(_) => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
            RegistryError::Invalid(_) | RegistryError::Credential(_) => {
                (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT")
            }
            RegistryError::VersionMismatch { .. } => (StatusCode::CONFLICT, "ABORTED"),
        };
        let message = match &error {
            RegistryError::Credential(e) => format!("{e}: {}", e.reason),
            other => other.to_string(),
        };
        Self::new(status, name, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::invalid(format!(
            "the request body is not the JSON this call takes: {}",
            rejection.body_text()
        ))
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PublicKey {
    format: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CredentialBody {
    public_key: PublicKey,
    expiration_time: Option<String>,
}

impl CredentialBody {
    fn into_credential(self) -> Result<Credential, ApiError> {
        let format: CredentialFormat = self.public_key.format.parse().map_err(ApiError::invalid)?;
        let expiration = match self.expiration_time.as_deref() {
            None => None,
            Some(text) => Some(rfc3339_secs(text)?),
        };
        Ok(Credential {
            format,
            pem: self.public_key.key,
            expiration,
        })
    }
}

fn rfc3339_secs(text: &str) -> Result<i64, ApiError> {
    let time = humantime::parse_rfc3339(text).map_err(|e| {
        ApiError::invalid(format!(
            "expirationTime `{text}` is not an RFC 3339 UTC time ({e})"
        ))
    })?;
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

fn rfc3339(secs: i64) -> String {
    let time = UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

fn now_secs(admin: &Admin) -> i64 {
    admin.bridge.now().div_euclid(1000)
}

fn decode(data: &str) -> Result<Bytes, ApiError> {
    STANDARD
        .decode(data)
        .map(Bytes::from)
        .map_err(|e| ApiError::invalid(format!("binaryData is not base64: {e}")))
}

fn device_json(admin: &Admin, id: &str) -> Result<Value, ApiError> {
    let record = admin
        .store
        .get(id)
        .ok_or_else(|| ApiError::from(RegistryError::NotFound(id.to_owned())))?;
    let credentials: Vec<Value> = record
        .credentials
        .iter()
        .map(|c| {
            let expiration = c.uploaded.expiration.map(rfc3339);
            json!({ "publicKey": { "format": c.uploaded.format.as_str(), "key": c.uploaded.pem }, "expirationTime": expiration })
        })
        .collect();
    let config = record
        .configs
        .last()
        .map(|c| json!({ "version": c.version.to_string(), "binaryData": STANDARD.encode(&c.data) }));
    let state = record
        .state
        .as_ref()
        .map(|(data, at)| json!({ "binaryData": STANDARD.encode(data), "updateTimeMillis": at }));
    Ok(json!({
        "id": id,
        "numId": record.num_id.to_string(),
        "blocked": record.blocked,
        "gateway": record.gateway,
        "credentials": credentials,
        "config": config,
        "state": state,
        "boundDevices": record.bound,
        "connected": admin.bridge.connected_devices().iter().any(|d| d == id),
    }))
}

async fn list(State(admin): State<Admin>) -> ApiResult {
    let devices: Result<Vec<Value>, ApiError> = admin
        .store
        .ids()
        .iter()
        .map(|id| device_json(&admin, id))
        .collect();
    Ok(Json(json!({ "devices": devices? })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    id: String,
    #[serde(default)]
    gateway: bool,
    #[serde(default)]
    credentials: Vec<CredentialBody>,
}

async fn create(
    State(admin): State<Admin>,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let credentials = body
        .credentials
        .into_iter()
        .map(CredentialBody::into_credential)
        .collect::<Result<Vec<_>, _>>()?;
    admin
        .store
        .create(&body.id, credentials, body.gateway, now_secs(&admin))?;
    Ok((StatusCode::CREATED, Json(device_json(&admin, &body.id)?)))
}

async fn show(State(admin): State<Admin>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(device_json(&admin, &id)?))
}

async fn remove(State(admin): State<Admin>, Path(id): Path<String>) -> ApiResult {
    admin.store.delete(&id)?;
    admin.bridge.disconnect(&id, "device deleted").await;
    Ok(Json(json!({})))
}

async fn add_credential(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<CredentialBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    admin
        .store
        .add_credential(&id, body.into_credential()?, now_secs(&admin))?;
    Ok(Json(device_json(&admin, &id)?))
}

async fn remove_credential(
    State(admin): State<Admin>,
    Path((id, index)): Path<(String, usize)>,
) -> ApiResult {
    admin.store.remove_credential(&id, index)?;
    Ok(Json(device_json(&admin, &id)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockBody {
    blocked: bool,
}

async fn block(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<BlockBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    admin.store.set_blocked(&id, body.blocked)?;
    if body.blocked {
        admin.bridge.disconnect(&id, "device blocked").await;
    }
    Ok(Json(device_json(&admin, &id)?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigBody {
    binary_data: String,
    version_to_update: Option<String>,
}

async fn config(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<ConfigBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    let data = decode(&body.binary_data)?;
    within(data.len(), MAX_CONFIG_BYTES, "config")?;
    let expected = match body.version_to_update.as_deref() {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("versionToUpdate `{v}` is not an int64")))?,
        ),
    };
    let config = admin.store.set_config(&id, data, expected)?;
    admin.bridge.push_config(&id, config.clone()).await;
    Ok(Json(
        json!({ "version": config.version.to_string(), "binaryData": STANDARD.encode(&config.data) }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CommandBody {
    binary_data: String,
    subfolder: Option<String>,
}

async fn command(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<CommandBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    if admin.store.get(&id).is_none() {
        return Err(RegistryError::NotFound(id).into());
    }
    let data = decode(&body.binary_data)?;
    within(data.len(), MAX_COMMAND_BYTES, "command")?;
    match admin
        .bridge
        .send_command(&id, body.subfolder.as_deref(), data)
        .await
    {
        Ok(()) => Ok(Json(json!({}))),
        Err(e @ (CommandError::NotConnected | CommandError::NotSubscribed)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
            format!("device `{id}`: {e}"),
        )),
    }
}

async fn disconnect(State(admin): State<Admin>, Path(id): Path<String>) -> ApiResult {
    let closed = admin.bridge.disconnect(&id, "admin request").await;
    Ok(Json(json!({ "closed": closed })))
}

async fn sessions(State(admin): State<Admin>) -> ApiResult {
    Ok(Json(json!({ "devices": admin.bridge.connected_devices() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefuseBody {
    count: u32,
}

async fn refuse_connects(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<RefuseBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    if admin.store.get(&id).is_none() {
        return Err(RegistryError::NotFound(id).into());
    }
    admin.bridge.faults().refuse_next(&id, body.count);
    faults(State(admin)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultsBody {
    puback_delay_ms: Option<u64>,
    stall_forwarding: Option<bool>,
    listener_down_ms: Option<u64>,
}

async fn faults(State(admin): State<Admin>) -> ApiResult {
    Ok(Json(
        serde_json::to_value(admin.bridge.faults().state()).unwrap_or_default(),
    ))
}

/// Refuses `len` bytes above `limit`, naming the limit.
fn within(len: usize, limit: usize, what: &str) -> Result<(), ApiError> {
    match len > limit {
        true => Err(ApiError::invalid(format!(
            "the {what} is {len} bytes: the limit is {limit} bytes ({} KiB)",
            limit / 1024
        ))),
        false => Ok(()),
    }
}

async fn set_faults(State(admin): State<Admin>, body: Result<Json<FaultsBody>, JsonRejection>) -> ApiResult {
    let Json(body) = body?;
    for (name, ms) in [
        ("pubackDelayMs", body.puback_delay_ms),
        ("listenerDownMs", body.listener_down_ms),
    ] {
        if ms.is_some_and(|ms| ms > MAX_FAULT_MS) {
            return Err(ApiError::invalid(format!(
                "{name} is over the limit of {MAX_FAULT_MS} ms (one hour)"
            )));
        }
    }
    if let Some(ms) = body.puback_delay_ms {
        admin
            .bridge
            .faults()
            .delay_pubacks(std::time::Duration::from_millis(ms));
    }
    if let Some(stalled) = body.stall_forwarding {
        admin.bridge.faults().stall_forwarding(stalled);
    }
    if let Some(ms) = body.listener_down_ms {
        admin
            .bridge
            .restart_listener(std::time::Duration::from_millis(ms))
            .await;
    }
    faults(State(admin)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BindBody {
    device_id: String,
}

async fn bind(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<BindBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    admin.store.bind(&id, &body.device_id, true)?;
    Ok(Json(device_json(&admin, &id)?))
}

async fn unbind(
    State(admin): State<Admin>,
    Path(id): Path<String>,
    body: Result<Json<BindBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body?;
    admin.store.bind(&id, &body.device_id, false)?;
    Ok(Json(device_json(&admin, &id)?))
}
