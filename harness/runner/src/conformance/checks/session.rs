//! Checks on an open connection: topics, QoS and gateways.

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish, Subscribe, SubscribeReasonCode};

use super::connect::{attempt, p256, token};
use super::{Ctx, GatewayCheck, TopicCheck};
use crate::conformance::evidence::Observation;
use crate::conformance::probe::{ConnectParams, Probe};
use crate::conformance::target::ProbeDevice;

/// A connected probe of a device.
pub(super) async fn open(ctx: &Ctx<'_>, device: &ProbeDevice) -> Result<Probe, String> {
    let params = ConnectParams::new(ctx.target.client_id(&device.id), token(ctx, &device.key)?);
    match attempt(ctx, &params).await? {
        (Some(probe), _) => Ok(probe),
        (None, seen) => Err(format!(
            "the probe device {} was refused: {:?}",
            device.id, seen.evidence
        )),
    }
}

fn err(e: impl ToString) -> String {
    e.to_string()
}

/// Publishes and reads the answer: `Ok(accepted)` with the PUBACK (QoS 1) or a ping round trip
/// (QoS 0), or refused with the bridge's close cause.
async fn publish(
    ctx: &Ctx<'_>,
    probe: &mut Probe,
    device: &str,
    topic: &str,
    qos: QoS,
    payload: &[u8],
) -> Result<Observation, String> {
    let mut packet = Publish::new(topic, qos, payload.to_vec());
    if qos != QoS::AtMostOnce {
        packet.pkid = 7;
    }
    probe.send(Packet::Publish(packet)).await.map_err(err)?;
    let answered = if qos == QoS::AtLeastOnce {
        probe
            .until(|p| matches!(p, Packet::PubAck(a) if a.pkid == 7))
            .await
            .map_err(err)?
            .is_some()
            && !probe.closed().await.map_err(err)?
    } else {
        !probe.closed().await.map_err(err)?
    };
    let seen = if answered {
        Observation::accepted().with(
            "answer",
            if qos == QoS::AtLeastOnce {
                "PUBACK"
            } else {
                "connection open"
            },
        )
    } else {
        let cause = ctx.target.disconnect_cause(device).await;
        let mut seen = Observation::refused(None, cause.clone()).with("answer", "connection closed");
        if let Some(cause) = cause {
            seen.note("disconnect_cause", cause);
        }
        seen
    };
    Ok(seen.with("topic", topic).with("qos", qos as u8))
}

/// Subscribes to one filter and reads the SUBACK code.
pub(super) async fn subscribe(probe: &mut Probe, filter: &str, qos: QoS) -> Result<Observation, String> {
    probe
        .send(Packet::Subscribe(Subscribe::new(filter, qos)))
        .await
        .map_err(err)?;
    let ack = probe
        .until(|p| matches!(p, Packet::SubAck(_)))
        .await
        .map_err(err)?;
    let Some(Packet::SubAck(ack)) = ack else {
        return Ok(
            Observation::refused(None, Some("closed".into())).with("suback", "none: connection closed")
        );
    };
    let seen = match ack.return_codes.first() {
        Some(SubscribeReasonCode::Success(granted)) => {
            Observation::accepted().with("granted_qos", *granted as u8)
        }
        _ => Observation::refused(None, Some("suback-0x80".into())).with("suback", "0x80"),
    };
    Ok(seen.with("filter", filter))
}

pub(super) async fn topic(which: TopicCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let device = ctx.target.device(0)?;
    let mut probe = open(ctx, &device).await?;
    let own = |rest: &str| format!("/devices/{}/{rest}", device.id);
    let payload = format!("conformance {} {}", which.id(), device.id);
    let payload = payload.as_bytes();
    let (id, q1) = (&device.id, QoS::AtLeastOnce);
    match which {
        TopicCheck::OwnEvents | TopicCheck::PublishQos1 => {
            publish(ctx, &mut probe, id, &own("events"), q1, payload).await
        }
        TopicCheck::EventsSubfolder => {
            publish(ctx, &mut probe, id, &own("events/probe-sub"), q1, payload).await
        }
        TopicCheck::OwnState => publish(ctx, &mut probe, id, &own("state"), q1, payload).await,
        TopicCheck::PublishQos0 => {
            publish(ctx, &mut probe, id, &own("events"), QoS::AtMostOnce, payload).await
        }
        TopicCheck::PublishQos2 => {
            publish(ctx, &mut probe, id, &own("events"), QoS::ExactlyOnce, payload).await
        }
        TopicCheck::OtherDeviceEvents => {
            let other = ctx.target.device(1)?;
            let topic = format!("/devices/{}/events", other.id);
            publish(ctx, &mut probe, id, &topic, q1, payload).await
        }
        TopicCheck::OutsideContract => publish(ctx, &mut probe, id, &own("telemetry"), q1, payload).await,
        TopicCheck::SubscribeOtherConfig => {
            let other = ctx.target.device(1)?;
            subscribe(&mut probe, &format!("/devices/{}/config", other.id), q1).await
        }
        TopicCheck::SubscribeWildcard => subscribe(&mut probe, "#", q1).await,
        TopicCheck::CommandsFilter => subscribe(&mut probe, &own("commands"), q1).await,
        TopicCheck::SubscribeQos2 => {
            let seen = subscribe(&mut probe, &own("config"), QoS::ExactlyOnce).await?;
            Ok(match seen.evidence.get("granted_qos").map(String::as_str) {
                Some("2") => {
                    Observation::broken("SUBSCRIBE with QoS 2 was granted QoS 2").with("granted_qos", 2)
                }
                _ => seen,
            })
        }
    }
}

