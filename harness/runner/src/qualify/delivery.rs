//! Cases about what the device sends and receives over time: re-sending unacknowledged
//! telemetry, acknowledging config, receiving commands, refreshing its token, and coming back
//! after a long outage.

use std::time::Duration;

use bytes::Bytes;
use fleetgate_bridge::events::{Cause, Event, Recorded, Verdict};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::Packet;
use tokio::time::Instant;

use super::catalogue::Settings;
use super::device::{Device, Finding, attempt, secs};
use crate::observe::rfc3339;

/// The QoS 1 telemetry payload of an inbound packet, with its packet id.
fn telemetry(recorded: &Recorded, device: &str) -> Option<(u16, Bytes)> {
    match &recorded.event {
        Event::Packet {
            inbound: true,
            packet: Packet::Publish(p),
            ..
        } if p.qos == QoS::AtLeastOnce && p.topic.starts_with(&format!("/devices/{device}/events")) => {
            Some((p.pkid, p.payload.clone()))
        }
        _ => None,
    }
}

/// `device.qos1-republish`: the connection is dropped instead of acknowledging one QoS 1
/// telemetry message; after reconnecting the device must publish the same payload again.
pub(super) async fn qos1_republish(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let shared = std::sync::Arc::clone(&device.shared);
    let faults = shared.bridge.faults();
    faults.drop_before_next_puback(&device.id, true);
    let until = Instant::now() + settings.timeout;
    let dropped = device
        .wait_for(until, |r| {
            matches!(&r.event, Event::Disconnected { cause: Cause::Admin(why), .. } if why.contains("instead of acknowledging"))
        })
        .await;
    faults.drop_before_next_puback(&device.id, false);
    let Some(dropped) = dropped else {
        return Finding::skipped(format!(
            "not judged: the device published no QoS 1 telemetry within {}s, so no PUBACK could be held back",
            settings.timeout.as_secs()
        ));
    };
    let id = device.id.clone();
    let Some((pkid, payload)) = device.history.iter().rev().find_map(|r| telemetry(r, &id)) else {
        return Finding::failed("the held-back PUBLISH is not in the trace");
    };
    let until = Instant::now() + settings.timeout;
    let again = device
        .wait_for(until, |r| telemetry(r, &id).is_some_and(|(_, p)| p == payload))
        .await;
    let finding = match &again {
        Some(r) => Finding::passed()
            .with("published_again_after_s", secs(dropped.at, r.at))
            .with("published_again_at", rfc3339(r.at)),
        None => Finding::failed(format!(
            "the message whose PUBACK was held back was not published again within {}s",
            settings.timeout.as_secs()
        )),
    };
    finding
        .with("held_back_packet_id", pkid)
        .with("payload_bytes", payload.len())
        .with("dropped_at", rfc3339(dropped.at))
}

/// The QoS the device asked for on `filter` in the open connection's SUBSCRIBEs.
fn subscribed(device: &Device, filter: &str) -> Option<QoS> {
    let since = device.open_since()?;
    device.history[since..].iter().find_map(|r| match &r.event {
        Event::Packet {
            inbound: true,
            packet: Packet::Subscribe(s),
            ..
        } => s.filters.iter().find(|f| f.path == filter).map(|f| f.qos),
        _ => None,
    })
}

/// Waits (up to `limit`) for the device to subscribe to `filter` on its open connection.
async fn subscription(device: &mut Device, filter: &str, limit: Duration) -> Option<QoS> {
    let until = Instant::now() + limit;
    device.drain();
    while subscribed(device, filter).is_none() && device.next(until).await.is_some() {}
    subscribed(device, filter)
}

/// `device.config-ack`: the device subscribed to its config at QoS 1 and acknowledges a new
/// config version.
pub(super) async fn config_ack(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let filter = format!("/devices/{}/config", device.id);
    match subscription(device, &filter, Duration::from_secs(10).min(settings.timeout)).await {
        None => return Finding::failed(format!("the device did not subscribe to {filter}")),
        Some(QoS::AtMostOnce) => {
            return Finding::failed(format!(
                "the device subscribed to {filter} at QoS 0: a config is acknowledged only at QoS 1"
            ));
        }
        Some(_) => {}
    }
    let data = Bytes::from(format!(
        "{{\"fleetgate\":\"qualification\",\"at\":{}}}",
        device.shared.bridge.now()
    ));
    let config = match device.shared.store.set_config(&device.id, data, None) {
        Ok(config) => config,
        Err(e) => return Finding::failed(format!("could not store a config: {e}")),
    };
    let version = config.version;
    let sent_at = device.shared.bridge.now();
    device.shared.bridge.push_config(&device.id, config).await;
    let until = Instant::now() + settings.timeout;
    let topic = filter.clone();
    let Some(sent) = device
        .wait_for(until, |r| {
            matches!(&r.event, Event::Packet { inbound: false, packet: Packet::Publish(p), .. } if p.topic == topic)
        })
        .await
    else {
        return Finding::failed("the config was not sent: the device's connection closed");
    };
    let pkid = match &sent.event {
        Event::Packet {
            packet: Packet::Publish(p),
            ..
        } => p.pkid,
        _ => 0,
    };
    let acked = device
        .wait_for(until, |r| {
            matches!(&r.event, Event::Packet { inbound: true, packet: Packet::PubAck(a), .. } if a.pkid == pkid)
        })
        .await;
    let finding = match &acked {
        Some(r) => Finding::passed().with("acknowledged_after_s", secs(sent_at, r.at)),
        None => Finding::failed(format!(
            "config version {version} (packet {pkid}) was not acknowledged within {}s",
            settings.timeout.as_secs()
        )),
    };
    finding.with("version", version).with("packet_id", pkid)
}

