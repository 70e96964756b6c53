//! Observation of real devices: what a hardware-in-loop tester needs to know of each device
//! that is not a virtual Pi (connects and refusals, tokens, clock offset, reconnect intervals,
//! messages, configs, commands, keep-alive), built from the embedded bridge's events and
//! reported per device when `serve`, `qualify` or a `run --listen` ends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use fleetgate_bridge::events::{Event, Recorded, Verdict};
use fleetgate_bridge::topics::{self, DeviceTopic};
use fleetgate_report::{DeviceSummary, Spread};
use rumqttc::mqttbytes::v4::Packet;

/// How many token times a summary lists.
const TOKEN_TIMES: usize = 50;

/// Per-device observations, fed event by event.
#[derive(Default)]
pub struct Observer {
    devices: BTreeMap<String, Observed>,
}

#[derive(Default)]
struct Observed {
    summary: DeviceSummary,
    tokens: HashSet<String>,
    disconnected_at: Option<i64>,
    /// Packet ids of QoS 1 configs (`true`) and commands (`false`) awaiting the device's PUBACK.
    in_flight: HashMap<u16, bool>,
}

/// RFC 3339 UTC with milliseconds, from Unix milliseconds.
pub fn rfc3339(at_ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(at_ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

fn add(spread: &mut Option<Spread>, value: f64) {
    match spread {
        Some(spread) => spread.add(value),
        None => *spread = Some(Spread::of(value)),
    }
}

impl Observer {
    /// Takes in one event; events of devices that are not observed change nothing.
    pub fn record(&mut self, recorded: &Recorded) {
        let device = match &recorded.event {
            Event::ConnectAttempt(a) => a.device.as_deref(),
            Event::Disconnected { device, .. }
            | Event::Packet { device, .. }
            | Event::Forwarded { device, .. } => Some(device.as_str()),
            Event::Dropped { .. } => None,
        };
        let Some(device) = device else { return };
        let observed = self.devices.entry(device.to_owned()).or_insert_with(|| Observed {
            summary: DeviceSummary {
                id: device.to_owned(),
                ..DeviceSummary::default()
            },
            ..Observed::default()
        });
        observed.record(recorded);
    }

    /// The summaries of the devices `keep` accepts, by id.
    pub fn summaries(&self, keep: impl Fn(&str) -> bool) -> Vec<DeviceSummary> {
        self.devices
            .iter()
            .filter(|(id, _)| keep(id))
            .map(|(_, o)| o.summary.clone())
            .collect()
    }
}

impl Observed {
    fn record(&mut self, recorded: &Recorded) {
        let s = &mut self.summary;
        let at = rfc3339(recorded.at);
        s.first_seen.get_or_insert_with(|| at.clone());
        s.last_seen = Some(at);
        match &recorded.event {
            Event::ConnectAttempt(attempt) => {
                let peer = recorded.peer.ip().to_string();
                if !s.peers.contains(&peer) {
                    s.peers.push(peer);
                }
                if let Some(since) = self.disconnected_at.take() {
                    add(&mut s.reconnect_interval_s, (recorded.at - since) as f64 / 1000.0);
                }
                match &attempt.verdict {
                    Verdict::Accepted => s.connects_accepted += 1,
                    Verdict::Refused { reason, .. } => {
                        *s.connects_refused.entry(reason.clone()).or_default() += 1;
                        self.disconnected_at = Some(recorded.at);
                    }
                    Verdict::Withheld => s.connects_unanswered += 1,
                }
                s.keep_alive_s = Some(attempt.keep_alive);
                if let Some(claims) = &attempt.claims {
                    // What the peer's token claims, escaped and cut for the report.
                    s.alg = claims.alg.as_deref().map(crate::sanitize::label);
                    s.aud = claims.aud.as_deref().map(crate::sanitize::label);
                    if let (Some(iat), Some(exp)) = (claims.iat, claims.exp) {
                        s.token_lifetime_s = Some(exp - iat);
                    }
                    if let Some(iat) = claims.iat {
                        let offset = iat as f64 - attempt.server_time as f64 / 1000.0;
                        add(&mut s.clock_offset_s, (offset * 10.0).round() / 10.0);
                    }
                }
                if let Some(token) = &attempt.token_fingerprint
                    && self.tokens.insert(token.clone())
                {
                    s.tokens += 1;
                    if s.token_times.len() < TOKEN_TIMES {
                        s.token_times.push(rfc3339(recorded.at));
                    }
                }
            }
            Event::Disconnected { cause, .. } => {
                *s.disconnects.entry(cause.id().to_owned()).or_default() += 1;
                self.disconnected_at = Some(recorded.at);
            }
            Event::Forwarded { accepted, .. } => match accepted {
                true => s.delivered_to_pubsub += 1,
                false => s.pubsub_refused += 1,
            },
            Event::Packet {
                device,
                inbound,
                packet,
            } => self.packet(device, *inbound, packet),
            Event::Dropped { .. } => {}
        }
    }

    fn packet(&mut self, device: &str, inbound: bool, packet: &Packet) {
        let s = &mut self.summary;
        match (inbound, packet) {
            (true, Packet::PingReq) => s.pings += 1,
            (true, Packet::Publish(publish)) => match topics::parse_publish(&publish.topic) {
                Some(t) if t.device == device && matches!(t.topic, DeviceTopic::Events { .. }) => {
                    s.telemetry_published += 1;
                }
                Some(t) if t.device == device && t.topic == DeviceTopic::State => s.state_published += 1,
                _ => s.foreign_publishes += 1,
            },
            (true, Packet::PubAck(ack)) => match self.in_flight.remove(&ack.pkid) {
                Some(true) => s.configs_acknowledged += 1,
                Some(false) => s.commands_acknowledged += 1,
                None => {}
            },
            (false, Packet::PubAck(_)) => s.telemetry_acknowledged += 1,
            (false, Packet::Publish(publish)) => {
                let config = publish.topic.ends_with("/config");
                match config {
                    true => s.configs_sent += 1,
                    false => s.commands_sent += 1,
                }
                if publish.qos != rumqttc::mqttbytes::QoS::AtMostOnce {
                    self.in_flight.insert(publish.pkid, config);
                }
            }
            _ => {}
        }
    }
}

/// A report of what was observed, without cases, phases or gates (`serve`), which
/// `qualify` completes with its cases.
pub fn report(
    scenario: &fleetgate_scenario::Scenario,
    started: std::time::SystemTime,
    devices: Vec<DeviceSummary>,
    notes: Vec<String>,
) -> fleetgate_report::ReportData {
    let duration = std::time::SystemTime::now()
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64();
    let mut report = fleetgate_report::ReportData {
        notes,
        devices,
        ..crate::run::report_of(scenario, started, duration)
    };
    report.decide_outcome();
    report
}

/// The device ids of a scenario's `[[device]]` entries.
pub fn real_devices(scenario: &fleetgate_scenario::Scenario) -> HashSet<String> {
    scenario.devices.iter().map(|d| d.id.clone()).collect()
}

/// Counts by key, for evidence.
pub(crate) fn tally<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort();
    counts
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use fleetgate_bridge::events::{Cause, ConnectAttempt};
    use fleetgate_identity::jwt::PresentedClaims;
    use rumqttc::mqttbytes::QoS;
    use rumqttc::mqttbytes::v4::{PubAck, Publish};

    use super::*;

    fn recorded(at: i64, event: Event) -> Recorded {
        Recorded {
            at,
            peer: std::net::SocketAddr::from(([127, 0, 0, 2], 5000)),
            event,
        }
    }

    fn connect(at: i64, iat: i64, token: &str) -> Recorded {
        recorded(
            at,
            Event::ConnectAttempt(ConnectAttempt {
                client_id: "c".into(),
                device: Some("pi-1".into()),
                claims: Some(PresentedClaims {
                    alg: Some("ES256".into()),
                    kid: None,
                    iat: Some(iat),
                    exp: Some(iat + 3600),
                    aud: Some("demo-project".into()),
                }),
                server_time: at,
                keep_alive: 60,
                token_fingerprint: Some(token.into()),
                verdict: Verdict::Accepted,
            }),
        )
    }

    fn packet(at: i64, inbound: bool, packet: Packet) -> Recorded {
        recorded(
            at,
            Event::Packet {
                device: "pi-1".into(),
                inbound,
                packet,
            },
        )
    }

    fn command(pkid: u16) -> Publish {
        let mut publish = Publish::new("/devices/pi-1/commands/reboot", QoS::AtLeastOnce, "now");
        publish.pkid = pkid;
        publish
    }

    #[test]
    fn a_devices_tokens_clock_reconnects_and_messages_are_summed_up() {
        let mut observer = Observer::default();
        let events = [
            connect(1_000_000, 998, "a"),
            packet(
                1_000_100,
                true,
                Packet::Publish(Publish::new("/devices/pi-1/events", QoS::AtLeastOnce, "x")),
            ),
            packet(1_000_200, false, Packet::PubAck(PubAck::new(1))),
            packet(
                1_000_300,
                true,
                Packet::Publish(Publish::new("/devices/pi-2/events", QoS::AtLeastOnce, "x")),
            ),
            packet(1_000_310, false, Packet::Publish(command(7))),
            packet(1_000_320, true, Packet::PubAck(PubAck::new(7))),
            recorded(
                1_000_400,
                Event::Disconnected {
                    device: "pi-1".into(),
                    cause: Cause::TokenExpired,
                },
            ),
            connect(1_002_400, 1_002, "b"),
            connect(1_003_000, 1_002, "b"),
        ];
        for event in &events {
            observer.record(event);
        }
        let summary = &observer.summaries(|_| true)[0];
        assert_eq!(summary.connects_accepted, 3);
        assert_eq!(summary.tokens, 2, "a reused token is counted once");
        assert_eq!(summary.disconnects["token-expired"], 1);
        let offset = summary.clock_offset_s.unwrap();
        assert_eq!((offset.min, offset.max), (-2.0, -0.4));
        assert_eq!(summary.reconnect_interval_s.unwrap().last, 2.0);
        assert_eq!(summary.telemetry_published, 1);
        assert_eq!(summary.telemetry_acknowledged, 1);
        assert_eq!(summary.foreign_publishes, 1);
        assert_eq!((summary.commands_sent, summary.commands_acknowledged), (1, 1));
        assert_eq!(
            summary.configs_acknowledged, 0,
            "a command's PUBACK is not a config's"
        );
        assert!(observer.summaries(|id| id != "pi-1").is_empty());
    }
}
