//! The bridge session: a sans-I/O state machine for one MQTT connection. The driver feeds it
//! packets, timer ticks, forwarding results, config updates and commands; it answers with
//! [`Action`]s (packets to send, telemetry to forward, events, a close with its cause). No
//! sockets, no clocks: time is an input, so every rule is tested directly.

mod connect;
mod connected;
mod delivery;
mod gateway;
pub mod strict;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use fleetgate_identity::jwt::PresentedClaims;
use rumqttc::mqttbytes::Error as CodecError;
use rumqttc::mqttbytes::v4::{ConnAck, ConnectReturnCode, Packet};

use crate::events::{Cause, Event};
use crate::profile::Profile;
use strict::{Inspection, Violation};

pub use delivery::CommandError;

/// Milliseconds since the Unix epoch, on the bridge's clock.
pub type UnixMillis = i64;

/// The registry a session belongs to: client ids must name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryPath {
    /// Project id.
    pub project: String,
    /// Cloud region.
    pub region: String,
    /// Registry id.
    pub registry: String,
}

/// What the session needs to know of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The numeric id (`deviceNumId`).
    pub num_id: u64,
    /// Blocked devices may not connect.
    pub blocked: bool,
    /// Gateways may attach other devices.
    pub gateway: bool,
}

/// One configuration version of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigVersion {
    /// Version number, from 1.
    pub version: i64,
    /// The configuration bytes.
    pub data: Bytes,
}

/// The registry's verdict on a presented JWT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthVerdict {
    /// The claims as presented, when the token could be decoded.
    pub claims: Option<PresentedClaims>,
    /// `Ok(exp)` in seconds when accepted, or the refusal reason.
    pub result: Result<i64, String>,
}

/// The registry as a session sees it.
pub trait Registry {
    /// The device, if it exists.
    fn device(&self, id: &str) -> Option<DeviceInfo>;
    /// Whether `device` is bound to `gateway`.
    fn is_bound(&self, gateway: &str, device: &str) -> bool;
    /// Checks `jwt` against the device's credentials at `now_secs`.
    fn authenticate(&self, device: &str, jwt: &str, now_secs: i64) -> AuthVerdict;
    /// The newest configuration of the device.
    fn latest_config(&self, device: &str) -> Option<ConfigVersion>;
    /// Whether to leave this CONNECT of the device unanswered (an injected fault).
    fn withhold_connack(&self, _device: &str) -> bool {
        false
    }
}

/// How long a connection whose CONNACK is withheld stays open if the device never gives up.
pub const WITHHELD_FOR: UnixMillis = 120_000;

/// Telemetry the driver must forward to Pub/Sub; for QoS 1 the PUBACK waits for the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Telemetry {
    /// The PUBLISH packet id, for QoS 1.
    pub pkid: Option<u16>,
    /// The device that sent it.
    pub device: String,
    /// Its numeric id.
    pub device_num_id: u64,
    /// The subfolder, if any.
    pub subfolder: Option<String>,
    /// The exact payload bytes.
    pub payload: Bytes,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Write this packet.
    Send(Packet),
    /// Forward this telemetry and report back with [`Session::forwarded`].
    Forward(Telemetry),
    /// Store this device state.
    StoreState {
        /// The device.
        device: String,
        /// The state bytes.
        payload: Bytes,
    },
    /// This session is now the device's only connection: close any older one.
    Claim(String),
    /// This session no longer speaks for the device (a gateway detached it).
    Release(String),
    /// Record this event.
    Event(Event),
    /// Flush what was sent and close the connection.
    Close(Cause),
}

/// What [`Session::read`] found at the start of the input.
#[derive(Debug)]
pub enum Read {
    /// A whole packet, decoded: hand it to [`Session::packet`].
    Packet(Packet),
    /// Not a whole packet yet.
    NeedMore,
    /// Bytes that break MQTT 3.1.1: the session closed; carry out these actions.
    Closed(Vec<Action>),
}

/// One connection's session.
#[derive(Debug)]
pub struct Session {
    path: RegistryPath,
    profile: Arc<Profile>,
    state: State,
}

#[derive(Debug)]
enum State {
    AwaitingConnect,
    Connected(Box<connected::Live>),
    /// The CONNECT was read and deliberately left unanswered: packets are ignored until the
    /// device closes, or [`WITHHELD_FOR`] passes.
    Withheld {
        until: UnixMillis,
    },
    Closed,
}

impl Session {
    /// A session waiting for CONNECT.
    pub fn new(path: RegistryPath, profile: Arc<Profile>) -> Self {
        Self {
            path,
            profile,
            state: State::AwaitingConnect,
        }
    }

    /// The device this session authenticated, if any.
    pub fn device(&self) -> Option<&str> {
        match &self.state {
            State::Connected(live) => Some(live.device()),
            _ => None,
        }
    }

    /// Whether the session has closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Takes the next packet off `input`: strict MQTT 3.1.1 checks on the raw bytes first
    /// ([`strict`]), then rumqttc's decoder. A violation or an undecodable packet closes the
    /// session (a protocol level other than 4 after CONNACK 0x01).
    pub fn read(&mut self, input: &mut BytesMut, max_packet: usize) -> Read {
        if self.is_closed() {
            return Read::NeedMore;
        }
        match strict::inspect(input) {
            Inspection::NeedMore => return Read::NeedMore,
            Inspection::Violation(v) if self.profile.enforces(v.safety()) => {
                return Read::Closed(self.violation(v));
            }
            Inspection::Violation(_) | Inspection::Decode => {}
        }
        match Packet::read(input, max_packet) {
            Ok(packet) => Read::Packet(packet),
            Err(CodecError::InsufficientBytes(_)) => Read::NeedMore,
            Err(e) => Read::Closed(self.close(Cause::Malformed(e.to_string()))),
        }
    }

