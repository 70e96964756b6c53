//! An authenticated connection: publishes, subscriptions, config delivery, commands and timers.

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, SubAck, Subscribe, SubscribeReasonCode, UnsubAck};

use super::{Action, ConfigVersion, DeviceInfo, Registry, Telemetry, UnixMillis, packet_name};
use crate::events::Cause;
use crate::profile::Profile;
use crate::topics::{self, DeviceTopic};

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

/// State of an authenticated connection.
#[derive(Debug)]
pub(super) struct Live {
    device: String,
    info: DeviceInfo,
    exp: UnixMillis,
    connected: UnixMillis,
    last_seen: UnixMillis,
    config_qos: Option<QoS>,
    commands_qos: Option<QoS>,
    errors_subscribed: bool,
    pending_config: Option<PendingConfig>,
    last_config_sent: Option<i64>,
    last_state: Option<UnixMillis>,
    window: (UnixMillis, u32),
    next_pkid: u16,
}

impl Live {
    pub(super) fn new(device: String, info: DeviceInfo, exp: UnixMillis, now: UnixMillis) -> Self {
        Self {
            device,
            info,
            exp,
            connected: now,
            last_seen: now,
            config_qos: None,
            commands_qos: None,
            errors_subscribed: false,
            pending_config: None,
            last_config_sent: None,
            last_state: None,
            window: (now, 0),
            next_pkid: 0,
        }
    }

    pub(super) fn device(&self) -> &str {
        &self.device
    }

