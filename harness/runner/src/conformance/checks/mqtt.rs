//! MQTT 3.1.1 MUSTs (PROTOCOL.md §11) and the CONNECT options PROTOCOL.md §1 calls unsupported,
//! sent as raw bytes a client library would never produce. Every CONNECT carries a valid token of
//! a registered device, so a lenient bridge answers CONNACK 0 and fails the case.

use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, Subscribe, Unsubscribe};

use super::connect::{attempt, token};
use super::session::open;
use super::{Ctx, MqttCheck};
use crate::conformance::evidence::Observation;
use crate::conformance::probe::{ConnectParams, Probe, encode};

/// Runs one check.
pub(super) async fn run(check: MqttCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let device = ctx.target.device(0)?;
    let params = ConnectParams::new(ctx.target.client_id(&device.id), token(ctx, &device.key)?);
    match check {
        MqttCheck::ProtocolLevel3 => raw_connect(ctx, patched(&params, |b, at| b[at + 6] = 3)?, true).await,
        MqttCheck::ProtocolLevel5 => raw_connect(ctx, patched(&params, |b, at| b[at + 6] = 5)?, true).await,
        MqttCheck::Mqtt5Client => raw_connect(ctx, mqtt5_connect(&params), true).await,
        MqttCheck::ConnectReservedFlag => {
            raw_connect(ctx, patched(&params, |b, at| b[at + 7] |= 0x01)?, false).await
        }
        MqttCheck::PasswordWithoutUsername => {
            // Clear the user-name flag and cut the user name out of the payload.
            let mut without = params.clone();
            without.login = None;
            let mut bytes = connect_bytes(&without)?;
            let at = header_len(&bytes);
            bytes[at + 7] |= 0x40;
            bytes.extend_from_slice(&string(params.login.as_ref().map_or("", |l| l.1.as_str())));
            raw_connect(ctx, reframe(&bytes), false).await
        }
        MqttCheck::LastWill => {
            let mut will = params.clone();
            will.will = Some(format!("/devices/{}/state", device.id));
            Ok(attempt(ctx, &will).await?.1)
        }
        MqttCheck::KeepAliveZero => {
            let mut zero = params.clone();
            zero.keep_alive = 0;
            Ok(attempt(ctx, &zero).await?.1)
        }
        MqttCheck::PublishQos3
        | MqttCheck::SubscribeFlags
        | MqttCheck::UnsubscribeFlags
        | MqttCheck::PingreqFlags => {
            let mut probe = open(ctx, &device).await?;
            let packet = wrong_flags(check, &device.id)?;
            flags_answer(ctx, &mut probe, &device.id, &packet).await
        }
    }
}

/// The CONNECT bytes of `params`.
fn connect_bytes(params: &ConnectParams) -> Result<Vec<u8>, String> {
    let mut connect = rumqttc::mqttbytes::v4::Connect::new(params.client_id.clone());
    connect.keep_alive = params.keep_alive;
    if let Some((user, password)) = &params.login {
        connect.set_login(user.clone(), password.clone());
    }
    Ok(encode(Packet::Connect(connect))
        .map_err(|e| e.to_string())?
        .to_vec())
}

/// The CONNECT of `params` with one byte changed by `patch`, given the offset of the variable
/// header (protocol name length at +0, level at +6, flags at +7).
fn patched(params: &ConnectParams, patch: impl Fn(&mut Vec<u8>, usize)) -> Result<Vec<u8>, String> {
    let mut bytes = connect_bytes(params)?;
    let at = header_len(&bytes);
    patch(&mut bytes, at);
    Ok(bytes)
}

/// The fixed header's length: one type byte and the remaining length's bytes.
fn header_len(packet: &[u8]) -> usize {
    1 + packet[1..].iter().take_while(|b| *b & 0x80 != 0).count() + 1
}

