//! The virtual Pi as a sans-I/O state machine. It owns every decision (when to connect, what
//! to publish, what to queue, when to refresh the token, how long to back off) and no socket:
//! its driver feeds it what the MQTT client saw ([`Input`]) and the time, and carries out the
//! [`Action`]s it returns. Time is a [`Duration`] since the start of the run.
//!
//! Messages are tracked from the moment they are due until their PUBACK: handed to the client
//! (`requested`, in order), on the wire (`inflight`, by packet id), or queued while offline. A
//! lost connection puts everything unacknowledged back into the queue in sequence order, so
//! nothing is silently lost; a full queue drops its oldest message and says so.

mod spec;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

pub use spec::{DeviceSpec, StateSpec, TelemetrySpec, TokenPolicy, Window};

use crate::rng::Rng;
use crate::schedule::{ScheduleKind, Ticker};
use crate::tally::SeqSet;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Telemetry (`/devices/{id}/events[/subfolder]`).
    Telemetry,
    /// A state update (`/devices/{id}/state`).
    State,
}

/// One message the device wants delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// What it is.
    pub kind: MessageKind,
    /// Its sequence number (per kind, from 0).
    pub seq: u64,
    /// When it was meant to be sent.
    pub intended: Duration,
    /// MQTT QoS.
    pub qos: u8,
}

/// What the MQTT client saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// CONNACK accepted.
    ConnAck,
    /// CONNACK refused with this return code.
    Refused(u8),
    /// The connection is gone (closed by either side, or never made).
    Down,
    /// A PUBLISH went on the wire with this packet id (0 for QoS 0).
    Sent(u16),
    /// The client holds a PUBLISH back because its packet id is still in flight.
    AwaitAck(u16),
    /// PUBACK for this packet id.
    PubAck(u16),
    /// A config message arrived.
    Config,
    /// A command arrived.
    Command,
}

/// Why a device connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectReason {
    /// The start of an up-time window.
    Start,
    /// After a refusal or a lost connection, once the backoff elapsed.
    Retry,
    /// Token refresh.
    Refresh,
    /// Deliberate churn.
    Churn,
}

/// What the device makes its driver do, or tells the metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Mint a fresh JWT and connect.
    Connect(ConnectReason),
    /// Subscribe to the config and commands topics.
    Subscribe,
    /// Publish this message.
    Publish(Message),
    /// Close the connection (DISCONNECT).
    Disconnect,
    /// Something to measure.
    Observe(Observation),
}

/// Something measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation {
    /// A CONNACK accepted, `latency` after the intended connect time.
    Connected {
        /// Why the device connected.
        reason: ConnectReason,
        /// Intended connect time to CONNACK.
        latency: Duration,
    },
    /// A CONNACK refused.
    Refused(u8),
    /// A connection lost that the device did not close.
    ConnectionLost,
    /// A message went on the wire.
    Sent(MessageKind),
    /// A telemetry PUBACK: from the intended send time and from the actual send.
    Acked {
        /// Intended send time to PUBACK.
        from_intended: Duration,
        /// Actual send to PUBACK.
        from_sent: Duration,
    },
    /// Messages the full offline queue dropped.
    Dropped(u64),
    /// Messages on the wire when their connection ended without a PUBACK (they are resent).
    Unconfirmed(u64),
    /// Messages still unacknowledged when the device stopped for good.
    Unacked(u64),
    /// A config message arrived.
    Config,
    /// A command arrived.
    Command,
}

/// The connection as the device sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Link {
    /// Outside an up-time window.
    Idle,
    /// Backing off until the given time.
    Waiting(Duration),
    /// CONNECT sent, waiting for CONNACK.
    Connecting {
        intended: Duration,
        reason: ConnectReason,
    },
    /// Connected.
    Online,
    /// DISCONNECT requested; reconnect (or not) when the connection is down.
    Closing(Closing),
}

/// Why the device is closing its connection.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Closing {
    Refresh,
    Churn,
    Stop,
}

