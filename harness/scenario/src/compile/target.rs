//! `[target]` and `[project]`.

use std::net::IpAddr;

use crate::model::{
    BridgeTarget, ExternalBridgeDevice, Profile, Project, PubsubTarget, PushTarget, SourceAddresses, Target,
};
use crate::read::{Fields, Val};
use crate::template::{IOT_ID_HELP, is_iot_id};

use super::Cx;

/// The default bound on the embedded Pub/Sub's stored bytes (the emulator's own default).
const DEFAULT_MAX_STORED: u64 = 1 << 30;

/// Compiles `[target]` (an empty table when absent).
pub(super) fn target(fields: &Fields, cx: &mut Cx) -> Option<Target> {
    let bridge = match fields.get("bridge").map(|i| (&i.val, i)) {
        None => BridgeTarget::Embedded,
        Some((Val::Str(_), _)) => BridgeTarget::Embedded,
        Some((Val::Table(t), item)) => {
            if t.bool("tls") == Some(false) {
                cx.warn(
                    item,
                    "plain TCP: IoT Core bridges require TLS, so this suits only local brokers",
                );
            }
            BridgeTarget::External {
                host: t.str("host")?.to_owned(),
                port: u16::try_from(t.int("port")?).ok()?,
                ca: t.str("ca").map(str::to_owned),
                profile: match t.str("profile") {
                    Some("clearblade") => Profile::ClearBlade,
                    _ => Profile::Google,
                },
                tls: t.bool("tls").unwrap_or(true),
                devices: t
                    .array("devices")
                    .iter()
                    .filter_map(|item| match &item.val {
                        Val::Table(d) => Some(ExternalBridgeDevice {
                            id: d.str("id")?.to_owned(),
                            key: d.str("key")?.to_owned(),
                        }),
                        _ => None,
                    })
                    .collect(),
            }
        }
        Some(_) => return None,
    };
    let pubsub = match fields.get("pubsub").map(|i| &i.val) {
        None => PubsubTarget::Embedded,
        Some(Val::Str(s)) if s == "container" => PubsubTarget::Container,
        Some(Val::Str(_)) => PubsubTarget::Embedded,
        Some(Val::Table(t)) => {
            let item = t.get("emulator")?;
            let address = t.str("emulator")?;
            if !is_host_port(address) {
                cx.error(
                    item,
                    format!("\"{address}\" is not host:port"),
                    "an address such as \"127.0.0.1:8085\"",
                );
            }
            PubsubTarget::Emulator(address.to_owned())
        }
        Some(_) => return None,
    };
    let push_endpoint = match fields.get("push_endpoint").map(|i| &i.val) {
        None | Some(Val::Str(_)) => PushTarget::Embedded,
        Some(Val::Table(t)) => {
            let item = t.get("url")?;
            let url = t.str("url")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                cx.error(
                    item,
                    format!("\"{url}\" is not an http:// or https:// URL"),
                    "a URL such as \"http://127.0.0.1:8080/push\"",
                );
            }
            PushTarget::External {
                url: url.to_owned(),
                audience: t.str("audience").map(str::to_owned),
            }
        }
        Some(_) => return None,
    };
    let pubsub_max_stored = fields.size("pubsub_max_stored").unwrap_or(DEFAULT_MAX_STORED);
    if let Some(item) = fields.get("pubsub_max_stored") {
        if pubsub != PubsubTarget::Embedded {
            cx.error(
                item,
                "pubsub_max_stored bounds the embedded Pub/Sub, which this target does not use",
                "remove it, or set pubsub = \"embedded\"",
            );
        } else if pubsub_max_stored == 0 {
            cx.error(
                item,
                "a bound of 0 bytes refuses every publish",
                "a size such as \"512MiB\"",
            );
        }
    }
    Some(Target {
        bridge,
        pubsub,
        pubsub_max_stored,
        push_endpoint,
        source_addresses: source_addresses(fields, cx),
    })
}

/// `source_addresses`: `"auto"`, or a list of IP addresses.
fn source_addresses(fields: &Fields, cx: &mut Cx) -> SourceAddresses {
    let Some(Val::Array(items)) = fields.get("source_addresses").map(|i| &i.val) else {
        return SourceAddresses::Auto;
    };
    if let Some(item) = fields.get("source_addresses").filter(|_| items.is_empty()) {
        cx.error(
            item,
            "an empty list leaves the devices no address to connect from",
            "\"auto\", or addresses of this machine such as [\"127.0.0.2\", \"127.0.0.3\"]",
        );
    }
    let mut listed = Vec::new();
    for item in items {
        let Val::Str(text) = &item.val else { continue };
        match text.parse::<IpAddr>() {
            Ok(ip) => listed.push(ip),
            Err(_) => cx.error(
                item,
                format!("\"{text}\" is not an IP address"),
                "an IPv4 or IPv6 address of this machine such as \"127.0.0.2\"",
            ),
        }
    }
    SourceAddresses::Listed(listed)
}

fn is_host_port(text: &str) -> bool {
    text.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Compiles `[project]` (an empty table when absent), filling in defaults.
pub(super) fn project(fields: &Fields, cx: &mut Cx) -> Option<Project> {
    let id = fields.str("id").unwrap_or("fleetgate-demo");
    if let Some(item) = fields.get("id").filter(|_| !is_project_id(id)) {
        cx.error(
            item,
            format!("\"{id}\" is not a valid project id"),
            "6 to 30 characters: a lowercase letter, then lowercase letters, digits or hyphens, not ending with a hyphen",
        );
    }
    let region = fields.str("region").unwrap_or("us-central1");
    if let Some(item) = fields.get("region").filter(|_| !is_region(region)) {
        cx.error(
            item,
            format!("\"{region}\" is not a region name"),
            "lowercase letters, digits and hyphens, such as \"us-central1\"",
        );
    }
    let registry = fields.str("registry").unwrap_or("pi-fleet");
    if let Some(item) = fields.get("registry").filter(|_| !is_iot_id(registry)) {
        cx.error(
            item,
            format!("\"{registry}\" is not a valid registry id"),
            IOT_ID_HELP,
        );
    }
    let (telemetry_topic, routes, state_topic) = super::registry::routing(fields, cx);
    Some(Project {
        id: id.to_owned(),
        region: region.to_owned(),
        registry: registry.to_owned(),
        telemetry_topic,
        routes,
        state_topic,
        registry_cas: super::registry::registry_cas(fields, cx),
    })
}

fn is_project_id(id: &str) -> bool {
    (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_follow_google_rules() {
        assert!(is_project_id("demo-project"));
        assert!(!is_project_id("Demo-Project"));
        assert!(!is_project_id("short"));
        assert!(!is_project_id("ends-with-"));
        assert!(!is_project_id("9starts-with-digit"));
    }

    #[test]
    fn emulator_addresses_need_a_port() {
        assert!(is_host_port("127.0.0.1:8085"));
        assert!(is_host_port("localhost:1"));
        assert!(!is_host_port("localhost"));
        assert!(!is_host_port(":8085"));
        assert!(!is_host_port("host:0"));
    }
}
