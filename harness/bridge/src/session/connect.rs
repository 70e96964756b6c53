//! CONNECT: client id, username, session flags, device lookup and the JWT verdict.

use fleetgate_identity::jwt::fingerprint;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, Packet};

use super::connected::Live;
use super::{Action, Registry, RegistryPath, UnixMillis};
use crate::events::{Cause, ConnectAttempt, Event, Verdict};
use crate::profile::{PersistentSession, Profile, Unsupported};
use crate::safety::SafetyCheck;

const BAD_CLIENT_ID: u8 = 2;

/// The answer to a CONNECT.
pub(super) enum Answer {
    /// Accepted: the live session and its actions.
    Accepted(Box<Live>, Vec<Action>),
    /// Refused: the CONNACK, the event and the close.
    Refused(Vec<Action>),
    /// Accepted by the rules but left unanswered (an injected fault): the event only.
    Withheld(Vec<Action>),
}

/// Answers a CONNECT.
pub(super) fn connect(
    path: &RegistryPath,
    profile: &Profile,
    connect: &Connect,
    now: UnixMillis,
    registry: &dyn Registry,
) -> Answer {
    let attempt = |device: Option<&str>, claims, verdict| ConnectAttempt {
        client_id: connect.client_id.clone(),
        device: device.map(str::to_owned),
        claims,
        server_time: now,
        keep_alive: connect.keep_alive,
        token_fingerprint: connect.login.as_ref().map(|l| fingerprint(&l.password)),
        verdict,
    };
    let refuse = |device: Option<&str>, claims, connack: u8, reason: &str| {
        let verdict = Verdict::Refused {
            connack,
            reason: reason.to_owned(),
        };
        let attempt = attempt(device, claims, verdict);
        Answer::Refused(vec![
            Action::Send(Packet::ConnAck(ConnAck::new(return_code(connack), false))),
            Action::Event(Event::ConnectAttempt(attempt)),
            Action::Close(Cause::Protocol(format!("CONNECT refused: {reason}"))),
        ])
    };
    let named = if profile.enforces(SafetyCheck::ClientIdRegistry) {
        device_of(&connect.client_id, path)
    } else {
        any_registry_device(&connect.client_id)
    };
    let Some(device) = named else {
        let reason = if connect.client_id.starts_with("projects/") {
            "other-registry"
        } else {
            "malformed-client-id"
        };
        let code = if reason == "other-registry" {
            profile.connack_unknown_device
        } else {
            BAD_CLIENT_ID
        };
        return refuse(None, None, code, reason);
    };
    if let (false, PersistentSession::Reject(code)) = (connect.clean_session, profile.persistent_session) {
        return refuse(Some(device), None, code, "persistent-session");
    }
    let Some(info) = registry.device(device) else {
        return refuse(
            Some(device),
            None,
            profile.connack_unknown_device,
            "unknown-device",
        );
    };
    if info.blocked && profile.enforces(SafetyCheck::BlockedDevices) {
        return refuse(
            Some(device),
            None,
            profile.connack_unknown_device,
            "blocked-device",
        );
    }
    if let Some((code, reason)) = unsupported(profile, connect) {
        return refuse(Some(device), None, code, reason);
    }
    let Some(login) = &connect.login else {
        return refuse(Some(device), None, profile.connack_auth_failure, "no-username");
    };
    let verdict = registry.authenticate(device, &login.password, now.div_euclid(1000));
    let exp = match verdict.result {
        Ok(exp) => exp,
        Err(reason) => {
            return refuse(
                Some(device),
                verdict.claims,
                profile.connack_auth_failure,
                &reason,
            );
        }
    };
    if registry.withhold_connack(device) {
        let withheld = attempt(Some(device), verdict.claims, Verdict::Withheld);
        return Answer::Withheld(vec![Action::Event(Event::ConnectAttempt(withheld))]);
    }
    let accepted = attempt(Some(device), verdict.claims, Verdict::Accepted);
    let live = Live::new(
        device.to_owned(),
        info,
        exp.saturating_mul(1000),
        connect.keep_alive,
        now,
    );
    let actions = vec![
        Action::Claim(device.to_owned()),
        Action::Send(Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false))),
        Action::Event(Event::ConnectAttempt(accepted)),
    ];
    Answer::Accepted(Box::new(live), actions)
}

/// The CONNACK code and reason refusing a Last Will or keep-alive 0, when the profile does.
fn unsupported(profile: &Profile, connect: &Connect) -> Option<(u8, &'static str)> {
    let refused = |setting, check| match setting {
        Unsupported::Refuse(code) if profile.enforces(check) => Some(code),
        _ => None,
    };
    if connect.last_will.is_some()
        && let Some(code) = refused(profile.last_will, SafetyCheck::WillRefused)
    {
        return Some((code, "last-will-unsupported"));
    }
    if connect.keep_alive == 0
        && let Some(code) = refused(profile.keep_alive_zero, SafetyCheck::KeepAliveRequired)
    {
        return Some((code, "keep-alive-required"));
    }
    None
}

/// The device id of a client id of this registry.
pub(crate) fn device_of<'a>(client_id: &'a str, path: &RegistryPath) -> Option<&'a str> {
    let rest = client_id.strip_prefix("projects/")?;
    let rest = rest
        .strip_prefix(path.project.as_str())?
        .strip_prefix("/locations/")?;
    let rest = rest
        .strip_prefix(path.region.as_str())?
        .strip_prefix("/registries/")?;
    let device = rest
        .strip_prefix(path.registry.as_str())?
        .strip_prefix("/devices/")?;
    (!device.is_empty() && !device.contains('/')).then_some(device)
}

/// The device id of a client id of any registry (the registry check switched off).
fn any_registry_device(client_id: &str) -> Option<&str> {
    let (_, device) = client_id.strip_prefix("projects/")?.rsplit_once("/devices/")?;
    (!device.is_empty()).then_some(device)
}

fn return_code(code: u8) -> ConnectReturnCode {
    match code {
        1 => ConnectReturnCode::RefusedProtocolVersion,
        2 => ConnectReturnCode::BadClientId,
        3 => ConnectReturnCode::ServiceUnavailable,
        4 => ConnectReturnCode::BadUserNamePassword,
        _ => ConnectReturnCode::NotAuthorized,
    }
}
