//! Checks on an open connection: topics, QoS, config, commands and gateways.

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, Subscribe, SubscribeReasonCode};

use super::connect::{attempt, p256, token};
use super::{ConfigCheck, Ctx, GatewayCheck, TopicCheck};
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
        Observation::accepted().with("answer", if qos == QoS::AtLeastOnce { "PUBACK" } else { "connection open" })
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
async fn subscribe(probe: &mut Probe, filter: &str, qos: QoS) -> Result<Observation, String> {
    probe
        .send(Packet::Subscribe(Subscribe::new(filter, qos)))
        .await
        .map_err(err)?;
    let ack = probe.until(|p| matches!(p, Packet::SubAck(_))).await.map_err(err)?;
    let Some(Packet::SubAck(ack)) = ack else {
        return Ok(Observation::refused(None, Some("closed".into())).with("suback", "none: connection closed"));
    };
    let seen = match ack.return_codes.first() {
        Some(SubscribeReasonCode::Success(granted)) => Observation::accepted().with("granted_qos", *granted as u8),
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
        TopicCheck::OwnEvents | TopicCheck::PublishQos1 => publish(ctx, &mut probe, id, &own("events"), q1, payload).await,
        TopicCheck::EventsSubfolder => publish(ctx, &mut probe, id, &own("events/probe-sub"), q1, payload).await,
        TopicCheck::OwnState => publish(ctx, &mut probe, id, &own("state"), q1, payload).await,
        TopicCheck::PublishQos0 => publish(ctx, &mut probe, id, &own("events"), QoS::AtMostOnce, payload).await,
        TopicCheck::PublishQos2 => publish(ctx, &mut probe, id, &own("events"), QoS::ExactlyOnce, payload).await,
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
                Some("2") => Observation::broken("SUBSCRIBE with QoS 2 was granted QoS 2").with("granted_qos", 2),
                _ => seen,
            })
        }
    }
}

