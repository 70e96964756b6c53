//! Device topics (docs/protocol.md §3): which MQTT topics a device may publish or subscribe to, and
//! what each means. A device may only use topics of its own id, or of devices attached to it
//! when it is a gateway.

/// A topic of the IoT Core contract, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceTopic {
    /// `/devices/{id}/events` or `/devices/{id}/events/{subfolder}`: telemetry.
    Events {
        /// The subfolder, if any (may itself contain `/`).
        subfolder: Option<String>,
    },
    /// `/devices/{id}/state`: device state.
    State,
    /// `/devices/{id}/config`: configuration (subscribe only).
    Config,
    /// `/devices/{id}/commands/#` (subscribe) or `/devices/{id}/commands[/{subfolder}]`.
    Commands,
    /// `/devices/{gw}/attach`: a gateway attaches a device.
    Attach,
    /// `/devices/{gw}/detach`: a gateway detaches a device.
    Detach,
    /// `/devices/{gw}/errors`: errors for a gateway (subscribe only).
    Errors,
}

/// A topic split into the device it names and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressed<'a> {
    /// The device id in the topic.
    pub device: &'a str,
    /// What the topic is.
    pub topic: DeviceTopic,
}

/// Parses a topic a device publishes to. `None` for anything outside the contract.
pub fn parse_publish(topic: &str) -> Option<Addressed<'_>> {
    let (device, rest) = split(topic)?;
    let topic = match rest {
        "events" => DeviceTopic::Events { subfolder: None },
        "state" => DeviceTopic::State,
        "attach" => DeviceTopic::Attach,
        "detach" => DeviceTopic::Detach,
        _ => {
            let subfolder = rest.strip_prefix("events/")?;
            if subfolder.is_empty() || subfolder.contains(['+', '#']) {
                return None;
            }
            DeviceTopic::Events {
                subfolder: Some(subfolder.to_owned()),
            }
        }
    };
    Some(Addressed { device, topic })
}

/// Parses a topic filter a device subscribes to. `None` for anything outside the contract.
pub fn parse_subscribe(filter: &str) -> Option<Addressed<'_>> {
    let (device, rest) = split(filter)?;
    let topic = match rest {
        "config" => DeviceTopic::Config,
        "commands/#" => DeviceTopic::Commands,
        "errors" => DeviceTopic::Errors,
        _ => return None,
    };
    Some(Addressed { device, topic })
}

/// `/devices/{id}/{rest}` → `(id, rest)`, refusing wildcards in the device id.
fn split(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix("/devices/")?;
    let (device, rest) = rest.split_once('/')?;
    if device.is_empty() || device.contains(['+', '#']) {
        return None;
    }
    Some((device, rest))
}

/// The topic a config is delivered on.
pub fn config_topic(device: &str) -> String {
    format!("/devices/{device}/config")
}

/// The topic a command is delivered on.
pub fn command_topic(device: &str, subfolder: Option<&str>) -> String {
    match subfolder {
        Some(sub) => format!("/devices/{device}/commands/{sub}"),
        None => format!("/devices/{device}/commands"),
    }
}

/// The topic gateway errors are delivered on.
pub fn errors_topic(gateway: &str) -> String {
    format!("/devices/{gateway}/errors")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_topics_carry_an_optional_subfolder() {
        assert_eq!(
            parse_publish("/devices/pi-1/events"),
            Some(Addressed {
                device: "pi-1",
                topic: DeviceTopic::Events { subfolder: None }
            })
        );
        let nested = parse_publish("/devices/pi-1/events/alerts/high").unwrap();
        assert_eq!(
            nested.topic,
            DeviceTopic::Events {
                subfolder: Some("alerts/high".into())
            }
        );
        assert_eq!(
            parse_publish("/devices/pi-1/state").unwrap().topic,
            DeviceTopic::State
        );
        assert_eq!(
            parse_publish("/devices/gw/attach").unwrap().topic,
            DeviceTopic::Attach
        );
    }

    #[test]
    fn anything_outside_the_contract_is_refused() {
        for topic in [
            "devices/pi-1/events",
            "/devices/pi-1/events/",
            "/devices//events",
            "/devices/+/events",
            "/devices/pi-1/config",
            "/devices/pi-1/telemetry",
            "/devices/pi-1",
            "/devices/pi-1/events/#",
        ] {
            assert_eq!(parse_publish(topic), None, "{topic}");
        }
    }

    #[test]
    fn subscriptions_are_config_commands_and_errors_only() {
        assert_eq!(
            parse_subscribe("/devices/pi-1/config").unwrap().topic,
            DeviceTopic::Config
        );
        assert_eq!(
            parse_subscribe("/devices/pi-1/commands/#").unwrap().topic,
            DeviceTopic::Commands
        );
        assert_eq!(
            parse_subscribe("/devices/gw/errors").unwrap().topic,
            DeviceTopic::Errors
        );
        for filter in [
            "/devices/pi-1/commands",
            "/devices/pi-1/commands/+",
            "/devices/pi-1/events",
            "/devices/+/config",
            "#",
        ] {
            assert_eq!(parse_subscribe(filter), None, "{filter}");
        }
    }
}
