//! The event-loop task: connects when handed a password, turns rumqttc's events into device
//! [`Input`]s, and after a connection ends waits for the next password.

use rumqttc::{ConnectionError, Event, EventLoop, MqttState, Outgoing, Packet};
use tokio::sync::mpsc;

use crate::device::Input;

/// Runs until the device task drops its password sender or its input receiver.
pub(super) async fn pump(
    mut eventloop: EventLoop,
    inputs: mpsc::UnboundedSender<Input>,
    mut passwords: mpsc::UnboundedReceiver<String>,
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
        loop {
            let input = match eventloop.poll().await {
                Ok(event) => match translate(&event) {
                    Some(input) => input,
                    None => continue,
                },
                // The enum's discriminants are the wire codes (Success = 0 … NotAuthorized = 5).
                Err(ConnectionError::ConnectionRefused(code)) => Input::Refused(code as u8),
                Err(_) => Input::Down,
            };
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