/// Config publishes seen within a few ping round trips.
async fn configs_after_pings(probe: &mut Probe) -> Result<Vec<Publish>, String> {
    for _ in 0..3 {
        if !probe.ping().await.map_err(err)? {
            return Err("the bridge closed the connection".into());
        }
        let found: Vec<Publish> = probe
            .seen
            .drain(..)
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect();
        if !found.is_empty() {
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

/// The next publish, and any others that follow within a few ping round trips.
async fn publishes(probe: &mut Probe) -> Result<Vec<Publish>, String> {
    match probe.until(|p| matches!(p, Packet::Publish(_))).await {
        Ok(Some(Packet::Publish(first))) => {
            let mut all = vec![first];
            all.extend(configs_after_pings(probe).await?);
            Ok(all)
        }
        Ok(_) => Err("the bridge closed the connection".into()),
        Err(crate::conformance::probe::ProbeError::Timeout(_)) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

async fn next_publish(probe: &mut Probe) -> Result<Publish, String> {
    match probe.until(|p| matches!(p, Packet::Publish(_))).await.map_err(err)? {
        Some(Packet::Publish(p)) => Ok(p),
        _ => Err("the bridge closed the connection".into()),
    }
}

fn text(payload: &Bytes) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

pub(super) async fn config(which: ConfigCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    let device = ctx.target.device(0)?;
    let store = &embedded.store;
    let set = |data: &'static str| store.set_config(&device.id, Bytes::from_static(data.as_bytes()), None).map_err(err);
    let mut probe = open(ctx, &device).await?;
    let every = ctx.target.profile.config_redelivery + std::time::Duration::from_secs(1);
    let filter = format!("/devices/{}/config", device.id);
    match which {
        ConfigCheck::LatestAfterSubscribe => {
            set("v1")?;
            set("v2")?;
            subscribe(&mut probe, &filter, QoS::AtLeastOnce).await?;
            let first = next_publish(&mut probe).await?;
            let got = text(&first.payload);
            Ok(if got == "v2" { Observation::accepted() } else { Observation::broken(format!("sent `{got}` after SUBSCRIBE, not the latest `v2`")) }
                .with("first_config", got))
        }
        ConfigCheck::RedeliverNewest => {
            set("v1")?;
            subscribe(&mut probe, &filter, QoS::AtLeastOnce).await?;
            next_publish(&mut probe).await?;
            let v2 = set("v2")?;
            embedded.bridge.push_config(&device.id, v2).await;
            next_publish(&mut probe).await?;
            embedded.bridge.clock().advance(every);
            let again = publishes(&mut probe).await?;
            let versions: Vec<String> = again.iter().map(|p| text(&p.payload)).collect();
            let seen = match versions.as_slice() {
                [v] if v == "v2" => Observation::accepted(),
                [] => Observation::broken("nothing was redelivered"),
                _ => Observation::broken(format!("redelivered {versions:?}, not only the newest `v2`")),
            };
            Ok(seen.with("redelivered", format!("{versions:?}")).with("clock_moved_s", every.as_secs()))
        }
        ConfigCheck::Qos1UntilPuback => {
            set("v1")?;
            subscribe(&mut probe, &filter, QoS::AtLeastOnce).await?;
            next_publish(&mut probe).await?;
            embedded.bridge.clock().advance(every);
            let again = publishes(&mut probe).await?;
            let Some(redelivered) = again.first() else {
                return Ok(Observation::broken("an unacknowledged QoS 1 config was not redelivered"));
            };
            let dup = redelivered.dup;
            probe.send(Packet::PubAck(PubAck::new(redelivered.pkid))).await.map_err(err)?;
            // The bridge reads in order: once the ping is answered, the PUBACK was processed
            // before the clock moves again.
            probe.ping().await.map_err(err)?;
            embedded.bridge.clock().advance(every);
            let after = configs_after_pings(&mut probe).await?;
            Ok(if after.is_empty() { Observation::accepted() } else { Observation::broken("redelivered after its PUBACK") }
                .with("redelivered_dup_flag", dup)
                .with("after_puback", after.len()))
        }
        ConfigCheck::Qos0Once => {
            set("v1")?;
            subscribe(&mut probe, &filter, QoS::AtMostOnce).await?;
            next_publish(&mut probe).await?;
            let v2 = set("v2")?;
            embedded.bridge.push_config(&device.id, v2).await;
            let second = next_publish(&mut probe).await?;
            embedded.bridge.clock().advance(every);
            let again = configs_after_pings(&mut probe).await?;
            Ok(if again.is_empty() { Observation::accepted() } else { Observation::broken("a QoS 0 config was sent again") }
                .with("second_config", text(&second.payload))
                .with("resent", again.len()))
        }
        ConfigCheck::CommandDelivered => {
            subscribe(&mut probe, &format!("/devices/{}/commands/#", device.id), QoS::AtLeastOnce).await?;
            embedded.bridge.send_command(&device.id, Some("led"), Bytes::from_static(b"on")).await.map_err(err)?;
            let command = next_publish(&mut probe).await?;
            let want = format!("/devices/{}/commands/led", device.id);
            Ok(if command.topic == want && command.payload.as_ref() == b"on" { Observation::accepted() } else { Observation::broken(format!("received `{}` on {}", text(&command.payload), command.topic)) }
                .with("command_topic", command.topic))
        }
        ConfigCheck::CommandDropped => {
            let sent = embedded.bridge.send_command(&device.id, None, Bytes::from_static(b"on")).await;
            let delivered = configs_after_pings(&mut probe).await?;
            Ok(match (sent, delivered.is_empty()) {
                (Err(e), true) => Observation::accepted().with("send_command", e),
                (Ok(()), _) => Observation::broken("a command for a device not subscribed was accepted"),
                (Err(_), false) => Observation::broken("a command reached a device not subscribed"),
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
            Packet::Publish(p) if p.topic.ends_with("/errors") => serde_json::from_slice::<serde_json::Value>(&p.payload)
                .ok()
                .and_then(|v| v["error_type"].as_str().map(str::to_owned)),
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
    let gw = ProbeDevice { id: ctx.target.fresh_id(), key: gw_key };
    let credential = |k: &fleetgate_identity::DeviceKey| fleetgate_identity::credentials::Credential {
        format: fleetgate_identity::credentials::CredentialFormat::Es256Pem,
        pem: k.spki_pem(),
        expiration: None,
    };
    store.create(&gw.id, vec![credential(&gw.key)], true, now).map_err(err)?;
    let device = ctx.target.device(0)?;
    if which != GatewayCheck::AttachUnbound {
        store.bind(&gw.id, &device.id, true).map_err(err)?;
    }
    let mut probe = open(ctx, &gw).await?;
    subscribe(&mut probe, &format!("/devices/{}/errors", gw.id), QoS::AtMostOnce).await?;
    if which != GatewayCheck::PublishNotAttached {
        let request = serde_json::json!({ "device_id": device.id, "authorization": token(ctx, &device.key)? });
        let attach = format!("/devices/{}/attach", gw.id);
        publish(ctx, &mut probe, &gw.id, &attach, QoS::AtLeastOnce, request.to_string().as_bytes()).await?;
        let errors = gateway_errors(&mut probe);
        if let Some(error) = errors.first() {
            return Ok(Observation::refused(None, Some(error.clone())).with("attach_error", error).with("gateway", &gw.id));
        }
    }
    // A refused publish gets no PUBACK but an error, sent as the bridge reads the publish:
    // a ping round trip after it sees the error.
    let mut packet = Publish::new(format!("/devices/{}/events", device.id), QoS::AtLeastOnce, b"from the gateway".to_vec());
    packet.pkid = 9;
    probe.send(Packet::Publish(packet)).await.map_err(err)?;
    if !probe.ping().await.map_err(err)? {
        return Ok(Observation::refused(None, Some("closed".into())).with("publish", "connection closed"));
    }
    let acked = probe.seen.iter().any(|p| matches!(p, Packet::PubAck(a) if a.pkid == 9));
    let errors = gateway_errors(&mut probe);
    let seen = match errors.first() {
        Some(error) => Observation::refused(None, Some(error.clone())).with("publish_error", error),
        None if acked => Observation::accepted().with("publish", "PUBACK"),
        None => match probe.until(|p| matches!(p, Packet::PubAck(a) if a.pkid == 9)).await.map_err(err)? {
            Some(_) => Observation::accepted().with("publish", "PUBACK"),
            None => Observation::refused(None, Some("closed".into())).with("publish", "connection closed"),
        },
    };
    Ok(seen.with("gateway", &gw.id).with("device", &device.id))
}