/// One virtual Pi.
#[derive(Debug)]
pub struct Device {
    spec: Arc<DeviceSpec>,
    rng: Rng,
    windows: VecDeque<Window>,
    in_window: bool,
    link: Link,
    failures: u32,
    telemetry: Option<Ticker>,
    state: Option<Ticker>,
    refresh_at: Option<Duration>,
    churn_at: Option<Duration>,
    drain_until: Option<Duration>,
    seqs: [u64; 2],
    queue: VecDeque<Message>,
    requested: VecDeque<Message>,
    collided: Option<(u16, Message)>,
    inflight: HashMap<u16, (Message, Duration)>,
    acked: SeqSet,
}

impl Device {
    /// A device following `spec`, up during `windows` (in time order), random choices from `rng`.
    pub fn new(spec: Arc<DeviceSpec>, windows: Vec<Window>, rng: Rng) -> Self {
        Self {
            spec,
            rng,
            windows: windows.into(),
            in_window: false,
            link: Link::Idle,
            failures: 0,
            telemetry: None,
            state: None,
            refresh_at: None,
            churn_at: None,
            drain_until: None,
            seqs: [0; 2],
            queue: VecDeque::new(),
            requested: VecDeque::new(),
            collided: None,
            inflight: HashMap::new(),
            acked: SeqSet::default(),
        }
    }

    /// What the device does.
    pub fn spec(&self) -> &Arc<DeviceSpec> {
        &self.spec
    }

    /// The telemetry sequence numbers acknowledged (or, at QoS 0, sent) so far.
    pub fn acked(&self) -> &SeqSet {
        &self.acked
    }

    /// Whether the device has nothing left to do: every window is over and it is offline.
    pub fn is_done(&self) -> bool {
        self.windows.is_empty() && self.link == Link::Idle
    }

    /// Whether the device is connected.
    pub fn is_online(&self) -> bool {
        matches!(self.link, Link::Online | Link::Closing(_))
    }