/// `device.commands`: the device subscribed to its commands and receives one.
pub(super) async fn commands(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let filter = format!("/devices/{}/commands/#", device.id);
    let Some(qos) = subscription(device, &filter, Duration::from_secs(10).min(settings.timeout)).await else {
        return Finding::failed(format!("the device did not subscribe to {filter}"));
    };
    let payload = Bytes::from_static(b"{\"fleetgate\":\"qualification command\"}");
    if let Err(e) = device
        .shared
        .bridge
        .send_command(&device.id, Some("qualification"), payload)
        .await
    {
        return Finding::failed(format!("the command could not be delivered: {e}"));
    }
    if qos == QoS::AtMostOnce {
        return Finding::passed()
            .with("subscribed_qos", 0)
            .with("delivery", "sent at QoS 0, which has no acknowledgement");
    }
    let until = Instant::now() + settings.timeout;
    let topic = format!("/devices/{}/commands/qualification", device.id);
    let sent = device
        .wait_for(until, |r| {
            matches!(&r.event, Event::Packet { inbound: false, packet: Packet::Publish(p), .. } if p.topic == topic)
        })
        .await;
    let pkid = match sent.map(|r| r.event) {
        Some(Event::Packet {
            packet: Packet::Publish(p),
            ..
        }) => p.pkid,
        _ => return Finding::failed("the command was not sent: the device's connection closed"),
    };
    let acked = device
        .wait_for(until, |r| {
            matches!(&r.event, Event::Packet { inbound: true, packet: Packet::PubAck(a), .. } if a.pkid == pkid)
        })
        .await;
    Finding::unless(acked.is_some(), "the QoS 1 command was not acknowledged")
        .with("subscribed_qos", 1)
        .with("packet_id", pkid)
}

/// `device.refresh-before-expiry`: the device connects again with a new JWT before its token's
/// `exp` + grace.
pub(super) async fn refresh(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let Some(current) = device.current().cloned() else {
        return Finding::skipped("not judged: the device is not connected");
    };
    let Some((iat, exp)) = current.claims.as_ref().and_then(|c| c.iat.zip(c.exp)) else {
        return Finding::failed("the JWT has no integer iat and exp");
    };
    let grace = i64::try_from(settings.grace.as_secs()).unwrap_or(600);
    let deadline_ms = (exp + grace) * 1000;
    let wait = u64::try_from(deadline_ms - device.shared.bridge.now()).unwrap_or(0) + 10_000;
    let until = Instant::now() + Duration::from_millis(wait);
    let old = current.token_fingerprint.clone();
    let fresh = device
        .wait_for(until, |r| {
            attempt(r).is_some_and(|a| a.verdict == Verdict::Accepted && a.token_fingerprint != old)
                || matches!(
                    &r.event,
                    Event::Disconnected {
                        cause: Cause::TokenExpired,
                        ..
                    }
                )
        })
        .await;
    let evidence = |f: Finding| {
        f.with("token_iat", rfc3339(iat * 1000))
            .with("token_exp", rfc3339(exp * 1000))
            .with("grace_s", grace)
    };
    match fresh {
        Some(r) if attempt(&r).is_some() && r.at <= deadline_ms => {
            let fraction = (r.at as f64 / 1000.0 - iat as f64) / (exp - iat).max(1) as f64;
            evidence(Finding::passed())
                .with("refreshed_at", rfc3339(r.at))
                .with("refreshed_at_lifetime_fraction", format!("{fraction:.2}"))
        }
        Some(r) if attempt(&r).is_some() => evidence(Finding::failed(format!(
            "the new JWT came {:.0} s after exp + grace",
            secs(deadline_ms, r.at)
        ))),
        Some(r) => evidence(Finding::failed(
            "the bridge closed the connection at exp + skew: the device did not refresh its token in time",
        ))
        .with("closed_at", rfc3339(r.at)),
        None => evidence(Finding::failed(format!(
            "no new JWT by exp + {grace} s; the device kept its connection on an expiring token"
        ))),
    }
}

/// `device.long-outage`: the listener is down for the device's address; afterwards it must
/// come back by itself within the timeout.
pub(super) async fn long_outage(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let bridge = device.shared.bridge.clone();
    let outage_ms = i64::try_from(settings.outage.as_millis()).unwrap_or(60_000);
    let back_at = bridge.now() + outage_ms;
    bridge.faults().take_down_for(device.ip, Some(back_at));
    device
        .close(Cause::Admin("qualification: listener outage".into()))
        .await;
    let until = Instant::now() + settings.outage + settings.timeout;
    let back = device
        .wait_for(until, |r| {
            attempt(r).is_some_and(|a| a.verdict == Verdict::Accepted)
        })
        .await;
    bridge.faults().take_down_for(device.ip, None);
    let refused: Vec<i64> = device
        .history
        .iter()
        .filter(|r| {
            r.at <= back_at
                && matches!(&r.event, Event::Dropped { reason } if reason.contains("listener down"))
        })
        .map(|r| r.at)
        .collect();
    let longest = refused.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let finding = match &back {
        Some(r) => Finding::passed().with("back_after_listener_s", secs(back_at, r.at)),
        None => Finding::failed(format!(
            "the device did not come back within {}s after the listener did",
            settings.timeout.as_secs()
        )),
    };
    finding
        .with("outage_s", settings.outage.as_secs())
        .with("attempts_during_outage", refused.len())
        .with("longest_wait_during_outage_s", secs(0, longest))
}