    /// Closes on a violation of MQTT 3.1.1, after CONNACK 0x01 when it is the first CONNECT's
    /// protocol level (MQTT-3.1.2-2).
    fn violation(&mut self, violation: Violation) -> Vec<Action> {
        let close = Action::Close(Cause::Protocol(violation.describe()));
        let actions = match (&self.state, violation) {
            (State::AwaitingConnect, Violation::ProtocolLevel(_)) => vec![
                Action::Send(Packet::ConnAck(ConnAck::new(
                    ConnectReturnCode::RefusedProtocolVersion,
                    false,
                ))),
                close,
            ],
            _ => vec![close],
        };
        self.settle(actions)
    }

    /// Handles one packet from the device.
    pub fn packet(&mut self, packet: Packet, now: UnixMillis, registry: &dyn Registry) -> Vec<Action> {
        let actions = match &mut self.state {
            State::Closed => Vec::new(),
            State::AwaitingConnect => match packet {
                Packet::Connect(connect) => {
                    match connect::connect(&self.path, &self.profile, &connect, now, registry) {
                        connect::Answer::Accepted(live, actions) => {
                            self.state = State::Connected(live);
                            actions
                        }
                        connect::Answer::Refused(actions) => actions,
                        connect::Answer::Withheld(actions) => {
                            self.state = State::Withheld {
                                until: now + WITHHELD_FOR,
                            };
                            actions
                        }
                    }
                }
                other => vec![Action::Close(Cause::Protocol(format!(
                    "{} before CONNECT",
                    packet_name(&other)
                )))],
            },
            State::Connected(live) => live.packet(packet, now, &self.profile, registry),
            State::Withheld { .. } => Vec::new(),
        };
        self.settle(actions)
    }

    /// Reports the result of forwarding telemetry: a QoS 1 PUBACK on success, a close without
    /// PUBACK on failure (so nothing acknowledged is ever lost).
    pub fn forwarded(&mut self, pkid: Option<u16>, result: Result<(), String>) -> Vec<Action> {
        let actions = match (&self.state, result) {
            (State::Connected(_), Ok(())) => pkid
                .map(|pkid| {
                    vec![Action::Send(Packet::PubAck(rumqttc::mqttbytes::v4::PubAck::new(
                        pkid,
                    )))]
                })
                .unwrap_or_default(),
            (State::Connected(_), Err(reason)) => vec![Action::Close(Cause::ForwardFailed(reason))],
            _ => Vec::new(),
        };
        self.settle(actions)
    }

    /// Checks the session's timers: token expiry, idle limit, connection age, config redelivery.
    pub fn tick(&mut self, now: UnixMillis) -> Vec<Action> {
        let actions = match &mut self.state {
            State::Connected(live) => live.tick(now, &self.profile),
            State::Withheld { until } if now >= *until => vec![Action::Close(Cause::Protocol(format!(
                "CONNACK withheld for {} s (injected fault)",
                WITHHELD_FOR / 1000
            )))],
            _ => Vec::new(),
        };
        self.settle(actions)
    }

    /// When [`Session::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        match &self.state {
            State::Connected(live) => Some(live.next_deadline(&self.profile)),
            State::Withheld { until } => Some(*until),
            _ => None,
        }
    }

    /// A new configuration version for a device this session speaks for.
    pub fn config(&mut self, device: &str, config: ConfigVersion, now: UnixMillis) -> Vec<Action> {
        match &mut self.state {
            State::Connected(live) => live.config(device, config, now, &self.profile),
            _ => Vec::new(),
        }
    }

    /// A command for a device this session speaks for; refused when it is not subscribed.
    pub fn command(
        &mut self,
        device: &str,
        subfolder: Option<&str>,
        payload: Bytes,
    ) -> Result<Vec<Action>, CommandError> {
        match &mut self.state {
            State::Connected(live) => live.command(device, subfolder, payload),
            _ => Err(CommandError::NotConnected),
        }
    }

    /// Closes the session from outside (a newer connection, the admin API, a fault, a decode
    /// error of the stream).
    pub fn close(&mut self, cause: Cause) -> Vec<Action> {
        if self.is_closed() {
            return Vec::new();
        }
        self.settle(vec![Action::Close(cause)])
    }

    /// Moves to `Closed` after a close action, recording the disconnect event once.
    fn settle(&mut self, mut actions: Vec<Action>) -> Vec<Action> {
        let cause = actions.iter().find_map(|a| match a {
            Action::Close(cause) => Some(cause.clone()),
            _ => None,
        });
        if let Some(cause) = cause {
            if let State::Connected(live) = &self.state {
                actions.push(Action::Event(Event::Disconnected {
                    device: live.device().to_owned(),
                    cause,
                }));
            }
            self.state = State::Closed;
        }
        actions
    }
}

/// The name of a packet type, for messages.
pub(crate) fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect => "DISCONNECT",
    }
}
