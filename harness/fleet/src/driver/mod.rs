//! Drives one [`Device`] over a real MQTT connection: one task owns the state machine, its
//! timer and its connection ([`wire`]). It connects only when the machine says so, with the JWT
//! minted at that moment, so refreshes and backoff stay the machine's decisions; what the
//! connection reads becomes the machine's [`Input`]s, and what the machine decides is written
//! once per turn of the task.

pub mod conduct;
mod record;
pub mod tls;
mod wire;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_identity::Alg;
use fleetgate_metrics::Shards;
use rumqttc::mqttbytes::QoS;
use tokio::time::Instant;
use tokio_rustls::rustls::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::device::{Action, Device, DeviceSpec, Input, Message, MessageKind};
use crate::payload::{self, Stamp};
use crate::tally::SeqSet;
use conduct::{Conduct, Expected, Judge, Outcome, TokenSource};
pub use record::{Live, LiveReading, Scope};
use wire::Connection;

/// Where the devices connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// Host name or address, as the bridge's TLS certificate names it.
    pub host: String,
    /// The bridge's addresses, resolved once before the run; a connect tries them in order.
    pub addrs: Vec<SocketAddr>,
    /// TLS configuration; plain TCP when `None`.
    pub tls: Option<Arc<ClientConfig>>,
    /// `projects/{p}/locations/{r}/registries/{g}/devices/`: the client id prefix.
    pub client_id_prefix: String,
}

/// One device's identity: its id, the source of its JWTs, and what the bridge should do with
/// its connects.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Device id.
    pub id: String,
    /// Makes its JWTs (a minter with the key parsed once and the device clock applied, or a
    /// faulty device's catalogue mutation).
    pub tokens: Arc<dyn TokenSource>,
    /// Its signing algorithm, for `sign.<alg>`.
    pub alg: Alg,
    /// States what the bridge should do with each token; every connect should be accepted
    /// when `None`.
    pub judge: Option<Arc<dyn Judge>>,
    /// Its cohort's own metric names, when the fleet measures cohorts apart.
    pub scope: Option<Arc<Scope>>,
    /// The local address its connections leave from; the kernel's choice when `None`.
    pub source: Option<IpAddr>,
}

/// What every device task shares.
#[derive(Debug)]
pub struct Shared {
    /// Where to connect.
    pub target: Arc<Target>,
    /// The run's start: device time zero.
    pub epoch: Instant,
    /// The run's start in Unix microseconds, for payload stamps and JWT clocks.
    pub epoch_unix_us: u64,
    /// Per-worker recorders.
    pub shards: Shards,
    /// Live counters for progress.
    pub live: Live,
    /// Cancelled to stop every device at once (an interrupted run): each leaves its loop,
    /// closes its connection and returns what it had acknowledged.
    pub halt: CancellationToken,
}

impl Shared {
    /// Shared state for a run starting now.
    pub fn new(target: Target, shards: usize) -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        Self {
            target: Arc::new(target),
            epoch: Instant::now(),
            epoch_unix_us: u64::try_from(unix).unwrap_or(u64::MAX),
            shards: Shards::new(shards),
            live: Live::default(),
            halt: CancellationToken::new(),
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }
}

/// What a device leaves behind: the telemetry sequence numbers acknowledged, and how its
/// connects went.
#[derive(Debug)]
pub struct DeviceResult {
    /// Device id.
    pub id: String,
    /// Acknowledged (QoS 1) or sent (QoS 0) telemetry sequence numbers.
    pub acked: SeqSet,
    /// Its connects against what was expected of them.
    pub conduct: Conduct,
}

/// How long a connect attempt (TCP, TLS, CONNECT) may wait for its CONNACK. Generous on
/// purpose: under a connect storm a bridge answers late rather than not at all, and a device
/// that gives up early only adds another handshake to the storm.
const CONNACK_WITHIN: Duration = Duration::from_secs(30);
/// How long a flush may wait for the bridge to read.
const WRITE_WITHIN: Duration = Duration::from_secs(30);

