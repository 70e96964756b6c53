//! Drives one [`Device`] over a real MQTT connection with rumqttc: a device task owns the state
//! machine, its timers and the client handle; an event-loop task owns rumqttc's event loop and
//! turns what it sees into [`Input`]s. The event loop connects only when told to, with the
//! freshly minted JWT the device task hands it, so refreshes and backoff stay the machine's
//! decisions.

pub mod conduct;
mod events;
mod record;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fleetgate_identity::Alg;
use fleetgate_metrics::Shards;
use rumqttc::{AsyncClient, MqttOptions, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::rustls::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::device::{Action, Device, DeviceSpec, Input, Message, MessageKind};
use crate::payload::{self, Stamp};
use crate::tally::SeqSet;
use conduct::{Conduct, Expected, Judge, Outcome, TokenSource};
pub use record::{Live, LiveReading, Scope};

/// Where the devices connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// MQTT port.
    pub port: u16,
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
}

/// What every device task shares.
#[derive(Debug)]
pub struct Shared {
    /// Where to connect.
    pub target: Target,
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
            target,
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

/// Runs `device` until it is done, as worker `worker` (which metrics shard it records into).
pub async fn run_device(
    shared: Arc<Shared>,
    worker: usize,
    identity: Identity,
    mut device: Device,
) -> DeviceResult {
    let spec = Arc::clone(device.spec());
    let options = options(&shared.target, &identity.id);
    let (client, eventloop) = AsyncClient::new(options, spec.queue_limit + 1024);
    let (inputs_tx, mut inputs) = mpsc::unbounded_channel();
    let (passwords, passwords_rx) = mpsc::unbounded_channel();
    let loop_task = tokio::spawn(events::pump(
        eventloop,
        inputs_tx.clone(),
        passwords_rx,
        Arc::clone(&shared),
        worker,
    ));
    let mut session = Session {
        shared: &shared,
        worker,
        identity: &identity,
        spec: &spec,
        client: &client,
        passwords: &passwords,
        inputs: &inputs_tx,
        topics: Topics::new(&identity.id, &spec),
        online: false,
        pending: None,
        conduct: Conduct::default(),
    };
    let mut actions = Vec::new();
    // One timer per device, moved to each next deadline (an hour on when there is none).
    let timer = tokio::time::sleep_until(shared.epoch);
    tokio::pin!(timer);
    while !device.is_done() {
        let deadline = device
            .next_deadline()
            .map_or_else(|| Instant::now() + IDLE, |at| shared.epoch + at);
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        tokio::select! {
            () = shared.halt.cancelled() => break,
            input = inputs.recv() => match input {
                Some(input) => {
                    session.settle(&input);
                    device.handle(shared.now(), input, &mut actions);
                }
                None => break,
            },
            () = &mut timer => device.tick(shared.now(), &mut actions),
        }
        for action in actions.drain(..) {
            session.execute(action);
        }
    }
    session.set_online(false);
    let conduct = std::mem::take(&mut session.conduct);
    drop(session);
    drop(passwords);
    loop_task.abort();
    DeviceResult {
        id: identity.id,
        acked: device.acked().clone(),
        conduct,
    }
}

/// How far the timer of a device with nothing scheduled is set.
const IDLE: Duration = Duration::from_secs(3600);

fn options(target: &Target, id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(
        format!("{}{id}", target.client_id_prefix),
        &target.host,
        target.port,
    );
    options
        .set_keep_alive(Duration::from_secs(60))
        .set_clean_session(true)
        .set_max_packet_size(300 * 1024, 300 * 1024)
        .set_inflight(100);
    if let Some(tls) = &target.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::clone(
            tls,
        ))));
    }
    options
}

/// The device task's side of one device.
struct Session<'a> {
    shared: &'a Shared,
    worker: usize,
    identity: &'a Identity,
    spec: &'a DeviceSpec,
    client: &'a AsyncClient,
    passwords: &'a mpsc::UnboundedSender<String>,
    inputs: &'a mpsc::UnboundedSender<Input>,
    topics: Topics,
    online: bool,
    /// What the bridge should do with the connect under way.
    pending: Option<Expected>,
    conduct: Conduct,
}

/// A device's publish topics, rendered once.
struct Topics {
    events: String,
    state: String,
}

impl Topics {
    fn new(id: &str, spec: &DeviceSpec) -> Self {
        let subfolder = spec.telemetry.as_ref().and_then(|t| t.subfolder.as_deref());
        Self {
            events: match subfolder {
                Some(sub) => format!("/devices/{id}/events/{sub}"),
                None => format!("/devices/{id}/events"),
            },
            state: format!("/devices/{id}/state"),
        }
    }
}

impl Session<'_> {
    fn execute(&mut self, action: Action) {
        match action {
            Action::Connect(_) => self.connect(),
            Action::Subscribe => {
                let id = &self.identity.id;
                let _ = self
                    .client
                    .try_subscribe(format!("/devices/{id}/config"), QoS::AtLeastOnce);
                let _ = self
                    .client
                    .try_subscribe(format!("/devices/{id}/commands/#"), QoS::AtLeastOnce);
            }
            Action::Publish(message) => self.publish(message),
            Action::Disconnect => {
                let _ = self.client.try_disconnect();
            }
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
                let _ = self.passwords.send(token.token);
            }
            Err(_) => {
                record::mint_failed(self);
                let _ = self.inputs.send(Input::Down);
            }
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
        let id = &self.identity.id;
        let topics = &self.topics;
        let stamp = Stamp {
            device: id.clone(),
            seq: message.seq,
            intended_us: self.shared.epoch_unix_us + message.intended.as_micros() as u64,
        };
        let (topic, bytes) = match (message.kind, &self.spec.telemetry, &self.spec.state) {
            (MessageKind::Telemetry, Some(telemetry), _) => (
                topics.events.clone(),
                payload::encode(telemetry.kind, &stamp, telemetry.payload_bytes),
            ),
            (MessageKind::State, _, Some(state)) => {
                (topics.state.clone(), payload::state(message.seq, state.bytes))
            }
            _ => return,
        };
        let qos = if message.qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        if self.client.try_publish(topic, qos, false, bytes).is_err() {
            record::client_error(self);
        }
    }
}
