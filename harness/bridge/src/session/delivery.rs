//! Config and command delivery to one device of a connection (the connection's own device, or
//! one attached to it as a gateway): latest config after SUBSCRIBE, QoS 1 redelivery of the
//! newest version only, QoS 0 once per version, commands only while subscribed.

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish};

use super::{Action, ConfigVersion, UnixMillis};
use crate::topics;

/// Why a command could not be delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The device has no open connection.
    #[error("the device is not connected")]
    NotConnected,
    /// The device is connected but not subscribed to `/devices/{id}/commands/#`.
    #[error("the device is not subscribed to commands")]
    NotSubscribed,
}

/// A QoS 1 config publish awaiting its PUBACK.
#[derive(Debug)]
struct PendingConfig {
    pkid: u16,
    config: ConfigVersion,
    sent: UnixMillis,
}

/// What one device is subscribed to, and the config it still owes.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub(super) config_qos: Option<QoS>,
    pub(super) commands_qos: Option<QoS>,
    pending: Option<PendingConfig>,
    last_sent: Option<i64>,
}

impl Delivery {
    /// Subscribed to config: forget what was sent, so the latest goes out again.
    pub(super) fn subscribe_config(&mut self, qos: QoS) {
        self.config_qos = Some(qos);
        self.last_sent = None;
    }

    pub(super) fn config(
        &mut self,
        device: &str,
        config: ConfigVersion,
        now: UnixMillis,
        newest_only: bool,
        pkid: &mut dyn FnMut() -> u16,
    ) -> Vec<Action> {
        let Some(qos) = self.config_qos else {
            return Vec::new();
        };
        if self.last_sent.is_some_and(|v| v >= config.version) {
            return Vec::new();
        }
        self.last_sent = Some(config.version);
        let mut publish = Publish::new(topics::config_topic(device), qos, config.data.to_vec());
        if qos == QoS::AtLeastOnce {
            publish.pkid = pkid();
            // Without the newest-only rule, an older unacknowledged version stays pending.
            if newest_only || self.pending.is_none() {
                self.pending = Some(PendingConfig {
                    pkid: publish.pkid,
                    config,
                    sent: now,
                });
            }
        }
        vec![Action::Send(Packet::Publish(publish))]
    }

    pub(super) fn command(
        &self,
        device: &str,
        subfolder: Option<&str>,
        payload: Bytes,
        pkid: &mut dyn FnMut() -> u16,
    ) -> Result<Vec<Action>, CommandError> {
        let qos = self.commands_qos.ok_or(CommandError::NotSubscribed)?;
        let mut publish = Publish::new(topics::command_topic(device, subfolder), qos, payload.to_vec());
        if qos == QoS::AtLeastOnce {
            publish.pkid = pkid();
        }
        Ok(vec![Action::Send(Packet::Publish(publish))])
    }

    /// A PUBACK arrived; true if it settled this device's pending config.
    pub(super) fn acked(&mut self, pkid: u16) -> bool {
        let settled = self.pending.as_ref().is_some_and(|p| p.pkid == pkid);
        if settled {
            self.pending = None;
        }
        settled
    }

    /// When the pending config is due again.
    pub(super) fn redelivery_due(&self, every: i64) -> Option<UnixMillis> {
        self.pending.as_ref().map(|p| p.sent + every)
    }

    /// Sends the pending config again if it is due.
    pub(super) fn redeliver(&mut self, device: &str, now: UnixMillis, every: i64) -> Vec<Action> {
        match &mut self.pending {
            Some(pending) if now >= pending.sent + every => {
                pending.sent = now;
                let mut publish = Publish::new(
                    topics::config_topic(device),
                    QoS::AtLeastOnce,
                    pending.config.data.to_vec(),
                );
                publish.pkid = pending.pkid;
                publish.dup = true;
                vec![Action::Send(Packet::Publish(publish))]
            }
            _ => Vec::new(),
        }
    }
}