/// The `error_type` of gateway errors seen.
fn gateway_errors(probe: &mut Probe) -> Vec<String> {
    probe
        .seen
        .drain(..)
        .filter_map(|p| match p {
            Packet::Publish(p) if p.topic.ends_with("/errors") => {
                serde_json::from_slice::<serde_json::Value>(&p.payload)
                    .ok()
                    .and_then(|v| v["error_type"].as_str().map(str::to_owned))
            }
            _ => None,
        })
        .collect()
}

pub(super) async fn gateway(which: GatewayCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    if which == GatewayCheck::NonGatewayAttach {
        let device = ctx.target.device(0)?;
        let mut probe = open(ctx, &device).await?;
        let topic = format!("/devices/{}/attach", device.id);
        return publish(ctx, &mut probe, &device.id, &topic, QoS::AtLeastOnce, b"{}").await;
    }
    let store = &embedded.store;
    let now = ctx.target.now();
    let gw_key = std::sync::Arc::new(p256()?);
    let gw = ProbeDevice {
        id: ctx.target.fresh_id(),
        key: gw_key,
    };
    let credential = |k: &fleetgate_identity::DeviceKey| fleetgate_identity::credentials::Credential {
        format: fleetgate_identity::credentials::CredentialFormat::Es256Pem,
        pem: k.spki_pem(),
        expiration: None,
    };
    store
        .create(&gw.id, vec![credential(&gw.key)], true, now)
        .map_err(err)?;
    let device = ctx.target.device(0)?;
    if which != GatewayCheck::AttachUnbound {
        store.bind(&gw.id, &device.id, true).map_err(err)?;
    }
    let mut probe = open(ctx, &gw).await?;
    subscribe(&mut probe, &format!("/devices/{}/errors", gw.id), QoS::AtMostOnce).await?;
    if which != GatewayCheck::PublishNotAttached {
        let request =
            serde_json::json!({ "device_id": device.id, "authorization": token(ctx, &device.key)? });
        let attach = format!("/devices/{}/attach", gw.id);
        publish(
            ctx,
            &mut probe,
            &gw.id,
            &attach,
            QoS::AtLeastOnce,
            request.to_string().as_bytes(),
        )
        .await?;
        let errors = gateway_errors(&mut probe);
        if let Some(error) = errors.first() {
            return Ok(Observation::refused(None, Some(error.clone()))
                .with("attach_error", error)
                .with("gateway", &gw.id));
        }
    }
    // A refused publish gets no PUBACK but an error, sent as the bridge reads the publish:
    // a ping round trip after it sees the error.
    let mut packet = Publish::new(
        format!("/devices/{}/events", device.id),
        QoS::AtLeastOnce,
        b"from the gateway".to_vec(),
    );
    packet.pkid = 9;
    probe.send(Packet::Publish(packet)).await.map_err(err)?;
    if !probe.ping().await.map_err(err)? {
        return Ok(Observation::refused(None, Some("closed".into())).with("publish", "connection closed"));
    }
    let acked = probe
        .seen
        .iter()
        .any(|p| matches!(p, Packet::PubAck(a) if a.pkid == 9));
    let errors = gateway_errors(&mut probe);
    let seen = match errors.first() {
        Some(error) => Observation::refused(None, Some(error.clone())).with("publish_error", error),
        None if acked => Observation::accepted().with("publish", "PUBACK"),
        None => match probe
            .until(|p| matches!(p, Packet::PubAck(a) if a.pkid == 9))
            .await
            .map_err(err)?
        {
            Some(_) => Observation::accepted().with("publish", "PUBACK"),
            None => Observation::refused(None, Some("closed".into())).with("publish", "connection closed"),
        },
    };
    Ok(seen.with("gateway", &gw.id).with("device", &device.id))
}