/// Runs `device` until it is done, as worker `worker` (which metrics shard it records into):
/// one task owns the device, its timer and its connection.
pub async fn run_device(
    shared: Arc<Shared>,
    worker: usize,
    identity: Identity,
    mut device: Device,
) -> DeviceResult {
    let spec = Arc::clone(device.spec());
    let mut session = Session {
        shared: &shared,
        worker,
        identity: &identity,
        spec: &spec,
        topics: Topics::new(&identity.id, &spec),
        online: false,
        pending: None,
        conduct: Conduct::default(),
        link: Wire::Idle,
        closing: false,
        inputs: VecDeque::new(),
    };
    let mut actions = Vec::new();
    // One timer per device, moved to each next deadline (an hour on when there is none).
    let timer = tokio::time::sleep_until(shared.epoch);
    tokio::pin!(timer);
    let keep_alive = tokio::time::sleep(wire::KEEP_ALIVE / 2);
    tokio::pin!(keep_alive);
    loop {
        while let Some(input) = session.inputs.pop_front() {
            session.settle(&input);
            device.handle(shared.now(), input, &mut actions);
            for action in actions.drain(..) {
                session.execute(action);
            }
        }
        session.flush().await;
        if !session.inputs.is_empty() {
            continue;
        }
        if device.is_done() {
            break;
        }
        let deadline = device
            .next_deadline()
            .map_or_else(|| Instant::now() + IDLE, |at| shared.epoch + at);
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        let input = tokio::select! {
            () = shared.halt.cancelled() => break,
            () = &mut timer => {
                device.tick(shared.now(), &mut actions);
                for action in actions.drain(..) {
                    session.execute(action);
                }
                continue;
            }
            event = session.link.next() => match event {
                WireEvent::Attempt(attempt) => session.connected(attempt),
                WireEvent::Read(read) => session.read(read),
            },
            () = &mut keep_alive => {
                keep_alive.as_mut().reset(Instant::now() + wire::KEEP_ALIVE / 2);
                session.keep_alive()
            }
        };
        session.inputs.extend(input);
    }
    session.set_online(false);
    if let Wire::Up(connection) = std::mem::replace(&mut session.link, Wire::Idle) {
        connection.close().await;
    }
    let conduct = std::mem::take(&mut session.conduct);
    drop(session);
    DeviceResult {
        id: identity.id,
        acked: device.acked().clone(),
        conduct,
    }
}

/// How far the timer of a device with nothing scheduled is set.
const IDLE: Duration = Duration::from_secs(3600);

/// A device's connection: none, an attempt under way, or open.
enum Wire {
    Idle,
    Connecting(Pin<Box<dyn Future<Output = wire::Attempt> + Send>>),
    Up(Connection),
}

/// What a connection did.
enum WireEvent {
    /// The attempt under way ended.
    Attempt(wire::Attempt),
    /// The open connection read this much (0: closed).
    Read(std::io::Result<usize>),
}

impl Wire {
    /// The next thing the connection does; pending forever when there is none.
    async fn next(&mut self) -> WireEvent {
        match self {
            Self::Connecting(attempt) => WireEvent::Attempt(attempt.await),
            Self::Up(connection) => WireEvent::Read(connection.fill().await),
            Self::Idle => std::future::pending().await,
        }
    }
}

/// The device task's side of one device.
struct Session<'a> {
    shared: &'a Arc<Shared>,
    worker: usize,
    identity: &'a Identity,
    spec: &'a DeviceSpec,
    topics: Topics,
    online: bool,
    /// What the bridge should do with the connect under way.
    pending: Option<Expected>,
    conduct: Conduct,
    link: Wire,
    /// A DISCONNECT is queued: close the connection once it is flushed.
    closing: bool,
    /// Inputs for the device, in order.
    inputs: VecDeque<Input>,
}

/// A device's publish topics, rendered once.
struct Topics {
    events: Arc<str>,
    state: Arc<str>,
}

impl Topics {
    fn new(id: &str, spec: &DeviceSpec) -> Self {
        let subfolder = spec.telemetry.as_ref().and_then(|t| t.subfolder.as_deref());
        Self {
            events: match subfolder {
                Some(sub) => format!("/devices/{id}/events/{sub}").into(),
                None => format!("/devices/{id}/events").into(),
            },
            state: format!("/devices/{id}/state").into(),
        }
    }
}

