//! One connection's driver: reads bytes into packets for the [`Session`], carries out its
//! actions (writes, forwards, state, events, close), and wakes it for its deadlines. All protocol
//! decisions are the session's; this file only moves bytes and futures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use rumqttc::mqttbytes::v4::Packet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::events::{Cause, Event, Verdict};
use crate::faults::Faulty;
use crate::forward::telemetry_message;
use crate::safety::SafetyCheck;
use crate::server::{Control, Shared};
use crate::session::{Action, Read, Session};

/// A device must send CONNECT this soon after the connection opens.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Forwarded = BoxFuture<'static, (Option<u16>, Result<(), String>)>;

/// Serves one connection until it closes.
pub(crate) async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let id = shared.connection_id();
    let (control_tx, mut control) = mpsc::channel(64);
    let mut session = Session::new(shared.path.clone(), Arc::clone(&shared.profile));
    let mut moved = shared.clock.moved();
    let mut input = BytesMut::with_capacity(4096);
    let mut output = BytesMut::with_capacity(4096);
    let mut forwards: FuturesOrdered<Forwarded> = FuturesOrdered::new();
    let connect_by = shared.clock.now() + i64::try_from(CONNECT_TIMEOUT.as_millis()).unwrap_or(10_000);
    let mut claimed: Vec<String> = Vec::new();
    let mut answered = false;
    // The CONNECT was left unanswered (an injected fault): its end is recorded as a drop.
    let mut withheld = false;
    loop {
        let deadline = session.next_deadline().unwrap_or(connect_by);
        let actions = tokio::select! {
            read = reader.read_buf(&mut input) => match read {
                Ok(0) if claimed.is_empty() && !withheld => {
                    shared.record(peer, Event::Dropped { reason: "closed before CONNECT".into() });
                    break;
                }
                Ok(0) => session.close(Cause::ClientDisconnect),
                Ok(_) => decode(&mut input, &mut session, &shared),
                Err(e) => session.close(Cause::Io(e.to_string())),
            },
            Some(message) = control.recv() => match message {
                Control::Close(cause) => session.close(cause),
                Control::Config { device, config } => session.config(&device, config, shared.clock.now()),
                Control::Command { device, subfolder, payload, reply } => {
                    let result = session.command(&device, subfolder.as_deref(), payload);
                    let (answer, actions) = match result {
                        Ok(actions) => (Ok(()), actions),
                        Err(e) => (Err(e), Vec::new()),
                    };
                    let _ = reply.send(answer);
                    actions
                }
            },
            Some((pkid, result)) = forwards.next(), if !forwards.is_empty() => {
                if let Some(device) = observed(&session, &shared) {
                    let accepted = result.is_ok();
                    shared.record(peer, Event::Forwarded { device, accepted });
                }
                session.forwarded(pkid, result)
            }
            () = tokio::time::sleep(shared.clock.until(deadline)) => session.tick(shared.clock.now()),
            Ok(()) = moved.changed() => session.tick(shared.clock.now()),
            _ = stop.changed() => session.close(Cause::Shutdown),
        };
        if claimed.is_empty() && !answered && shared.clock.now() >= connect_by {
            shared.record(
                peer,
                Event::Dropped {
                    reason: "no CONNECT within 10s".into(),
                },
            );
            break;
        }
        let mut closing = false;
        let traced = observed(&session, &shared);
        for action in actions {
            match action {
                Action::Send(packet) => {
                    if packet.write(&mut output, usize::MAX).is_err() {
                        closing = true;
                    }
                    if let Some(device) = &traced {
                        let (device, inbound) = (device.clone(), false);
                        shared.record(
                            peer,
                            Event::Packet {
                                device,
                                inbound,
                                packet,
                            },
                        );
                    }
                }
                Action::Forward(telemetry)
                    if telemetry.pkid.is_some()
                        && shared.faults.take_drop_before_puback(&telemetry.device) =>
                {
                    let cause = Cause::Admin(format!(
                        "connection dropped instead of acknowledging packet {} (injected fault)",
                        telemetry.pkid.unwrap_or_default()
                    ));
                    record_events(&shared, peer, session.close(cause));
                    closing = true;
                }
                Action::Forward(telemetry) => {
                    let mut pkid = telemetry.pkid;
                    if let Some(early) =
                        pkid.filter(|_| !shared.profile.enforces(SafetyCheck::PubackAfterPubsub))
                    {
                        // The rule switched off: acknowledge before Pub/Sub has the message.
                        let ack = Packet::PubAck(rumqttc::mqttbytes::v4::PubAck::new(early));
                        closing |= ack.write(&mut output, usize::MAX).is_err();
                        pkid = None;
                    }
                    let routed = telemetry_message(
                        &telemetry,
                        &shared.registry.routing(),
                        &shared.path,
                        &shared.profile,
                    );
                    let forward: Forwarded = match routed {
                        Ok(message) => {
                            let shared = Arc::clone(&shared);
                            Box::pin(async move {
                                shared.faults.forwarding_open().await;
                                let result = shared.forwarder.forward(message).await;
                                let delay = shared.faults.puback_delay();
                                if result.is_ok() && !delay.is_zero() {
                                    tokio::time::sleep(delay).await;
                                }
                                (pkid, result)
                            })
                        }
                        Err(reason) => Box::pin(async move { (pkid, Err(reason)) }),
                    };
                    forwards.push_back(forward);
                }
                Action::StoreState { device, payload } => {
                    shared.registry.store_state(&device, payload, shared.clock.now())
                }
                Action::Claim(device) => {
                    shared.claim(&device, id, control_tx.clone());
                    claimed.push(device);
                }
                Action::Release(device) => {
                    shared.release(&device, id);
                    claimed.retain(|d| *d != device);
                }
                Action::Event(event) => {
                    answered |= matches!(event, Event::ConnectAttempt(_));
                    withheld |= matches!(&event, Event::ConnectAttempt(a) if a.verdict == Verdict::Withheld);
                    shared.record(peer, event);
                }
                Action::Close(cause) => {
                    if !answered || withheld {
                        let reason = match withheld {
                            true => format!("ended while its CONNACK was withheld: {cause}"),
                            false => cause.to_string(),
                        };
                        shared.record(peer, Event::Dropped { reason });
                    }
                    closing = true;
                }
            }
        }
        if !output.is_empty() {
            // TLS buffers records until flushed: without the flush a PUBACK can wait for the
            // next write (the benchmark saw 60 s stalls, up to the keep-alive).
            let written = match writer.write_all(&output).await {
                Ok(()) => writer.flush().await,
                Err(e) => Err(e),
            };
            if written.is_err() && !closing {
                let actions = session.close(Cause::Io("write failed".into()));
                record_events(&shared, peer, actions);
                closing = true;
            }
            output.clear();
        }
        if closing {
            let _ = writer.shutdown().await;
            break;
        }
    }
    for device in claimed {
        shared.release(&device, id);
    }
}

