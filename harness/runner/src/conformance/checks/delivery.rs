//! Config and commands (docs/protocol.md §3) on the embedded bridge: the latest config after
//! SUBSCRIBE, QoS 1 redelivery of the newest version until PUBACK (the bridge's clock moved past
//! the redelivery interval), QoS 0 once, and commands only while subscribed.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish};

use super::session::{open, subscribe};
use super::{ConfigCheck, Ctx};
use crate::conformance::evidence::Observation;
use crate::conformance::probe::Probe;
use crate::conformance::target::{Embedded, ProbeDevice};

fn err(e: impl ToString) -> String {
    e.to_string()
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
    match probe
        .until(|p| matches!(p, Packet::Publish(_)))
        .await
        .map_err(err)?
    {
        Some(Packet::Publish(p)) => Ok(p),
        _ => Err("the bridge closed the connection".into()),
    }
}

fn text(payload: &Bytes) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// A connected device with its config helpers.
struct Setup<'a> {
    embedded: &'a Embedded,
    device: ProbeDevice,
    probe: Probe,
    every: Duration,
}

impl Setup<'_> {
    fn set(&self, data: &'static str) -> Result<fleetgate_bridge::session::ConfigVersion, String> {
        self.embedded
            .store
            .set_config(&self.device.id, Bytes::from_static(data.as_bytes()), None)
            .map_err(err)
    }

    async fn subscribe_config(&mut self, qos: QoS) -> Result<Publish, String> {
        let filter = format!("/devices/{}/config", self.device.id);
        subscribe(&mut self.probe, &filter, qos).await?;
        next_publish(&mut self.probe).await
    }

    async fn push(&mut self, data: &'static str) -> Result<(), String> {
        let config = self.set(data)?;
        self.embedded.bridge.push_config(&self.device.id, config).await;
        Ok(())
    }

    fn move_clock(&self) {
        self.embedded.bridge.clock().advance(self.every);
    }
}

fn verdict(holds: bool, problem: &str) -> Observation {
    if holds {
        Observation::accepted()
    } else {
        Observation::broken(problem)
    }
}

pub(super) async fn run(which: ConfigCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    let device = ctx.target.device(0)?;
    let probe = open(ctx, &device).await?;
    let every = ctx.target.profile.config_redelivery + Duration::from_secs(1);
    let mut s = Setup {
        embedded,
        device,
        probe,
        every,
    };
    match which {
        ConfigCheck::LatestAfterSubscribe => latest(&mut s).await,
        ConfigCheck::RedeliverNewest => newest(&mut s).await,
        ConfigCheck::Qos1UntilPuback => until_puback(&mut s).await,
        ConfigCheck::Qos0Once => qos0_once(&mut s).await,
        ConfigCheck::CommandDelivered => command_delivered(&mut s).await,
        ConfigCheck::CommandDropped => command_dropped(&mut s).await,
    }
}

async fn latest(s: &mut Setup<'_>) -> Result<Observation, String> {
    s.set("v1")?;
    s.set("v2")?;
    let got = text(&s.subscribe_config(QoS::AtLeastOnce).await?.payload);
    let problem = format!("sent `{got}` after SUBSCRIBE, not the latest `v2`");
    Ok(verdict(got == "v2", &problem).with("first_config", got))
}

async fn newest(s: &mut Setup<'_>) -> Result<Observation, String> {
    s.set("v1")?;
    s.subscribe_config(QoS::AtLeastOnce).await?;
    s.push("v2").await?;
    next_publish(&mut s.probe).await?;
    s.move_clock();
    let again = publishes(&mut s.probe).await?;
    let versions: Vec<String> = again.iter().map(|p| text(&p.payload)).collect();
    let seen = match versions.as_slice() {
        [v] if v == "v2" => Observation::accepted(),
        [] => Observation::broken("nothing was redelivered"),
        _ => Observation::broken(format!("redelivered {versions:?}, not only the newest `v2`")),
    };
    Ok(seen
        .with("redelivered", format!("{versions:?}"))
        .with("clock_moved_s", s.every.as_secs()))
}

async fn until_puback(s: &mut Setup<'_>) -> Result<Observation, String> {
    s.set("v1")?;
    s.subscribe_config(QoS::AtLeastOnce).await?;
    s.move_clock();
    let again = publishes(&mut s.probe).await?;
    let Some(redelivered) = again.first() else {
        return Ok(Observation::broken(
            "an unacknowledged QoS 1 config was not redelivered",
        ));
    };
    let dup = redelivered.dup;
    let ack = Packet::PubAck(PubAck::new(redelivered.pkid));
    s.probe.send(ack).await.map_err(err)?;
    // The bridge reads in order: once the ping is answered, the PUBACK was processed before
    // the clock moves again.
    s.probe.ping().await.map_err(err)?;
    s.move_clock();
    let after = configs_after_pings(&mut s.probe).await?;
    Ok(verdict(after.is_empty(), "redelivered after its PUBACK")
        .with("redelivered_dup_flag", dup)
        .with("after_puback", after.len()))
}

async fn qos0_once(s: &mut Setup<'_>) -> Result<Observation, String> {
    s.set("v1")?;
    s.subscribe_config(QoS::AtMostOnce).await?;
    s.push("v2").await?;
    let second = next_publish(&mut s.probe).await?;
    s.move_clock();
    let again = configs_after_pings(&mut s.probe).await?;
    Ok(verdict(again.is_empty(), "a QoS 0 config was sent again")
        .with("second_config", text(&second.payload))
        .with("resent", again.len()))
}

async fn command_delivered(s: &mut Setup<'_>) -> Result<Observation, String> {
    let id = s.device.id.clone();
    subscribe(
        &mut s.probe,
        &format!("/devices/{id}/commands/#"),
        QoS::AtLeastOnce,
    )
    .await?;
    s.embedded
        .bridge
        .send_command(&id, Some("led"), Bytes::from_static(b"on"))
        .await
        .map_err(err)?;
    let command = next_publish(&mut s.probe).await?;
    let holds = command.topic == format!("/devices/{id}/commands/led") && command.payload.as_ref() == b"on";
    let problem = format!("received `{}` on {}", text(&command.payload), command.topic);
    Ok(verdict(holds, &problem).with("command_topic", command.topic))
}

async fn command_dropped(s: &mut Setup<'_>) -> Result<Observation, String> {
    let sent = s
        .embedded
        .bridge
        .send_command(&s.device.id, None, Bytes::from_static(b"on"))
        .await;
    let delivered = configs_after_pings(&mut s.probe).await?;
    Ok(match (sent, delivered.is_empty()) {
        (Err(e), true) => Observation::accepted().with("send_command", e),
        (Ok(()), _) => Observation::broken("a command for a device not subscribed was accepted"),
        (Err(_), false) => Observation::broken("a command reached a device not subscribed"),
    })
}