impl Session<'_> {
    fn execute(&mut self, action: Action) {
        match action {
            Action::Connect(_) => self.connect(),
            Action::Subscribe => {
                if let Wire::Up(connection) = &mut self.link {
                    let id = &self.identity.id;
                    connection.subscribe([
                        format!("/devices/{id}/config"),
                        format!("/devices/{id}/commands/#"),
                    ]);
                }
            }
            Action::Publish(message) => self.publish(message),
            Action::Disconnect => match &mut self.link {
                Wire::Up(connection) => {
                    connection.disconnect();
                    self.closing = true;
                }
                _ => self.inputs.push_back(Input::Down),
            },
            Action::Observe(observation) => {
                record::observe(self, observation);
            }
        }
    }

    fn set_online(&mut self, online: bool) {
        if online != self.online {
            self.online = online;
            self.shared.live.connected(online);
        }
    }

    fn connect(&mut self) {
        self.set_online(false);
        let started = std::time::Instant::now();
        let true_ms = (self.shared.epoch_unix_us / 1000) as i64 + self.shared.now().as_millis() as i64;
        match self.identity.tokens.token(true_ms) {
            Ok(token) => {
                record::signed(self, started.elapsed());
                let expected = self
                    .identity
                    .judge
                    .as_ref()
                    .map_or(Expected::Accept, |judge| judge.expect(&token.token, true_ms));
                self.pending = Some(expected);
                record::attempt(self);
                let client_id = format!("{}{}", self.shared.target.client_id_prefix, self.identity.id);
                let target = Arc::clone(&self.shared.target);
                self.link = Wire::Connecting(Box::pin(wire::connect(
                    target,
                    self.identity.source,
                    client_id,
                    token.token,
                    CONNACK_WITHIN,
                )));
            }
            Err(_) => {
                record::mint_failed(self);
                self.inputs.push_back(Input::Down);
            }
        }
    }

    /// The end of a connect attempt, as the device's input.
    fn connected(&mut self, attempt: wire::Attempt) -> Option<Input> {
        self.link = Wire::Idle;
        match attempt {
            Ok((connection, 0)) => {
                self.link = Wire::Up(connection);
                Some(Input::ConnAck)
            }
            Ok((_, code)) => Some(Input::Refused(code)),
            Err(failure) => {
                record::connect_failed(self, failure.cause());
                Some(Input::Down)
            }
        }
    }

    /// What the open connection read: the packets' inputs, or the end of the connection.
    fn read(&mut self, read: std::io::Result<usize>) -> Option<Input> {
        let Wire::Up(connection) = &mut self.link else {
            return None;
        };
        let ended = match read {
            Ok(0) | Err(_) => true,
            Ok(_) => connection.decode(&mut self.inputs).is_err(),
        };
        ended.then(|| self.drop_link())
    }

    /// Half a keep-alive passed: a PINGREQ when nothing was written in it (so the bridge
    /// never sees more than a keep-alive of silence), the end of the connection when the last
    /// PINGREQ went unanswered.
    fn keep_alive(&mut self) -> Option<Input> {
        let Wire::Up(connection) = &mut self.link else {
            return None;
        };
        if connection.pinging {
            return Some(self.drop_link());
        }
        if !connection.wrote {
            connection.ping();
        }
        connection.wrote = false;
        None
    }

    /// Forgets the connection; the device is told it is down.
    fn drop_link(&mut self) -> Input {
        self.link = Wire::Idle;
        self.closing = false;
        Input::Down
    }

    /// Writes what the turn queued; closes the connection after a DISCONNECT.
    async fn flush(&mut self) {
        let Wire::Up(connection) = &mut self.link else {
            return;
        };
        let written = tokio::time::timeout(WRITE_WITHIN, connection.flush()).await;
        if !matches!(written, Ok(Ok(()))) {
            let input = self.drop_link();
            self.inputs.push_back(input);
            return;
        }
        if self.closing {
            self.closing = false;
            if let Wire::Up(connection) = std::mem::replace(&mut self.link, Wire::Idle) {
                connection.close().await;
            }
            self.inputs.push_back(Input::Down);
        }
    }

    /// Notes how the connect under way ended, if `input` ends it.
    fn settle(&mut self, input: &Input) {
        let outcome = match input {
            Input::ConnAck => Outcome::Accepted,
            Input::Refused(code) => Outcome::Refused(*code),
            Input::Down => Outcome::Dropped,
            _ => return,
        };
        if let Some(expected) = self.pending.take() {
            self.conduct.record(&expected, outcome);
        }
    }

    fn publish(&mut self, message: Message) {
        let Wire::Up(connection) = &mut self.link else {
            record::client_error(self);
            return;
        };
        let stamp = Stamp {
            device: self.identity.id.clone(),
            seq: message.seq,
            intended_us: self.shared.epoch_unix_us + message.intended.as_micros() as u64,
        };
        let (topic, payload) = match (message.kind, &self.spec.telemetry, &self.spec.state) {
            (MessageKind::Telemetry, Some(telemetry), _) => (
                Arc::clone(&self.topics.events),
                payload::encode(telemetry.kind, &stamp, telemetry.payload_bytes),
            ),
            (MessageKind::State, _, Some(state)) => (
                Arc::clone(&self.topics.state),
                payload::state(message.seq, state.bytes),
            ),
            _ => return,
        };
        let qos = if message.qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        if let Some(pkid) = connection.publish(wire::Held { qos, topic, payload }) {
            self.inputs.push_back(Input::Sent(pkid));
        }
    }
}