    pub(super) fn packet(
        &mut self,
        packet: Packet,
        now: UnixMillis,
        profile: &Profile,
        registry: &dyn Registry,
    ) -> Vec<Action> {
        self.last_seen = now;
        match packet {
            Packet::Publish(publish) => {
                if self.over_rate(now, profile) {
                    return vec![Action::Close(Cause::RateLimited)];
                }
                self.publish(publish, now, profile)
            }
            Packet::Subscribe(subscribe) => self.subscribe(subscribe, now, registry),
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.topics {
                    match topics::parse_subscribe(filter).map(|a| a.topic) {
                        Some(DeviceTopic::Config) => self.config_qos = None,
                        Some(DeviceTopic::Commands) => self.commands_qos = None,
                        Some(DeviceTopic::Errors) => self.errors_subscribed = false,
                        _ => {}
                    }
                }
                vec![Action::Send(Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid)))]
            }
            Packet::PubAck(ack) => {
                if self.pending_config.as_ref().is_some_and(|p| p.pkid == ack.pkid) {
                    self.pending_config = None;
                }
                Vec::new()
            }
            Packet::PingReq => vec![Action::Send(Packet::PingResp)],
            Packet::Disconnect => vec![Action::Close(Cause::ClientDisconnect)],
            other => vec![Action::Close(Cause::Protocol(format!(
                "{} from a connected device",
                packet_name(&other)
            )))],
        }
    }

    /// Counts one incoming message; true when the per-second limit is exceeded.
    fn over_rate(&mut self, now: UnixMillis, profile: &Profile) -> bool {
        if now - self.window.0 >= 1000 {
            self.window = (now, 0);
        }
        self.window.1 += 1;
        self.window.1 > profile.max_messages_per_second
    }

    fn publish(&mut self, publish: Publish, now: UnixMillis, profile: &Profile) -> Vec<Action> {
        if publish.qos == QoS::ExactlyOnce {
            return vec![Action::Close(Cause::PublishQos2)];
        }
        let not_allowed = || vec![Action::Close(Cause::TopicNotAllowed(publish.topic.clone()))];
        let Some(addressed) = topics::parse_publish(&publish.topic) else {
            return not_allowed();
        };
        if addressed.device != self.device {
            return not_allowed();
        }
        let pkid = (publish.qos == QoS::AtLeastOnce).then_some(publish.pkid);
        match addressed.topic {
            DeviceTopic::Events { subfolder } => {
                let limit = profile.max_telemetry_bytes;
                if publish.payload.len() > limit {
                    return vec![Action::Close(Cause::PayloadTooLarge {
                        bytes: publish.payload.len(),
                        limit,
                    })];
                }
                vec![Action::Forward(Telemetry {
                    pkid,
                    device: self.device.clone(),
                    device_num_id: self.info.num_id,
                    subfolder,
                    payload: publish.payload,
                })]
            }
            DeviceTopic::State => self.state(pkid, publish.payload, now, profile),
            DeviceTopic::Attach | DeviceTopic::Detach if !self.info.gateway => not_allowed(),
            _ => not_allowed(),
        }
    }

    fn state(
        &mut self,
        pkid: Option<u16>,
        payload: Bytes,
        now: UnixMillis,
        profile: &Profile,
    ) -> Vec<Action> {
        let limit = profile.max_state_bytes;
        if payload.len() > limit {
            return vec![Action::Close(Cause::PayloadTooLarge {
                bytes: payload.len(),
                limit,
            })];
        }
        let interval = i64::try_from(profile.min_state_interval.as_millis()).unwrap_or(i64::MAX);
        if self.last_state.is_some_and(|last| now - last < interval) {
            return vec![Action::Close(Cause::RateLimited)];
        }
        self.last_state = Some(now);
        let mut actions = vec![Action::StoreState {
            device: self.device.clone(),
            payload,
        }];
        actions.extend(pkid.map(|pkid| Action::Send(Packet::PubAck(PubAck::new(pkid)))));
        actions
    }

    fn subscribe(&mut self, subscribe: Subscribe, now: UnixMillis, registry: &dyn Registry) -> Vec<Action> {
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut send_config = false;
        for filter in &subscribe.filters {
            let granted = match filter.qos {
                QoS::AtMostOnce => QoS::AtMostOnce,
                _ => QoS::AtLeastOnce,
            };
            let own = topics::parse_subscribe(&filter.path).filter(|a| a.device == self.device);
            let code = match own.map(|a| a.topic) {
                Some(DeviceTopic::Config) => {
                    self.config_qos = Some(granted);
                    send_config = true;
                    SubscribeReasonCode::Success(granted)
                }
                Some(DeviceTopic::Commands) => {
                    self.commands_qos = Some(granted);
                    SubscribeReasonCode::Success(granted)
                }
                Some(DeviceTopic::Errors) if self.info.gateway => {
                    self.errors_subscribed = true;
                    SubscribeReasonCode::Success(QoS::AtMostOnce)
                }
                _ => SubscribeReasonCode::Failure,
            };
            codes.push(code);
        }
        let mut actions = vec![Action::Send(Packet::SubAck(SubAck::new(subscribe.pkid, codes)))];
        if send_config {
            // The latest config goes out right after SUBACK, even if sent before.
            self.last_config_sent = None;
            if let Some(config) = registry.latest_config(&self.device) {
                actions.extend(self.config(config, now));
            }
        }
        actions
    }

    pub(super) fn config(&mut self, config: ConfigVersion, now: UnixMillis) -> Vec<Action> {
        let Some(qos) = self.config_qos else {
            return Vec::new();
        };
        if self.last_config_sent == Some(config.version) && qos == QoS::AtMostOnce {
            return Vec::new();
        }
        if self
            .pending_config
            .as_ref()
            .is_some_and(|p| p.config.version > config.version)
        {
            return Vec::new();
        }
        self.last_config_sent = Some(config.version);
        let topic = topics::config_topic(&self.device);
        let mut publish = Publish::new(topic, qos, config.data.to_vec());
        if qos == QoS::AtLeastOnce {
            let pkid = self.pkid();
            publish.pkid = pkid;
            self.pending_config = Some(PendingConfig {
                pkid,
                config,
                sent: now,
            });
        }
        vec![Action::Send(Packet::Publish(publish))]
    }

    pub(super) fn command(
        &mut self,
        subfolder: Option<&str>,
        payload: Bytes,
    ) -> Result<Vec<Action>, CommandError> {
        let qos = self.commands_qos.ok_or(CommandError::NotSubscribed)?;
        let mut publish = Publish::new(
            topics::command_topic(&self.device, subfolder),
            qos,
            payload.to_vec(),
        );
        if qos == QoS::AtLeastOnce {
            publish.pkid = self.pkid();
        }
        Ok(vec![Action::Send(Packet::Publish(publish))])
    }

    fn pkid(&mut self) -> u16 {
        self.next_pkid = self.next_pkid % u16::MAX + 1;
        self.next_pkid
    }

    fn expiry(&self, profile: &Profile) -> UnixMillis {
        self.exp + millis(profile.skew) + millis(profile.expiry_grace)
    }

    pub(super) fn next_deadline(&self, profile: &Profile) -> UnixMillis {
        let mut deadline = self
            .expiry(profile)
            .min(self.last_seen + millis(profile.idle_limit))
            .min(self.connected + millis(profile.max_connection));
        if let Some(pending) = &self.pending_config {
            deadline = deadline.min(pending.sent + millis(profile.config_redelivery));
        }
        deadline
    }

    pub(super) fn tick(&mut self, now: UnixMillis, profile: &Profile) -> Vec<Action> {
        if now >= self.expiry(profile) {
            return vec![Action::Close(Cause::TokenExpired)];
        }
        if now >= self.last_seen + millis(profile.idle_limit) {
            return vec![Action::Close(Cause::Idle)];
        }
        if now >= self.connected + millis(profile.max_connection) {
            return vec![Action::Close(Cause::MaxConnectionTime)];
        }
        match &mut self.pending_config {
            Some(pending) if now >= pending.sent + millis(profile.config_redelivery) => {
                pending.sent = now;
                let mut publish = Publish::new(
                    topics::config_topic(&self.device),
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

fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}
