//! An authenticated connection: publishes, subscriptions, timers, and the devices it speaks for
//! (its own, and those attached to it when it is a gateway).

use std::collections::BTreeMap;

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, SubAck, Subscribe, SubscribeReasonCode, UnsubAck};

use super::delivery::{CommandError, Delivery};
use super::{Action, ConfigVersion, DeviceInfo, Registry, Telemetry, UnixMillis, gateway, packet_name};
use crate::events::Cause;
use crate::profile::Profile;
use crate::safety::SafetyCheck;
use crate::topics::{self, DeviceTopic};

/// State of an authenticated connection.
#[derive(Debug)]
pub(super) struct Live {
    pub(super) device: String,
    pub(super) info: DeviceInfo,
    /// Devices attached to this gateway, with their numeric ids.
    pub(super) attached: BTreeMap<String, u64>,
    deliveries: BTreeMap<String, Delivery>,
    pub(super) errors_subscribed: bool,
    exp: UnixMillis,
    /// The CONNECT's keep-alive in ms (0: none).
    keep_alive: UnixMillis,
    connected: UnixMillis,
    last_seen: UnixMillis,
    last_state: BTreeMap<String, UnixMillis>,
    window: (UnixMillis, u32),
    next_pkid: u16,
}

impl Live {
    pub(super) fn new(
        device: String,
        info: DeviceInfo,
        exp: UnixMillis,
        keep_alive_secs: u16,
        now: UnixMillis,
    ) -> Self {
        Self {
            device,
            info,
            attached: BTreeMap::new(),
            deliveries: BTreeMap::new(),
            errors_subscribed: false,
            exp,
            keep_alive: i64::from(keep_alive_secs) * 1000,
            connected: now,
            last_seen: now,
            last_state: BTreeMap::new(),
            window: (now, 0),
            next_pkid: 0,
        }
    }

    pub(super) fn device(&self) -> &str {
        &self.device
    }

    /// The numeric id of a device this connection speaks for.
    fn num_id(&self, device: &str) -> Option<u64> {
        if device == self.device {
            Some(self.info.num_id)
        } else {
            self.attached.get(device).copied()
        }
    }

