//! Forwarding telemetry to Pub/Sub: routing by subfolder (docs/protocol.md §3), the exact attribute
//! set, and the [`Forwarder`] seam behind which the embedded emulator or an external one sits.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::profile::{Profile, SubfolderAttribute};
use crate::session::{RegistryPath, Telemetry};

/// Where a registry's telemetry goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    /// `projects/P/topics/T` for telemetry whose subfolder matches no route.
    pub default_topic: Option<String>,
    /// Up to 10 `(subfolderMatches, topic)` pairs, first match wins.
    pub routes: Vec<(String, String)>,
    /// The state notification topic, if any.
    pub state_topic: Option<String>,
}

/// A message for Pub/Sub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The full topic name, `projects/P/topics/T`.
    pub topic: String,
    /// The exact payload bytes.
    pub data: Bytes,
    /// The attributes.
    pub attributes: BTreeMap<String, String>,
}

/// Publishes to Pub/Sub. The future resolves once Pub/Sub has accepted the message (only then
/// does the device get its PUBACK), or with the reason it did not.
pub trait Forwarder: Send + Sync + 'static {
    /// Publishes one message.
    fn forward(&self, message: Outgoing) -> BoxFuture<'static, Result<(), String>>;
}

/// The Pub/Sub message for a device's telemetry, or why there is none (no topic configured,
/// which closes the device's connection).
pub fn telemetry_message(
    telemetry: &Telemetry,
    routing: &Routing,
    path: &RegistryPath,
    profile: &Profile,
) -> Result<Outgoing, String> {
    let routed = telemetry
        .subfolder
        .as_deref()
        .and_then(|sub| routing.routes.iter().find(|(matches, _)| matches == sub))
        .map(|(_, topic)| topic);
    let topic = routed
        .or(routing.default_topic.as_ref())
        .ok_or_else(|| "the registry has no telemetry topic".to_owned())?;
    let mut attributes = BTreeMap::from([
        ("deviceId".to_owned(), telemetry.device.clone()),
        ("deviceNumId".to_owned(), telemetry.device_num_id.to_string()),
        ("deviceRegistryId".to_owned(), path.registry.clone()),
        ("deviceRegistryLocation".to_owned(), path.region.clone()),
        ("projectId".to_owned(), path.project.clone()),
    ]);
    match (&telemetry.subfolder, profile.subfolder_attribute) {
        (Some(sub), _) => {
            attributes.insert("subFolder".to_owned(), sub.clone());
        }
        (None, SubfolderAttribute::Empty) => {
            attributes.insert("subFolder".to_owned(), String::new());
        }
        (None, SubfolderAttribute::Absent) => {}
    }
    Ok(Outgoing {
        topic: topic.clone(),
        data: telemetry.payload.clone(),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry(subfolder: Option<&str>) -> Telemetry {
        Telemetry {
            pkid: Some(1),
            device: "pi-1".into(),
            device_num_id: 2_718_281_828_459,
            subfolder: subfolder.map(str::to_owned),
            payload: Bytes::from_static(b"\x00raw\xff"),
        }
    }

    fn path() -> RegistryPath {
        RegistryPath {
            project: "demo-project".into(),
            region: "europe-west1".into(),
            registry: "pi-fleet".into(),
        }
    }

    fn routing() -> Routing {
        Routing {
            default_topic: Some("projects/demo-project/topics/telemetry".into()),
            routes: vec![
                ("alerts".into(), "projects/demo-project/topics/alerts".into()),
                ("alerts".into(), "projects/demo-project/topics/never".into()),
            ],
            state_topic: None,
        }
    }

    #[test]
    fn attributes_are_exactly_the_iot_core_set() {
        let message = telemetry_message(&telemetry(None), &routing(), &path(), &Profile::google()).unwrap();
        let keys: Vec<&str> = message.attributes.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "deviceId",
                "deviceNumId",
                "deviceRegistryId",
                "deviceRegistryLocation",
                "projectId"
            ]
        );
        assert_eq!(message.attributes["deviceNumId"], "2718281828459");
        assert_eq!(message.attributes["deviceRegistryLocation"], "europe-west1");
        assert_eq!(
            message.data,
            Bytes::from_static(b"\x00raw\xff"),
            "the exact payload bytes"
        );
        let mut empty = Profile::google();
        empty.subfolder_attribute = SubfolderAttribute::Empty;
        let message = telemetry_message(&telemetry(None), &routing(), &path(), &empty).unwrap();
        assert_eq!(message.attributes.get("subFolder").map(String::as_str), Some(""));
    }

    #[test]
    fn subfolders_route_to_the_first_matching_topic_else_the_default() {
        let alerts = telemetry_message(
            &telemetry(Some("alerts")),
            &routing(),
            &path(),
            &Profile::google(),
        )
        .unwrap();
        assert_eq!(alerts.topic, "projects/demo-project/topics/alerts");
        assert_eq!(alerts.attributes["subFolder"], "alerts");
        let other =
            telemetry_message(&telemetry(Some("misc")), &routing(), &path(), &Profile::google()).unwrap();
        assert_eq!(other.topic, "projects/demo-project/topics/telemetry");
    }

    #[test]
    fn no_topic_is_an_error_not_a_silent_drop() {
        let none = Routing::default();
        assert_eq!(
            telemetry_message(&telemetry(None), &none, &path(), &Profile::google()),
            Err("the registry has no telemetry topic".to_owned())
        );
    }
}
