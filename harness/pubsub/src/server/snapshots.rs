//! REST v1 of snapshots (`/v1/projects/{p}/snapshots/{s}`: create, get, patch labels, delete,
//! list; `/v1/projects/{p}/topics/{t}/snapshots`) and `subscriptions.seek`, with their JSON
//! forms; schemas answer `UNIMPLEMENTED`.

use std::collections::HashMap;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{any, get};
use gcloud_googleapis::pubsub::v1::Snapshot;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::json::mask_paths;
use super::rest::{
    Body, Params, body, page, respond, topic_name, unimplemented, unsupported_action, with_next,
};
use crate::broker::snapshot::SeekTarget;
use crate::emulator::Emulator;
use crate::error::Error;
use crate::time::{parse_rfc3339, rfc3339};

/// The REST routes of snapshots, topic snapshots and schemas.
pub fn routes() -> Router<Emulator> {
    Router::new()
        .route("/v1/projects/{project}/snapshots", get(list))
        .route(
            "/v1/projects/{project}/snapshots/{snapshot}",
            get(get_one).put(create).patch(update).delete(delete).post(action),
        )
        .route(
            "/v1/projects/{project}/topics/{topic}/snapshots",
            get(topic_snapshots),
        )
        .route("/v1/projects/{project}/schemas", any(schemas))
        .route("/v1/projects/{project}/schemas/{*rest}", any(schemas))
}

/// A snapshot.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SnapshotJson {
    name: String,
    topic: String,
    #[serde(alias = "expire_time", skip_serializing_if = "String::is_empty")]
    expire_time: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    labels: HashMap<String, String>,
}

/// `snapshots.create` request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateJson {
    /// The subscription to snapshot.
    pub subscription: String,
    /// Labels of the snapshot.
    pub labels: HashMap<String, String>,
}

/// `snapshots.patch` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateJson {
    /// The new values.
    pub snapshot: SnapshotJson,
    /// Comma-separated field paths.
    #[serde(alias = "update_mask")]
    pub update_mask: String,
}

/// `subscriptions.seek` request: exactly one of a time and a snapshot.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SeekJson {
    /// An RFC 3339 time.
    pub time: Option<String>,
    /// A snapshot name.
    pub snapshot: Option<String>,
}

impl From<Snapshot> for SnapshotJson {
    fn from(s: Snapshot) -> Self {
        Self {
            name: s.name,
            topic: s.topic,
            expire_time: s.expire_time.as_ref().map(rfc3339).unwrap_or_default(),
            labels: s.labels,
        }
    }
}

fn snapshot_name(project: &str, snapshot: &str) -> String {
    format!("projects/{project}/snapshots/{snapshot}")
}

async fn list(State(e): State<Emulator>, Path(project): Path<String>, Query(params): Params) -> Response {
    respond(page(&params).and_then(|page| {
        let (snapshots, next) = e.list_snapshots(&format!("projects/{project}"), page)?;
        let snapshots: Vec<SnapshotJson> = snapshots.into_iter().map(SnapshotJson::from).collect();
        Ok(with_next(json!({"snapshots": snapshots}), next))
    }))
}

async fn get_one(State(e): State<Emulator>, Path((project, snapshot)): Path<(String, String)>) -> Response {
    respond(
        e.get_snapshot(&snapshot_name(&project, &snapshot))
            .map(SnapshotJson::from),
    )
}

async fn create(
    State(e): State<Emulator>,
    Path((project, snapshot)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    respond(body::<CreateJson>(&bytes).and_then(|json| {
        let created = e.create_snapshot(
            &snapshot_name(&project, &snapshot),
            &json.subscription,
            json.labels,
        )?;
        Ok(SnapshotJson::from(created))
    }))
}

async fn update(
    State(e): State<Emulator>,
    Path((project, snapshot)): Path<(String, String)>,
    Body(bytes): Body,
) -> Response {
    respond(body::<UpdateJson>(&bytes).and_then(|json| {
        let paths = mask_paths(&json.update_mask);
        let update = Snapshot {
            name: snapshot_name(&project, &snapshot),
            labels: json.snapshot.labels,
            ..Snapshot::default()
        };
        Ok(SnapshotJson::from(e.update_snapshot(update, &paths)?))
    }))
}

async fn delete(State(e): State<Emulator>, Path((project, snapshot)): Path<(String, String)>) -> Response {
    respond(
        e.delete_snapshot(&snapshot_name(&project, &snapshot))
            .map(|()| json!({})),
    )
}

async fn action(Path((project, snapshot)): Path<(String, String)>) -> Response {
    let (id, verb) = snapshot.split_once(':').unwrap_or((&snapshot, ""));
    unsupported_action(&format!("/v1/{}:{verb}", snapshot_name(&project, id)), verb)
}

async fn topic_snapshots(
    State(e): State<Emulator>,
    Path((project, topic)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    respond(page(&params).and_then(|page| {
        let (names, next) = e.list_topic_snapshots(&topic_name(&project, &topic), page)?;
        Ok(with_next(json!({"snapshots": names}), next))
    }))
}

async fn schemas() -> Response {
    unimplemented("Schemas (projects.schemas) are not supported by this emulator: topics take any payload.")
}

/// `subscriptions.seek` on subscription `name`.
pub(super) fn seek(e: &Emulator, name: &str, bytes: &[u8]) -> Response {
    respond(body::<SeekJson>(bytes).and_then(|json| {
        let time = json
            .time
            .map(|t| {
                parse_rfc3339(&t)
                    .and_then(|ts| SystemTime::try_from(ts).ok())
                    .ok_or_else(|| {
                        Error::invalid(format!("Invalid value at 'time': {t:?} is not an RFC 3339 time"))
                    })
            })
            .transpose()?;
        let target = match (time, json.snapshot.as_deref()) {
            (Some(time), None) => SeekTarget::Time(time),
            (None, Some(snapshot)) => SeekTarget::Snapshot(snapshot),
            _ => return Err(Error::invalid("A seek needs exactly one of time and snapshot.")),
        };
        e.seek(name, target)?;
        Ok(json!({}))
    }))
}