    pub(super) fn forget(&mut self, device: &str) {
        self.deliveries.remove(device);
        self.last_state.remove(device);
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
                self.publish(publish, now, profile, registry)
            }
            Packet::Subscribe(subscribe) => self.subscribe(subscribe, now, profile, registry),
            Packet::Unsubscribe(unsubscribe) => {
                for filter in &unsubscribe.topics {
                    if let Some(addressed) = topics::parse_subscribe(filter) {
                        let delivery = self.deliveries.entry(addressed.device.to_owned()).or_default();
                        match addressed.topic {
                            DeviceTopic::Config => delivery.config_qos = None,
                            DeviceTopic::Commands => delivery.commands_qos = None,
                            DeviceTopic::Errors => self.errors_subscribed = false,
                            _ => {}
                        }
                    }
                }
                vec![Action::Send(Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid)))]
            }
            Packet::PubAck(ack) => {
                self.deliveries.values_mut().any(|d| d.acked(ack.pkid));
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

    fn publish(
        &mut self,
        mut publish: Publish,
        now: UnixMillis,
        profile: &Profile,
        registry: &dyn Registry,
    ) -> Vec<Action> {
        if publish.qos == QoS::ExactlyOnce {
            if profile.enforces(SafetyCheck::PublishQos2) {
                return vec![Action::Close(Cause::PublishQos2)];
            }
            publish.qos = QoS::AtLeastOnce;
        }
        let not_allowed = || vec![Action::Close(Cause::TopicNotAllowed(publish.topic.clone()))];
        let Some(addressed) = topics::parse_publish(&publish.topic) else {
            return not_allowed();
        };
        let pkid = (publish.qos == QoS::AtLeastOnce).then_some(publish.pkid);
        if matches!(addressed.topic, DeviceTopic::Attach | DeviceTopic::Detach) {
            if !self.info.gateway || addressed.device != self.device {
                return not_allowed();
            }
            return gateway::attach_or_detach(
                self,
                addressed.topic,
                pkid,
                &publish.payload,
                now,
                profile,
                registry,
            );
        }
        let num_id = match self.num_id(addressed.device) {
            Some(num_id) => num_id,
            None if self.info.gateway => return gateway::not_attached(self, addressed.device, pkid),
            None => match self.unowned(addressed.device, profile) {
                Some(num_id) => num_id,
                None => return not_allowed(),
            },
        };
        let device = addressed.device.to_owned();
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
                    device,
                    device_num_id: num_id,
                    subfolder,
                    payload: publish.payload,
                })]
            }
            DeviceTopic::State => self.state(device, pkid, publish.payload, now, profile),
            _ => not_allowed(),
        }
    }

    fn state(
        &mut self,
        device: String,
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
        let interval = millis(profile.min_state_interval);
        if self
            .last_state
            .get(&device)
            .is_some_and(|last| now - last < interval)
        {
            return vec![Action::Close(Cause::RateLimited)];
        }
        self.last_state.insert(device.clone(), now);
        let mut actions = vec![Action::StoreState { device, payload }];
        actions.extend(pkid.map(|pkid| Action::Send(Packet::PubAck(PubAck::new(pkid)))));
        actions
    }

    /// With topic ownership switched off, another device's topics are used as if they were
    /// this connection's own.
    fn unowned(&self, _device: &str, profile: &Profile) -> Option<u64> {
        (!profile.enforces(SafetyCheck::TopicOwnership)).then_some(self.info.num_id)
    }

    fn subscribe(
        &mut self,
        subscribe: Subscribe,
        now: UnixMillis,
        profile: &Profile,
        registry: &dyn Registry,
    ) -> Vec<Action> {
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut configs = Vec::new();
        for filter in &subscribe.filters {
            let granted = if filter.qos == QoS::AtMostOnce {
                QoS::AtMostOnce
            } else if !profile.enforces(SafetyCheck::SubscribeQosCap) {
                filter.qos
            } else {
                QoS::AtLeastOnce
            };
            let addressed = topics::parse_subscribe(&filter.path).filter(|a| {
                self.num_id(a.device)
                    .or_else(|| self.unowned(a.device, profile))
                    .is_some()
            });
            let code = match addressed {
                Some(a) if a.topic == DeviceTopic::Config => {
                    self.deliveries
                        .entry(a.device.to_owned())
                        .or_default()
                        .subscribe_config(granted);
                    configs.push(a.device.to_owned());
                    SubscribeReasonCode::Success(granted)
                }
                Some(a) if a.topic == DeviceTopic::Commands => {
                    self.deliveries
                        .entry(a.device.to_owned())
                        .or_default()
                        .commands_qos = Some(granted);
                    SubscribeReasonCode::Success(granted)
                }
                Some(a) if a.topic == DeviceTopic::Errors && self.info.gateway && a.device == self.device => {
                    self.errors_subscribed = true;
                    SubscribeReasonCode::Success(QoS::AtMostOnce)
                }
                _ => SubscribeReasonCode::Failure,
            };
            codes.push(code);
        }
        let mut actions = vec![Action::Send(Packet::SubAck(SubAck::new(subscribe.pkid, codes)))];
        for device in configs {
            if let Some(config) = registry.latest_config(&device) {
                actions.extend(self.config(&device, config, now, profile));
            }
        }
        actions
    }

    pub(super) fn config(
        &mut self,
        device: &str,
        config: ConfigVersion,
        now: UnixMillis,
        profile: &Profile,
    ) -> Vec<Action> {
        let mut next = PkidSource(&mut self.next_pkid);
        let newest_only = profile.enforces(SafetyCheck::ConfigNewestOnly);
        match self.deliveries.get_mut(device) {
            Some(delivery) => delivery.config(device, config, now, newest_only, &mut || next.next()),
            None => Vec::new(),
        }
    }

    pub(super) fn command(
        &mut self,
        device: &str,
        subfolder: Option<&str>,
        payload: Bytes,
    ) -> Result<Vec<Action>, CommandError> {
        let mut next = PkidSource(&mut self.next_pkid);
        match self.deliveries.get(device) {
            Some(delivery) => delivery.command(device, subfolder, payload, &mut || next.next()),
            None if self.num_id(device).is_some() => Err(CommandError::NotSubscribed),
            None => Err(CommandError::NotConnected),
        }
    }

    fn expiry(&self, profile: &Profile) -> UnixMillis {
        self.exp + millis(profile.skew()) + millis(profile.expiry_grace)
    }

    /// The connection's timers: token expiry, idle limit, keep-alive (1.5 × the CONNECT's, when
    /// it set one) and connection age, each with the safety check that enforces it and the
    /// cause it closes with.
    fn timers(&self, profile: &Profile) -> [(UnixMillis, SafetyCheck, Cause); 4] {
        let keep_alive = match self.keep_alive {
            0 => i64::MAX / 4,
            every => self.last_seen + every + every / 2,
        };
        [
            (
                self.expiry(profile),
                SafetyCheck::ExpiryDisconnect,
                Cause::TokenExpired,
            ),
            (
                self.last_seen + millis(profile.idle_limit),
                SafetyCheck::IdleLimit,
                Cause::Idle,
            ),
            (keep_alive, SafetyCheck::KeepAlive, Cause::KeepAlive),
            (
                self.connected + millis(profile.max_connection),
                SafetyCheck::MaxConnectionTime,
                Cause::MaxConnectionTime,
            ),
        ]
    }

    /// The redelivery interval, when redelivery is enforced.
    fn redelivery(profile: &Profile) -> Option<i64> {
        profile
            .enforces(SafetyCheck::ConfigRedelivery)
            .then(|| millis(profile.config_redelivery))
    }

    pub(super) fn next_deadline(&self, profile: &Profile) -> UnixMillis {
        let timers = self
            .timers(profile)
            .into_iter()
            .filter(|(_, check, _)| profile.enforces(*check))
            .map(|(at, _, _)| at)
            .fold(i64::MAX / 4, i64::min);
        let Some(every) = Self::redelivery(profile) else {
            return timers;
        };
        self.deliveries
            .values()
            .filter_map(|d| d.redelivery_due(every))
            .fold(timers, i64::min)
    }

    pub(super) fn tick(&mut self, now: UnixMillis, profile: &Profile) -> Vec<Action> {
        for (at, check, cause) in self.timers(profile) {
            if now >= at && profile.enforces(check) {
                return vec![Action::Close(cause)];
            }
        }
        let Some(every) = Self::redelivery(profile) else {
            return Vec::new();
        };
        self.deliveries
            .iter_mut()
            .flat_map(|(device, d)| d.redeliver(device, now, every))
            .collect()
    }
}

/// Packet ids 1..=65535, wrapping.
struct PkidSource<'a>(&'a mut u16);

impl PkidSource<'_> {
    fn next(&mut self) -> u16 {
        *self.0 = *self.0 % u16::MAX + 1;
        *self.0
    }
}

pub(super) fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}
