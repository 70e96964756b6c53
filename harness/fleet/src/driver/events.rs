//! The event-loop task: connects when handed a password, turns rumqttc's events into device
//! [`Input`]s, and after a connection ends waits for the next password.

use std::sync::Arc;

use fleetgate_metrics::names::CONNECT_ERRORS_PREFIX;
use rumqttc::{ConnectionError, Event, EventLoop, MqttState, Outgoing, Packet};
use tokio::sync::mpsc;

use super::Shared;
use crate::device::Input;

/// Runs until the device task drops its password sender or its input receiver. A connection
/// attempt that ends before any CONNACK is counted by its cause (`connect_errors.<cause>`).
pub(super) async fn pump(
    mut eventloop: EventLoop,
    inputs: mpsc::UnboundedSender<Input>,
    mut passwords: mpsc::UnboundedReceiver<String>,
    shared: Arc<Shared>,
    worker: usize,
) {
    while let Some(password) = passwords.recv().await {
        // Whatever the device handed the client before its last connection ended, it has
        // requeued itself: the client must not send it again. That includes a publish held
        // back by a packet-id collision, which the client's state would otherwise send (and
        // report) on the new connection: the state starts afresh.
        eventloop.clean();
        eventloop.pending.clear();
        eventloop.state = MqttState::new(eventloop.mqtt_options.inflight(), false);
        eventloop.mqtt_options.set_credentials("unused", password);
        let mut acknowledged = false;
        loop {
            let input = match eventloop.poll().await {
                Ok(event) => match translate(&event) {
                    Some(input) => input,
                    None => continue,
                },
                // The enum's discriminants are the wire codes (Success = 0 … NotAuthorized = 5).
                Err(ConnectionError::ConnectionRefused(code)) => Input::Refused(code as u8),
                Err(error) => {
                    if !acknowledged {
                        shared.live.error();
                        let counter = format!("{CONNECT_ERRORS_PREFIX}{}", cause(&error));
                        shared.shards.with(worker, |r| {
                            r.count("connects.failed", 1);
                            r.count(&counter, 1);
                        });
                    }
                    Input::Down
                }
            };
            acknowledged |= matches!(input, Input::ConnAck);
            let ended = matches!(input, Input::Down | Input::Refused(_));
            if inputs.send(input).is_err() {
                return;
            }
            if ended {
                break;
            }
        }
        eventloop.clean();
        eventloop.pending.clear();
    }
}

/// Why a connection attempt ended before its CONNACK, as a counter suffix: `refused` (TCP),
/// `tls` (handshake or certificate), `timeout`, `closed` (the peer closed it), `io`, `other`.
fn cause(error: &ConnectionError) -> &'static str {
    use std::io::ErrorKind;
    match error {
        ConnectionError::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => "refused",
            ErrorKind::TimedOut => "timeout",
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof => "closed",
            _ if e
                .get_ref()
                .is_some_and(|inner| inner.to_string().contains("certificate")) =>
            {
                "tls"
            }
            _ => "io",
        },
        ConnectionError::Tls(_) => "tls",
        ConnectionError::NetworkTimeout | ConnectionError::FlushTimeout => "timeout",
        ConnectionError::MqttState(_) => "closed",
        _ => "other",
    }
}

/// The device input an event stands for; a DISCONNECT the device sent ends the connection.
fn translate(event: &Event) -> Option<Input> {
    match event {
        Event::Incoming(Packet::ConnAck(_)) => Some(Input::ConnAck),
        Event::Incoming(Packet::PubAck(ack)) => Some(Input::PubAck(ack.pkid)),
        Event::Incoming(Packet::Publish(publish)) => {
            if publish.topic.contains("/commands") {
                Some(Input::Command)
            } else {
                Some(Input::Config)
            }
        }
        Event::Outgoing(Outgoing::Publish(pkid)) => Some(Input::Sent(*pkid)),
        Event::Outgoing(Outgoing::AwaitAck(pkid)) => Some(Input::AwaitAck(*pkid)),
        Event::Outgoing(Outgoing::Disconnect) => Some(Input::Down),
        _ => None,
    }
}