    /// The next time [`Device::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        let mut consider = |t: Option<Duration>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        let window = self.windows.front();
        consider(window.map(|w| if self.in_window { w.stop } else { w.start }));
        if self.in_window {
            consider(self.telemetry.as_ref().map(Ticker::next));
            consider(self.state.as_ref().map(Ticker::next));
        }
        if let Link::Waiting(at) = self.link {
            consider(Some(at));
        }
        if self.link == Link::Online {
            consider(self.refresh_at);
            consider(self.churn_at);
        }
        if matches!(self.link, Link::Online | Link::Waiting(_)) {
            consider(self.drain_until);
        }
        next
    }

    /// Does whatever is due at `now`.
    pub fn tick(&mut self, now: Duration, out: &mut Vec<Action>) {
        if let Some(window) = self.windows.front().copied() {
            if !self.in_window && now >= window.start {
                self.open_window(window, out);
            }
            if self.in_window && now >= window.stop {
                self.close_window(now, out);
            }
        }
        self.produce(now, out);
        match self.link {
            Link::Waiting(at) if now >= at => self.connect(at, ConnectReason::Retry, out),
            Link::Online if self.refresh_at.is_some_and(|t| now >= t) => {
                self.close(Closing::Refresh, out);
            }
            Link::Online if self.churn_at.is_some_and(|t| now >= t) => self.close(Closing::Churn, out),
            _ => {}
        }
        if self.drain_expired(now) {
            match self.link {
                Link::Online => self.close(Closing::Stop, out),
                Link::Waiting(_) => {
                    self.link = Link::Idle;
                    self.finish(out);
                }
                _ => {}
            }
        }
    }

    /// Takes what the MQTT client saw at `now`.
    pub fn handle(&mut self, now: Duration, input: Input, out: &mut Vec<Action>) {
        match input {
            Input::ConnAck => self.online(now, out),
            Input::Refused(code) => {
                out.push(Action::Observe(Observation::Refused(code)));
                self.requeue(out);
                self.back_off(now, out);
            }
            Input::Down => self.down(now, out),
            Input::Sent(pkid) => self.sent(now, pkid, out),
            Input::AwaitAck(pkid) => {
                if let Some(message) = self.requested.pop_front() {
                    self.collided = Some((pkid, message));
                }
            }
            Input::PubAck(pkid) => self.puback(now, pkid, out),
            Input::Config => out.push(Action::Observe(Observation::Config)),
            Input::Command => out.push(Action::Observe(Observation::Command)),
        }
    }

    fn drain_expired(&self, now: Duration) -> bool {
        !self.in_window && self.drain_until.is_some_and(|t| now >= t)
    }

    fn open_window(&mut self, window: Window, out: &mut Vec<Action>) {
        self.in_window = true;
        self.drain_until = None;
        let spec = Arc::clone(&self.spec);
        self.telemetry = spec
            .telemetry
            .as_ref()
            .map(|t| Ticker::new(t.every, t.schedule, window.start, &mut self.rng));
        self.state = spec
            .state
            .map(|s| Ticker::new(s.every, ScheduleKind::Fixed, window.start, &mut self.rng));
        if self.link == Link::Idle {
            self.failures = 0;
            self.connect(window.start, ConnectReason::Start, out);
        }
    }

    fn close_window(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.windows.pop_front();
        self.in_window = false;
        self.telemetry = None;
        self.state = None;
        match self.link {
            Link::Online if self.unacked() == 0 => self.close(Closing::Stop, out),
            Link::Waiting(_) => {
                self.link = Link::Idle;
                self.finish(out);
            }
            Link::Closing(_) => self.link = Link::Closing(Closing::Stop),
            Link::Online | Link::Connecting { .. } => {
                self.drain_until = Some(now + self.spec.drain_timeout);
            }
            Link::Idle => {}
        }
    }

    /// Creates every message due by `now`.
    fn produce(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !self.in_window {
            return;
        }
        let qos = self.spec.telemetry.as_ref().map_or(1, |t| t.qos);
        while let Some(ticker) = self.telemetry.as_mut().filter(|t| t.next() <= now) {
            let intended = ticker.advance(&mut self.rng);
            self.emit(MessageKind::Telemetry, intended, qos, out);
            if self.sent_all() {
                self.telemetry = None;
            }
        }
        while let Some(ticker) = self.state.as_mut().filter(|t| t.next() <= now) {
            let intended = ticker.advance(&mut self.rng);
            self.emit(MessageKind::State, intended, 1, out);
        }
    }

    fn emit(&mut self, kind: MessageKind, intended: Duration, qos: u8, out: &mut Vec<Action>) {
        let counter = &mut self.seqs[kind as usize];
        let message = Message {
            kind,
            seq: *counter,
            intended,
            qos,
        };
        *counter += 1;
        if self.link == Link::Online {
            self.requested.push_back(message);
            out.push(Action::Publish(message));
        } else {
            self.enqueue(message, out);
        }
    }

    fn enqueue(&mut self, message: Message, out: &mut Vec<Action>) {
        self.queue.push_back(message);
        let excess = self.queue.len().saturating_sub(self.spec.queue_limit);
        if excess > 0 {
            self.queue.drain(..excess);
            out.push(Action::Observe(Observation::Dropped(excess as u64)));
        }
    }

    fn connect(&mut self, intended: Duration, reason: ConnectReason, out: &mut Vec<Action>) {
        self.link = Link::Connecting { intended, reason };
        out.push(Action::Connect(reason));
    }

    fn close(&mut self, why: Closing, out: &mut Vec<Action>) {
        self.link = Link::Closing(why);
        self.refresh_at = None;
        self.churn_at = None;
        out.push(Action::Disconnect);
    }

    fn online(&mut self, now: Duration, out: &mut Vec<Action>) {
        let Link::Connecting { intended, reason } = self.link else {
            return;
        };
        self.link = Link::Online;
        self.failures = 0;
        let latency = now.saturating_sub(intended);
        out.push(Action::Observe(Observation::Connected { reason, latency }));
        out.push(Action::Subscribe);
        let token = self.spec.token;
        self.refresh_at = Some(now + token.lifetime.mul_f64(token.refresh_at.clamp(0.01, 1.0)));
        let churn = self
            .windows
            .front()
            .filter(|_| self.in_window)
            .map_or(0.0, |w| w.churn_per_min);
        self.churn_at = (churn > 0.0).then(|| {
            let mean = 60.0 / churn;
            now + Duration::from_secs_f64(-(1.0 - self.rng.unit()).ln() * mean)
        });
        for message in std::mem::take(&mut self.queue) {
            self.requested.push_back(message);
            out.push(Action::Publish(message));
        }
        if !self.in_window && (self.unacked() == 0 || self.drain_expired(now)) {
            self.close(Closing::Stop, out);
        }
    }

    fn down(&mut self, now: Duration, out: &mut Vec<Action>) {
        let link = self.link;
        self.requeue(out);
        self.refresh_at = None;
        self.churn_at = None;
        match link {
            Link::Closing(why) if self.in_window => {
                let reason = match why {
                    Closing::Refresh => ConnectReason::Refresh,
                    Closing::Churn => ConnectReason::Churn,
                    Closing::Stop => ConnectReason::Start,
                };
                self.connect(now, reason, out);
            }
            Link::Closing(_) | Link::Idle => {
                self.link = Link::Idle;
                self.finish(out);
            }
            Link::Online => {
                out.push(Action::Observe(Observation::ConnectionLost));
                self.back_off(now, out);
            }
            Link::Connecting { .. } | Link::Waiting(_) => self.back_off(now, out),
        }
    }

    fn back_off(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !self.in_window && (self.unacked() == 0 || self.drain_expired(now)) {
            self.link = Link::Idle;
            self.finish(out);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let wait = self.spec.backoff.delay(self.failures, &mut self.rng);
        self.link = Link::Waiting(now + wait);
    }

    /// After the last window, reports what was never acknowledged.
    fn finish(&mut self, out: &mut Vec<Action>) {
        self.drain_until = None;
        if self.windows.is_empty() && !self.queue.is_empty() {
            out.push(Action::Observe(Observation::Unacked(self.queue.len() as u64)));
            self.queue.clear();
        }
    }

    /// Puts every unacknowledged message back into the queue, in sequence order.
    fn requeue(&mut self, out: &mut Vec<Action>) {
        let mut back: Vec<Message> = self.inflight.drain().map(|(_, (m, _))| m).collect();
        if !back.is_empty() {
            out.push(Action::Observe(Observation::Unconfirmed(back.len() as u64)));
        }
        back.extend(self.collided.take().map(|(_, m)| m));
        back.extend(self.requested.drain(..));
        if back.is_empty() {
            return;
        }
        back.extend(self.queue.drain(..));
        back.sort_by_key(|m| (m.kind as u8, m.seq));
        for message in back {
            self.enqueue(message, out);
        }
    }

    fn unacked(&self) -> usize {
        self.queue.len() + self.requested.len() + self.inflight.len() + usize::from(self.collided.is_some())
    }

    fn sent(&mut self, now: Duration, pkid: u16, out: &mut Vec<Action>) {
        let message = match self.collided.take() {
            Some((held, message)) if held == pkid => message,
            other => {
                self.collided = other;
                match self.requested.pop_front() {
                    Some(message) => message,
                    None => return,
                }
            }
        };
        out.push(Action::Observe(Observation::Sent(message.kind)));
        if message.qos == 0 {
            if message.kind == MessageKind::Telemetry {
                self.acked.insert(message.seq);
            }
            self.after_ack(out);
        } else {
            self.inflight.insert(pkid, (message, now));
        }
    }

    fn puback(&mut self, now: Duration, pkid: u16, out: &mut Vec<Action>) {
        let Some((message, sent)) = self.inflight.remove(&pkid) else {
            return;
        };
        if message.kind == MessageKind::Telemetry {
            self.acked.insert(message.seq);
            out.push(Action::Observe(Observation::Acked {
                from_intended: now.saturating_sub(message.intended),
                from_sent: now.saturating_sub(sent),
            }));
        }
        self.after_ack(out);
    }

    /// Whether the device has produced its whole telemetry count.
    fn sent_all(&self) -> bool {
        let count = self.spec.telemetry.as_ref().and_then(|t| t.count);
        count.is_some_and(|c| self.seqs[MessageKind::Telemetry as usize] >= c)
    }

    /// A draining device closes once everything is acknowledged; so does one that has sent its
    /// whole count, for good.
    fn after_ack(&mut self, out: &mut Vec<Action>) {
        if self.sent_all() && self.unacked() == 0 && self.link == Link::Online {
            self.windows.clear();
            self.in_window = false;
            self.state = None;
            self.close(Closing::Stop, out);
            return;
        }
        if self.drain_until.is_some() && self.unacked() == 0 && self.link == Link::Online {
            self.drain_until = None;
            self.close(Closing::Stop, out);
        }
    }
}
