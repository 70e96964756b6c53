//! Cases judged from what the device did on its own: its CONNECT and JWT, its clock, its
//! keep-alive and the topics it used.

use std::time::Duration;

use fleetgate_bridge::events::{Event, Recorded, Verdict};
use fleetgate_bridge::topics::{self, DeviceTopic};
use fleetgate_identity::rules::DAY_SECS;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::Packet;
use tokio::time::Instant;

use super::device::{Device, Finding, attempt, secs};
use crate::observe::{rfc3339, tally};

/// The longest keep-alive a device may ask for: the bridge's idle limit.
const MAX_KEEP_ALIVE_SECS: u16 = 20 * 60;

/// The least time between two state updates, with 50 ms for the network.
const STATE_INTERVAL_MS: i64 = 950;

/// `device.connect`: waits for the first accepted CONNECT, then checks its JWT.
pub(super) async fn connect(device: &mut Device, timeout: Duration) -> Finding {
    let until = Instant::now() + timeout;
    device.drain();
    let accepted = |r: &Recorded| attempt(r).is_some_and(|a| a.verdict == Verdict::Accepted);
    if !device.history.iter().any(accepted) && device.wait_for(until, accepted).await.is_none() {
        let refusals: Vec<String> = device
            .history
            .iter()
            .filter_map(attempt)
            .filter_map(|a| match &a.verdict {
                Verdict::Refused { connack, reason } => Some(format!("{reason} (CONNACK {connack})")),
                _ => None,
            })
            .collect();
        let why = match refusals.last() {
            Some(last) => format!("every CONNECT was refused; the last: {last}"),
            None => format!("no CONNECT was accepted within {}s", timeout.as_secs()),
        };
        return Finding::failed(why).with("refused", refusals.len());
    }
    let Some(first) = device.history.iter().find(|r| accepted(r)) else {
        return Finding::failed("no accepted CONNECT");
    };
    let Some(a) = attempt(first) else {
        return Finding::failed("no accepted CONNECT");
    };
    let tls = device.shared.tls.is_some();
    let claims = a.claims.clone().unwrap_or_default();
    let lifetime = claims.iat.zip(claims.exp).map(|(iat, exp)| exp - iat);
    let problems: Vec<String> = [
        (!tls).then(|| "the connection was not TLS ([bridge] tls = false)".to_owned()),
        (claims.aud.as_deref() != Some(device.shared.project.as_str())).then(|| {
            format!(
                "aud is {}, not the project id {}",
                claims.aud.as_deref().unwrap_or("missing"),
                device.shared.project
            )
        }),
        match lifetime {
            None => Some("iat or exp is missing".to_owned()),
            Some(l) if l > DAY_SECS => Some(format!("exp − iat is {l} s, over 24 h")),
            Some(l) if l <= 0 => Some(format!("exp − iat is {l} s: exp is not after iat")),
            Some(_) => None,
        },
    ]
    .into_iter()
    .flatten()
    .collect();
    let finding = match problems.is_empty() {
        true => Finding::passed(),
        false => Finding::failed(problems.join("; ")),
    };
    finding
        .with("client_id", &a.client_id)
        .with("alg", claims.alg.as_deref().unwrap_or("-"))
        .with("aud", claims.aud.as_deref().unwrap_or("-"))
        .with("token_lifetime_s", lifetime.map_or("-".into(), |l| l.to_string()))
        .with("keep_alive_s", a.keep_alive)
        .with("tls", tls)
        .with("peer", first.peer)
        .with("connected_at", rfc3339(first.at))
}

/// `device.clock-offset`: the device's `iat` against the bridge's clock at CONNECT.
pub(super) fn clock_offset(device: &Device) -> Finding {
    let skew = device.shared.skew_secs;
    let Some(a) = device
        .history
        .iter()
        .filter_map(attempt)
        .find(|a| a.verdict == Verdict::Accepted)
    else {
        return Finding::skipped("not judged: no accepted CONNECT");
    };
    let Some(iat) = a.claims.as_ref().and_then(|c| c.iat) else {
        return Finding::failed("the JWT has no integer iat");
    };
    let offset = iat - a.server_time.div_euclid(1000);
    Finding::unless(
        offset.abs() <= skew,
        format!("the device clock is {offset:+} s off, beyond the {skew} s skew"),
    )
    .with("offset_s", format!("{offset:+}"))
    .with("iat", rfc3339(iat * 1000))
    .with("bridge_time", rfc3339(a.server_time))
    .with("skew_s", skew)
}

/// The inbound packet times of each connection in the history, with its keep-alive.
fn connections(history: &[Recorded]) -> Vec<(u16, Vec<i64>)> {
    let mut out: Vec<(u16, Vec<i64>)> = Vec::new();
    let mut open = false;
    for recorded in history {
        match &recorded.event {
            Event::ConnectAttempt(a) if a.verdict == Verdict::Accepted => {
                out.push((a.keep_alive, vec![recorded.at]));
                open = true;
            }
            Event::Packet { inbound: true, .. } if open => {
                if let Some((_, times)) = out.last_mut() {
                    times.push(recorded.at);
                }
            }
            Event::Disconnected { .. } => {
                if let Some((_, times)) = out.last_mut().filter(|_| open) {
                    times.push(recorded.at);
                }
                open = false;
            }
            _ => {}
        }
    }
    out
}