/// The device of the session when its packets are traced.
fn observed(session: &Session, shared: &Shared) -> Option<String> {
    session
        .device()
        .filter(|device| shared.observe.covers(device))
        .map(str::to_owned)
}

/// Decodes every whole packet in `input` and hands it to the session. An observed device's
/// packet goes into the actions as an event before the session's answer to it, so that events
/// are recorded in the order they happened and a packet the session closes on is in the trace.
fn decode(input: &mut BytesMut, session: &mut Session, shared: &Shared) -> Vec<Action> {
    let mut actions = Vec::new();
    while !session.is_closed() {
        match session.read(input, shared.max_packet) {
            Read::Packet(packet) => {
                if let Some(device) = observed(session, shared) {
                    let packet = packet.clone();
                    actions.push(Action::Event(Event::Packet {
                        device,
                        inbound: true,
                        packet,
                    }));
                }
                let registry = Faulty {
                    registry: shared.registry.as_ref(),
                    faults: &shared.faults,
                };
                actions.extend(session.packet(packet, shared.clock.now(), &registry));
            }
            Read::NeedMore => break,
            Read::Closed(closing) => actions.extend(closing),
        }
    }
    actions
}

fn record_events(shared: &Shared, peer: SocketAddr, actions: Vec<Action>) {
    for action in actions {
        if let Action::Event(event) = action {
            shared.record(peer, event);
        }
    }
}
