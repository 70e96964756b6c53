//! What reaches Pub/Sub: the exact payload and attribute set of telemetry, and a QoS 1 PUBACK
//! that comes only once Pub/Sub has the message. A conformance subscription per topic is read
//! for the whole run; messages are found by their unique payload.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fleetgate_bridge::profile::SubfolderAttribute;
use fleetgate_pubsub::consumer::{Consumer, Delivery, DeliveryObserver, Source};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish};
use tokio::sync::Notify;

use super::session::open;
use super::{Ctx, PipelineCheck};
use crate::conformance::evidence::Observation;
use crate::forwarders::ExternalPubsub;

#[derive(Default)]
struct Seen {
    messages: Mutex<Vec<Delivery>>,
    added: Notify,
}

struct Collect(Arc<Seen>);

impl DeliveryObserver for Collect {
    fn observe(&mut self, delivery: &Delivery) {
        self.0
            .messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(delivery.clone());
        self.0.added.notify_waiters();
    }
}

/// The run's view of Pub/Sub: one conformance subscription per topic, read throughout.
pub(crate) struct Pubsub {
    seen: Arc<Seen>,
    consumers: Vec<Consumer<Collect>>,
}

impl Pubsub {
    /// Creates `<topic>-conformance` subscriptions on the emulator at `address` and reads them.
    pub(crate) async fn start(address: &str, topics: &[String]) -> Result<Self, String> {
        let admin = ExternalPubsub::connect(address)
            .await
            .map_err(|e| e.to_string())?;
        let seen = Arc::new(Seen::default());
        let mut consumers = Vec::new();
        for topic in topics {
            let subscription = format!("{}-conformance", topic.replace("/topics/", "/subscriptions/"));
            admin.ensure(topic, &subscription, false).await?;
            let observer = Collect(Arc::clone(&seen));
            consumers.push(Consumer::start(
                Source::External(address.to_owned()),
                subscription,
                observer,
            ));
        }
        Ok(Self { seen, consumers })
    }

    /// Stops reading.
    pub(crate) async fn stop(self) {
        for consumer in self.consumers {
            let _ = consumer.stop().await;
        }
    }

    /// The message with this payload, waiting up to `limit`.
    async fn find(&self, payload: &[u8], limit: Duration) -> Option<Delivery> {
        let search = async {
            loop {
                let added = self.seen.added.notified();
                tokio::pin!(added);
                added.as_mut().enable();
                if let Some(found) = self
                    .seen
                    .messages
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .find(|d| d.data == payload)
                {
                    return found.clone();
                }
                added.await;
            }
        };
        tokio::time::timeout(limit, search).await.ok()
    }
}

fn err(e: impl ToString) -> String {
    e.to_string()
}

pub(super) async fn run(which: PipelineCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let pubsub = ctx
        .pubsub
        .ok_or("no Pub/Sub to read: the run's Pub/Sub could not be subscribed to")?;
    let target = ctx.target;
    let device = target.device(0)?;
    let mut probe = open(ctx, &device).await?;
    let payload = format!("conformance {} {} {}", which.id(), device.id, target.now());
    let (topic, qos) = match which {
        PipelineCheck::SubfolderAttribute => (
            format!("/devices/{}/events/probe-sub", device.id),
            QoS::AtLeastOnce,
        ),
        PipelineCheck::Qos0Forwarded => (format!("/devices/{}/events", device.id), QoS::AtMostOnce),
        _ => (format!("/devices/{}/events", device.id), QoS::AtLeastOnce),
    };
    let mut publish = Publish::new(topic, qos, payload.clone().into_bytes());
    publish.pkid = u16::from(qos == QoS::AtLeastOnce) * 3;
    let stalled = which == PipelineCheck::PubackAfterPubsub;
    if stalled {
        target.embedded()?.bridge.faults().stall_forwarding(true);
    }
    let early = async {
        probe.send(Packet::Publish(publish)).await.map_err(err)?;
        if !stalled {
            return Ok(false);
        }
        for _ in 0..3 {
            probe.ping().await.map_err(err)?;
        }
        Ok::<_, String>(probe.seen.iter().any(|p| matches!(p, Packet::PubAck(_))))
    }
    .await;
    if stalled {
        target.embedded()?.bridge.faults().stall_forwarding(false);
    }
    if early? {
        return Ok(Observation::broken(
            "PUBACK arrived while forwarding to Pub/Sub was stalled",
        ));
    }
    if qos == QoS::AtLeastOnce
        && probe
            .until(|p| matches!(p, Packet::PubAck(_)))
            .await
            .map_err(err)?
            .is_none()
    {
        return Ok(Observation::broken("no PUBACK: the bridge closed the connection"));
    }
    let Some(found) = pubsub.find(payload.as_bytes(), ctx.endpoint.timeout).await else {
        return Ok(Observation::broken(
            "the acknowledged message did not reach Pub/Sub",
        ));
    };
    let attributes: BTreeMap<String, String> = found.attributes.clone().into_iter().collect();
    let mut seen = match which {
        PipelineCheck::Attributes => attribute_problem(ctx, &device.id, &attributes)
            .map_or_else(Observation::accepted, Observation::broken),
        PipelineCheck::SubfolderAttribute => match attributes.get("subFolder").map(String::as_str) {
            Some("probe-sub") => Observation::accepted(),
            other => Observation::broken(format!("subFolder is {other:?}, expected \"probe-sub\"")),
        },
        _ => Observation::accepted(),
    };
    seen.note("pubsub_message_id", &found.message_id);
    seen.note("pubsub_attributes", format!("{attributes:?}"));
    if stalled {
        seen.note(
            "puback",
            "withheld while forwarding was stalled, sent once Pub/Sub had the message",
        );
    }
    Ok(seen)
}

/// What is wrong with the attributes of `device`'s telemetry, if anything.
fn attribute_problem(ctx: &Ctx<'_>, device: &str, attributes: &BTreeMap<String, String>) -> Option<String> {
    let path = &ctx.target.path;
    let mut expected = BTreeMap::from([
        ("deviceId".to_owned(), device.to_owned()),
        ("deviceRegistryId".to_owned(), path.registry.clone()),
        ("deviceRegistryLocation".to_owned(), path.region.clone()),
        ("projectId".to_owned(), path.project.clone()),
    ]);
    let num_id = attributes.get("deviceNumId").cloned().unwrap_or_default();
    if num_id.is_empty() || !num_id.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("deviceNumId {num_id:?} is not a decimal string"));
    }
    if let Some(embedded) = &ctx.target.embedded
        && let Some(record) = embedded.store.get(device)
        && record.num_id.to_string() != num_id
    {
        return Some(format!(
            "deviceNumId {num_id} is not the registry's {}",
            record.num_id
        ));
    }
    expected.insert("deviceNumId".to_owned(), num_id);
    if ctx.target.profile.subfolder_attribute == SubfolderAttribute::Empty {
        expected.insert("subFolder".to_owned(), String::new());
    }
    (attributes != &expected).then(|| format!("attributes {attributes:?}, expected {expected:?}"))
}