/// A packet whose body was changed: the fixed header rewritten with the new remaining length.
fn reframe(packet: &[u8]) -> Vec<u8> {
    let body = &packet[header_len(packet)..];
    let mut out = vec![packet[0]];
    out.extend(remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = u8::try_from(n % 128).unwrap_or(0);
        n /= 128;
        out.push(if n > 0 { byte | 0x80 } else { byte });
        if n == 0 {
            return out;
        }
    }
}

fn string(s: &str) -> Vec<u8> {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
    out
}

/// A CONNECT as an MQTT 5 client sends it: level 5, a properties length after the keep-alive.
fn mqtt5_connect(params: &ConnectParams) -> Vec<u8> {
    let (user, password) = params.login.clone().unwrap_or_default();
    let mut body = string("MQTT");
    body.extend_from_slice(&[5, 0xc2]);
    body.extend_from_slice(&params.keep_alive.to_be_bytes());
    // Properties: Session Expiry Interval 0 (id 0x11, four bytes).
    body.extend_from_slice(&[5, 0x11, 0, 0, 0, 0]);
    body.extend(string(&params.client_id));
    body.extend(string(&user));
    body.extend(string(&password));
    let mut out = vec![0x10];
    out.extend(remaining_length(body.len()));
    out.extend(body);
    out
}

/// Sends a raw CONNECT and reads the answer. A protocol level the bridge does not serve must be
/// answered with CONNACK 0x01 before the close (`connack_required`); the other violations must
/// close the connection, with or without a refusing CONNACK.
async fn raw_connect(ctx: &Ctx<'_>, connect: Vec<u8>, connack_required: bool) -> Result<Observation, String> {
    let (_probe, code) = Probe::connect_raw(&ctx.endpoint, &connect)
        .await
        .map_err(|e| format!("raw CONNECT: {e}"))?;
    let answer = code.map_or("none: closed without CONNACK".to_owned(), |c| c.to_string());
    let seen = match code {
        Some(0) => Observation::accepted(),
        None if connack_required => {
            Observation::broken("closed without the CONNACK 0x01 that MQTT-3.1.2-2 requires")
        }
        code => Observation::refused(code, None),
    };
    Ok(seen.with("connack", answer).with("connect_bytes", connect.len()))
}

/// The packet of `check` with fixed-header flags MQTT 3.1.1 forbids.
fn wrong_flags(check: MqttCheck, device: &str) -> Result<Vec<u8>, String> {
    let topic = format!("/devices/{device}/events");
    let (packet, first) = match check {
        MqttCheck::PublishQos3 => {
            let publish = rumqttc::mqttbytes::v4::Publish::new(topic, QoS::AtMostOnce, b"qos3".to_vec());
            (Packet::Publish(publish), 0x36)
        }
        MqttCheck::SubscribeFlags => (
            Packet::Subscribe(Subscribe::new(
                format!("/devices/{device}/config"),
                QoS::AtLeastOnce,
            )),
            0x80,
        ),
        MqttCheck::UnsubscribeFlags => (
            Packet::Unsubscribe(Unsubscribe::new(format!("/devices/{device}/config"))),
            0xa0,
        ),
        _ => (Packet::PingReq, 0xc1),
    };
    let mut bytes = encode(packet).map_err(|e| e.to_string())?.to_vec();
    bytes[0] = first;
    Ok(bytes)
}

/// Sends the packet and reads whether the bridge closed the connection.
async fn flags_answer(
    ctx: &Ctx<'_>,
    probe: &mut Probe,
    device: &str,
    packet: &[u8],
) -> Result<Observation, String> {
    probe.send_raw(packet).await.map_err(|e| e.to_string())?;
    let closed = probe.closed().await.map_err(|e| e.to_string())?;
    let seen = if closed {
        let cause = ctx.target.disconnect_cause(device).await;
        let mut seen = Observation::refused(None, None).with("answer", "connection closed");
        if let Some(cause) = cause {
            seen.note("disconnect_cause", cause);
        }
        seen
    } else {
        Observation::accepted().with("answer", "connection open")
    };
    Ok(seen.with("first_byte", format!("{:#04x}", packet[0])))
}