/// `device.keepalive`: a keep-alive is set, below the idle limit, and kept.
pub(super) async fn keepalive(device: &mut Device, timeout: Duration) -> Finding {
    if let Err(why) = device.connected(timeout).await {
        return Finding::skipped(why);
    }
    let Some(keep_alive) = device.current().map(|a| a.keep_alive) else {
        return Finding::skipped("not judged: the device is not connected");
    };
    if keep_alive == 0 {
        return Finding::failed("keep-alive 0: the device never pings, so a dead connection goes unnoticed")
            .with("keep_alive_s", 0);
    }
    if keep_alive > MAX_KEEP_ALIVE_SECS {
        return Finding::failed(format!(
            "keep-alive {keep_alive} s is above the 20 min idle limit: the bridge closes idle connections first"
        ))
        .with("keep_alive_s", keep_alive);
    }
    let window = i64::from(keep_alive) * 1500;
    let observed = |d: &Device| {
        connections(&d.history)
            .iter()
            .map(|(_, t)| t.last().copied().unwrap_or(0) - t.first().copied().unwrap_or(0))
            .max()
            .unwrap_or(0)
    };
    let until =
        Instant::now() + timeout.min(Duration::from_millis(u64::try_from(window).unwrap_or(0) + 10_000));
    while observed(device) < window && device.next(until).await.is_some() {}
    let closed = device
        .history
        .iter()
        .any(|r| matches!(&r.event, Event::Disconnected { cause, .. } if cause.id() == "keep-alive"));
    let gaps: Vec<i64> = connections(&device.history)
        .iter()
        .filter(|(ka, _)| *ka > 0)
        .flat_map(|(_, times)| times.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>())
        .collect();
    let longest = gaps.iter().copied().max().unwrap_or(0);
    Finding::unless(
        !closed && longest <= window,
        format!(
            "the device went {:.1} s without a packet, over 1.5 × its {keep_alive} s keep-alive",
            longest as f64 / 1000.0
        ),
    )
    .with("keep_alive_s", keep_alive)
    .with("longest_silence_s", secs(0, longest))
    .with("observed_s", secs(0, observed(device)))
    .with("closed_for_keep_alive", closed)
}

/// What is wrong with one PUBLISH or SUBSCRIBE of `device`, if anything.
fn misuse(device: &str, packet: &Packet) -> Option<String> {
    match packet {
        Packet::Publish(p) if p.qos == QoS::ExactlyOnce => Some(format!("PUBLISH at QoS 2 on {}", p.topic)),
        Packet::Publish(p) => match topics::parse_publish(&p.topic) {
            Some(t)
                if t.device == device
                    && matches!(t.topic, DeviceTopic::Events { .. } | DeviceTopic::State) =>
            {
                None
            }
            _ => Some(format!(
                "PUBLISH on {}, not its own events or state topic",
                p.topic
            )),
        },
        Packet::Subscribe(s) => s
            .filters
            .iter()
            .find(|f| {
                let own_config = f.path == format!("/devices/{device}/config");
                let own_commands = f.path == format!("/devices/{device}/commands/#");
                !(own_config || own_commands)
            })
            .map(|f| format!("SUBSCRIBE to {}, not its own config or commands", f.path)),
        _ => None,
    }
}

/// `device.topics`: every PUBLISH and SUBSCRIBE seen so far used the device's own topics,
/// QoS ≤ 1, and state came at most once a second.
pub(super) fn topics(device: &mut Device) -> Finding {
    device.drain();
    let mut problems = Vec::new();
    let mut last_state: Option<i64> = None;
    let mut kinds = Vec::new();
    for recorded in &device.history {
        let Event::Packet {
            inbound: true,
            packet,
            ..
        } = &recorded.event
        else {
            continue;
        };
        if let Some(problem) = misuse(&device.id, packet) {
            problems.push(format!("{} at {}", problem, rfc3339(recorded.at)));
        }
        if let Packet::Publish(p) = packet {
            let state = p.topic == format!("/devices/{}/state", device.id);
            kinds.push(if state { "state" } else { "events" });
            if state {
                if let Some(last) = last_state.filter(|l| recorded.at - l < STATE_INTERVAL_MS) {
                    problems.push(format!(
                        "two state updates {:.2} s apart at {} (at most one a second)",
                        secs(last, recorded.at),
                        rfc3339(recorded.at)
                    ));
                }
                last_state = Some(recorded.at);
            }
        }
    }
    if kinds.is_empty() {
        return Finding::skipped("not judged: the device published nothing");
    }
    let finding = match problems.first() {
        None => Finding::passed(),
        Some(first) => Finding::failed(first.clone()).with("problems", problems.len()),
    };
    finding.with("publishes", tally(kinds.into_iter()))
}
