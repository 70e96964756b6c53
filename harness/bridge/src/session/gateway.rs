//! Gateways (docs/protocol.md §3): attaching and detaching bound devices with their own JWT, and
//! errors published on `/devices/{gateway}/errors`.

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish};
use serde_json::json;

use super::connected::Live;
use super::{Action, Registry, UnixMillis};
use crate::profile::Profile;
use crate::safety::SafetyCheck;
use crate::topics::{self, DeviceTopic};

/// Handles a publish to `/devices/{gw}/attach` or `/detach`. The request is acknowledged; its
/// outcome, when it fails, is published on the errors topic.
pub(super) fn attach_or_detach(
    live: &mut Live,
    topic: DeviceTopic,
    pkid: Option<u16>,
    payload: &[u8],
    now: UnixMillis,
    profile: &Profile,
    registry: &dyn Registry,
) -> Vec<Action> {
    let request: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    let device = request["device_id"].as_str().map(str::to_owned);
    let mut actions: Vec<Action> = pkid
        .map(|pkid| Action::Send(Packet::PubAck(PubAck::new(pkid))))
        .into_iter()
        .collect();
    let Some(device) = device else {
        actions.extend(error(
            live,
            "",
            "GATEWAY_ATTACHMENT_ERROR",
            "the request names no device_id",
            pkid,
        ));
        return actions;
    };
    if topic == DeviceTopic::Detach {
        if live.attached.remove(&device).is_some() {
            live.forget(&device);
            actions.push(Action::Release(device));
        }
        return actions;
    }
    let Some(info) = registry.device(&device).filter(|i| !i.blocked) else {
        actions.extend(error(
            live,
            &device,
            "GATEWAY_DEVICE_NOT_FOUND",
            "no such device in the registry",
            pkid,
        ));
        return actions;
    };
    if !registry.is_bound(&live.device, &device) && profile.enforces(SafetyCheck::GatewayBinding) {
        actions.extend(error(
            live,
            &device,
            "GATEWAY_ATTACHMENT_ERROR",
            "the device is not bound to this gateway",
            pkid,
        ));
        return actions;
    }
    if let Some(jwt) = request["authorization"].as_str()
        && let Err(reason) = registry.authenticate(&device, jwt, now.div_euclid(1000)).result
    {
        let description = format!("the device's JWT was refused: {reason}");
        actions.extend(error(
            live,
            &device,
            "GATEWAY_ATTACHMENT_ERROR",
            &description,
            pkid,
        ));
        return actions;
    }
    live.attached.insert(device.clone(), info.num_id);
    actions.push(Action::Claim(device));
    actions
}

/// A gateway published for a device that is not attached: nothing is forwarded or
/// acknowledged, and the error goes to the errors topic.
pub(super) fn not_attached(live: &mut Live, device: &str, pkid: Option<u16>) -> Vec<Action> {
    error(
        live,
        device,
        "GATEWAY_DEVICE_NOT_ATTACHED",
        "publish for a device that is not attached",
        pkid,
    )
}

fn error(live: &mut Live, device: &str, kind: &str, description: &str, message: Option<u16>) -> Vec<Action> {
    if !live.errors_subscribed {
        return Vec::new();
    }
    let body =
        json!({ "error_type": kind, "device_id": device, "description": description, "message_id": message });
    let publish = Publish::new(
        topics::errors_topic(&live.device),
        QoS::AtMostOnce,
        body.to_string().into_bytes(),
    );
    vec![Action::Send(Packet::Publish(publish))]
}
