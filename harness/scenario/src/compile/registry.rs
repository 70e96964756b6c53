//! `[bridge]`, the routing keys of `[project]`, and `[[device]]`.

use std::collections::HashSet;
use std::time::UNIX_EPOCH;

use crate::model::{Device, DeviceCredential, EmbeddedBridge, KeyFormat, Profile, Route, TlsFiles};
use crate::read::{Fields, Item, Val};
use crate::template::{IOT_ID_HELP, is_iot_id};

use super::Cx;

const MAX_ROUTES: usize = 10;
const MAX_REGISTRY_CAS: usize = 10;
const MAX_CREDENTIALS: usize = 3;
const TOPIC_HELP: &str = "a Pub/Sub topic id: 3 to 255 characters, a letter, then letters, digits or - . _ + ~ %, not starting with \"goog\"";

fn tables(items: &[Item]) -> impl Iterator<Item = (&Item, &Fields)> {
    items.iter().filter_map(|item| match &item.val {
        Val::Table(fields) => Some((item, fields)),
        _ => None,
    })
}

fn topic(fields: &Fields, key: &str, cx: &mut Cx) -> Option<String> {
    let name = fields.str(key)?;
    if !is_iot_id(name) {
        cx.error(
            fields.get(key)?,
            format!("\"{name}\" is not a valid topic id"),
            TOPIC_HELP,
        );
        return None;
    }
    Some(name.to_owned())
}

/// `[project]` telemetry topic, routes and state topic.
pub(super) fn routing(fields: &Fields, cx: &mut Cx) -> (String, Vec<Route>, Option<String>) {
    let telemetry = topic(fields, "telemetry_topic", cx).unwrap_or_else(|| "telemetry".to_owned());
    let items = fields.array("routes");
    if let Some(extra) = items.get(MAX_ROUTES) {
        cx.error(
            extra,
            format!("at most {MAX_ROUTES} routes"),
            "10 routes or fewer (IoT Core's limit)",
        );
    }
    let routes = tables(items)
        .filter_map(|(_, route)| {
            Some(Route {
                subfolder: route.str("subfolder")?.to_owned(),
                topic: topic(route, "topic", cx)?,
            })
        })
        .collect();
    (telemetry, routes, topic(fields, "state_topic", cx))
}

/// `[project] registry_cas`: at most 10 files.
pub(super) fn registry_cas(fields: &Fields, cx: &mut Cx) -> Vec<String> {
    let items = fields.array("registry_cas");
    if let Some(extra) = items.get(MAX_REGISTRY_CAS) {
        cx.error(
            extra,
            format!("at most {MAX_REGISTRY_CAS} registry CA certificates"),
            "10 files or fewer (IoT Core's limit)",
        );
    }
    items
        .iter()
        .filter_map(|i| match &i.val {
            Val::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// `[bridge]` (an empty table when absent).
pub(super) fn bridge(fields: &Fields, cx: &mut Cx) -> EmbeddedBridge {
    let files = ["cert", "key", "ca"].map(|k| fields.str(k).map(str::to_owned));
    let files = match files {
        [Some(cert), Some(key), Some(ca)] => Some(TlsFiles { cert, key, ca }),
        [None, None, None] => None,
        _ => {
            let given = ["cert", "key", "ca"].into_iter().find_map(|k| fields.get(k));
            if let Some(item) = given {
                cx.error(
                    item,
                    "cert, key and ca go together",
                    "all three of cert, key and ca, or none (a CA is then generated per run)",
                );
            }
            None
        }
    };
    EmbeddedBridge {
        profile: if fields.str("profile") == Some("clearblade") {
            Profile::ClearBlade
        } else {
            Profile::Google
        },
        tls: fields.bool("tls").unwrap_or(true),
        files,
    }
}

/// Every `[[device]]`; devices with errors are left out (the errors are reported).
pub(super) fn devices(items: &[Item], cx: &mut Cx) -> Vec<Device> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (item, fields) in tables(items) {
        let Some(id_item) = fields.get("id") else { continue };
        let Some(id) = fields.str("id") else { continue };
        if !is_iot_id(id) {
            cx.error(id_item, format!("\"{id}\" is not a valid device id"), IOT_ID_HELP);
            continue;
        }
        if !seen.insert(id.to_owned()) {
            cx.error(
                id_item,
                format!("device `{id}` is declared twice"),
                "a device id no other [[device]] uses",
            );
            continue;
        }
        let credential_items = fields.array("credentials");
        if credential_items.is_empty() || credential_items.len() > MAX_CREDENTIALS {
            let at = fields.get("credentials").unwrap_or(item);
            cx.error(
                at,
                format!("device `{id}` has {} credentials", credential_items.len()),
                "1 to 3 credentials",
            );
            continue;
        }
        let credentials: Vec<DeviceCredential> = tables(credential_items)
            .filter_map(|(_, c)| credential(c, cx))
            .collect();
        if credentials.len() == credential_items.len() {
            let gateway = fields.bool("gateway").unwrap_or(false);
            let bound: Vec<String> = fields
                .array("bound")
                .iter()
                .filter_map(|i| match &i.val {
                    Val::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            if let (false, Some(at)) = (gateway, fields.get("bound").filter(|_| !bound.is_empty())) {
                cx.error(
                    at,
                    format!("device `{id}` binds devices but is not a gateway"),
                    "gateway = true, or no bound list",
                );
                continue;
            }
            out.push(Device {
                id: id.to_owned(),
                gateway,
                bound,
                credentials,
            });
        }
    }
    out
}

fn credential(fields: &Fields, cx: &mut Cx) -> Option<DeviceCredential> {
    let format = match fields.str("format")? {
        "RSA_PEM" => KeyFormat::RsaPem,
        "RSA_X509_PEM" => KeyFormat::RsaX509Pem,
        "ES256_PEM" => KeyFormat::Es256Pem,
        _ => KeyFormat::Es256X509Pem,
    };
    let expires = match (fields.get("expires"), fields.str("expires")) {
        (Some(item), Some(text)) => match humantime::parse_rfc3339(text) {
            Ok(time) => Some(
                time.duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            ),
            Err(_) => {
                cx.error(
                    item,
                    format!("\"{text}\" is not an RFC 3339 UTC time"),
                    "a time such as \"2027-01-31T00:00:00Z\"",
                );
                return None;
            }
        },
        _ => None,
    };
    Some(DeviceCredential {
        format,
        file: fields.str("file")?.to_owned(),
        expires,
    })
}
