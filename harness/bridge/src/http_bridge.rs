//! The HTTP device bridge (docs/protocol.md §5) on the same registry and rules as MQTT:
//! `POST /v1/{name}:publishEvent`, `POST /v1/{name}:setState`, `GET /v1/{name}/config`, where
//! `{name}` is `projects/P/locations/R/registries/G/devices/D` and the device JWT comes as
//! `Authorization: Bearer`. camelCase and snake_case bodies are both accepted, and base64 in
//! the standard or URL-safe alphabet.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::forward::{Forwarder, telemetry_message};
use crate::profile::Profile;
use crate::server::DeviceRegistry;
use crate::session::{RegistryPath, Telemetry};

/// What the HTTP bridge works on.
#[derive(Clone)]
pub struct HttpBridge {
    /// The registry requests must name.
    pub path: RegistryPath,
    /// Limits and answers.
    pub profile: Arc<Profile>,
    /// Devices and credentials.
    pub registry: Arc<dyn DeviceRegistry>,
    /// Where telemetry goes.
    pub forwarder: Arc<dyn Forwarder>,
    /// The bridge's clock.
    pub clock: Arc<Clock>,
}

/// The HTTP bridge's routes.
pub fn router(bridge: HttpBridge) -> Router {
    let device = "/v1/projects/{project}/locations/{region}/registries/{registry}/devices/{device}";
    Router::new()
        .route(device, post(action))
        .route(&format!("{device}/config"), get(config))
        .with_state(bridge)
}

struct Failure(StatusCode, &'static str, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.0.as_u16(), "status": self.1, "message": self.2 } });
        (self.0, Json(body)).into_response()
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message.into())
}

#[derive(Deserialize)]
struct Names {
    project: String,
    region: String,
    registry: String,
    device: String,
}

impl HttpBridge {
    /// Checks the path names this registry, and the bearer JWT; returns the device's numeric id.
    fn authorize(&self, names: &Names, device: &str, headers: &HeaderMap) -> Result<u64, Failure> {
        let ours = names.project == self.path.project
            && names.region == self.path.region
            && names.registry == self.path.registry;
        if !ours {
            return Err(Failure(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such registry".into(),
            ));
        }
        let info = self
            .registry
            .device(device)
            .filter(|d| !d.blocked)
            .ok_or_else(|| {
                Failure(
                    StatusCode::FORBIDDEN,
                    "PERMISSION_DENIED",
                    format!("device `{device}` is unknown or blocked"),
                )
            })?;
        let jwt = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Failure(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "expected `Authorization: Bearer <device JWT>`".into(),
                )
            })?;
        let verdict = self
            .registry
            .authenticate(device, jwt.trim(), self.clock.now().div_euclid(1000));
        verdict.result.map(|_| info.num_id).map_err(|reason| {
            Failure(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                format!("the device JWT was refused: {reason}"),
            )
        })
    }
}

fn base64(data: &str) -> Result<Bytes, Failure> {
    STANDARD
        .decode(data)
        .or_else(|_| URL_SAFE.decode(data))
        .map(Bytes::from)
        .map_err(|e| invalid(format!("binaryData is not base64: {e}")))
}

/// `binaryData` or `binary_data` of a JSON object.
fn binary(value: &Value) -> Result<Bytes, Failure> {
    let data = value
        .get("binaryData")
        .or_else(|| value.get("binary_data"))
        .and_then(Value::as_str);
    base64(data.ok_or_else(|| invalid("the body has no binaryData"))?)
}

async fn action(
    State(bridge): State<HttpBridge>,
    Path(names): Path<Names>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Failure> {
    let (device, verb) = names.device.split_once(':').ok_or_else(|| {
        Failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "expected :publishEvent or :setState".into(),
        )
    })?;
    let num_id = bridge.authorize(&names, device, &headers)?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    match verb {
        "publishEvent" => {
            let payload = binary(&body)?;
            if payload.len() > bridge.profile.max_telemetry_bytes {
                return Err(invalid(format!(
                    "the event is {} bytes; the limit is {}",
                    payload.len(),
                    bridge.profile.max_telemetry_bytes
                )));
            }
            let subfolder = body
                .get("subFolder")
                .or_else(|| body.get("sub_folder"))
                .and_then(Value::as_str);
            let telemetry = Telemetry {
                pkid: None,
                device: device.to_owned(),
                device_num_id: num_id,
                subfolder: subfolder.filter(|s| !s.is_empty()).map(str::to_owned),
                payload,
            };
            let message = telemetry_message(
                &telemetry,
                &bridge.registry.routing(),
                &bridge.path,
                &bridge.profile,
            )
            .map_err(|e| Failure(StatusCode::FAILED_DEPENDENCY, "FAILED_PRECONDITION", e))?;
            bridge.forwarder.forward(message).await.map_err(|e| {
                Failure(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    format!("Pub/Sub did not accept the event: {e}"),
                )
            })?;
            Ok(Json(json!({})))
        }
        "setState" => {
            let state = body
                .get("state")
                .ok_or_else(|| invalid("the body has no state"))?;
            let payload = binary(state)?;
            if payload.len() > bridge.profile.max_state_bytes {
                return Err(invalid(format!(
                    "the state is {} bytes; the limit is {}",
                    payload.len(),
                    bridge.profile.max_state_bytes
                )));
            }
            bridge.registry.store_state(device, payload, bridge.clock.now());
            Ok(Json(json!({})))
        }
        other => Err(Failure(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no such method `{other}`"),
        )),
    }
}

async fn config(
    State(bridge): State<HttpBridge>,
    Path(names): Path<Names>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<Value>, Failure> {
    bridge.authorize(&names, &names.device, &headers)?;
    let local = query
        .iter()
        .find(|(k, _)| k == "localVersion" || k == "local_version")
        .map(|(_, v)| v.as_str());
    let local = match local {
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| invalid(format!("localVersion `{v}` is not an int64")))?,
        None => 0,
    };
    let latest = bridge.registry.latest_config(&names.device);
    let version = latest.as_ref().map_or(0, |c| c.version);
    if local > version {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            "OUT_OF_RANGE",
            format!("localVersion {local} is above the latest version {version}"),
        ));
    }
    let data = latest.map(|c| STANDARD.encode(&c.data)).unwrap_or_default();
    Ok(Json(
        json!({ "version": version.to_string(), "binaryData": data }),
    ))
}
