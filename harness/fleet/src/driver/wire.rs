//! One device's MQTT 3.1.1 connection, driven by the device's own task: TCP (or TLS over it),
//! CONNECT and CONNACK, then packets written into one buffer and flushed once per turn of the
//! task, and packets read and decoded in place. The codec is rumqttc's (`mqttbytes::v4`); the
//! I/O is ours, so that a paced device costs one task, no channel hop and no allocation per
//! message (BENCHMARKS.md, "Load generator").

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use rumqttc::mqttbytes::v4::{ConnAck, Connect, Login, Packet, PubAck, Subscribe, SubscribeFilter};
use rumqttc::mqttbytes::{self, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

use super::Target;
use crate::device::Input;

/// The largest packet a device takes from the bridge (configs and commands are up to 256 KiB).
const MAX_INCOMING: usize = 300 * 1024;
/// Packets a device keeps unacknowledged at once; more wait for a PUBACK.
pub(super) const INFLIGHT: usize = 100;
/// Keep-alive the devices ask for, in seconds.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// A read buffer larger than this is given back once it is empty.
const KEEP_READ: usize = 4096;

/// TCP, or TLS over it.
pub(super) enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// How a connect attempt ended before its CONNACK, as the counter suffix of
/// `connect_errors.<cause>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// TCP connection refused.
    Refused,
    /// TLS handshake or certificate.
    Tls,
    /// No CONNACK within the limit.
    Timeout,
    /// The peer closed or reset the connection.
    Closed,
    /// Another I/O error.
    Io,
    /// The bridge answered something other than a CONNACK.
    Protocol,
}

impl Failure {
    /// The counter suffix.
    pub(super) fn cause(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Closed => "closed",
            Self::Io => "io",
            Self::Protocol => "other",
        }
    }

    fn of(error: &io::Error) -> Self {
        use io::ErrorKind;
        match error.kind() {
            ErrorKind::ConnectionRefused => Self::Refused,
            ErrorKind::TimedOut => Self::Timeout,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof => {
                Self::Closed
            }
            ErrorKind::InvalidData => Self::Tls,
            _ if error
                .get_ref()
                .is_some_and(|inner| inner.to_string().contains("certificate")) =>
            {
                Self::Tls
            }
            _ => Self::Io,
        }
    }
}

/// A TCP connection to the first of `addrs` that accepts, leaving from `source` where it is of
/// the address's family. The local port is chosen at connect time (`IP_BIND_ADDRESS_NO_PORT`),
/// so a port is shared across destinations, as without a bind.
async fn open(addrs: &[SocketAddr], source: Option<IpAddr>) -> io::Result<TcpStream> {
    let mut last = None;
    for &addr in addrs {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }?;
        if let Some(ip) = source.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
            #[cfg(target_os = "linux")]
            nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::IpBindAddressNoPort, &true)
                .map_err(io::Error::from)?;
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        match socket.connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the bridge has no address")))
}

/// What a connect attempt got: a connection and the CONNACK's return code (0 = accepted).
pub(super) type Attempt = Result<(Connection, u8), Failure>;

/// Connects to `target` from `source` as `client_id` with `password` (the JWT) and waits for
/// the CONNACK, all within `limit`.
pub(super) async fn connect(
    target: Arc<Target>,
    source: Option<IpAddr>,
    client_id: String,
    password: String,
    limit: Duration,
) -> Attempt {
    match tokio::time::timeout(limit, attempt(&target, source, client_id, password)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::Timeout),
    }
}

async fn attempt(target: &Target, source: Option<IpAddr>, client_id: String, password: String) -> Attempt {
    let tcp = open(&target.addrs, source).await.map_err(|e| Failure::of(&e))?;
    let _ = tcp.set_nodelay(true);
    let stream = match &target.tls {
        None => Stream::Tcp(tcp),
        Some(config) => {
            let name = ServerName::try_from(target.host.clone()).map_err(|_| Failure::Tls)?;
            let tls = TlsConnector::from(Arc::clone(config))
                .connect(name, tcp)
                .await
                .map_err(|e| match Failure::of(&e) {
                    Failure::Io | Failure::Protocol => Failure::Tls,
                    other => other,
                })?;
            Stream::Tls(Box::new(tls))
        }
    };
    let mut connection = Connection::new(stream);
    let mut connect = Connect::new(client_id);
    connect.keep_alive = KEEP_ALIVE.as_secs() as u16;
    connect.clean_session = true;
    connect.login = Some(Login::new("unused", password));
    connect
        .write(&mut connection.out)
        .map_err(|_| Failure::Protocol)?;
    connection.flush().await.map_err(|e| Failure::of(&e))?;
    loop {
        match connection.next_packet().map_err(|_| Failure::Protocol)? {
            Some(Packet::ConnAck(ConnAck { code, .. })) => {
                // The enum's discriminants are the wire codes (Success = 0 … NotAuthorized = 5).
                return Ok((connection, code as u8));
            }
            Some(_) => return Err(Failure::Protocol),
            None => {
                if connection.fill().await.map_err(|e| Failure::of(&e))? == 0 {
                    return Err(Failure::Closed);
                }
            }
        }
    }
}

/// An open connection: the stream, what was read and not yet decoded, what is to be written,
/// and the packet ids in flight.
pub(super) struct Connection {
    stream: Stream,
    incoming: BytesMut,
    out: BytesMut,
    /// Packet ids sent and not yet acknowledged (PUBLISH QoS 1 and SUBSCRIBE).
    inflight: Vec<u16>,
    next_pkid: u16,
    /// Publishes waiting for a free place in flight: QoS, topic index, payload.
    held: VecDeque<Held>,
    /// A PINGREQ is unanswered.
    pub(super) pinging: bool,
    /// Something was written since the last keep-alive check.
    pub(super) wrote: bool,
}

/// A publish waiting for a place in flight.
pub(super) struct Held {
    pub(super) qos: QoS,
    pub(super) topic: Arc<str>,
    pub(super) payload: Vec<u8>,
}

impl Connection {
    fn new(stream: Stream) -> Self {
        Self {
            stream,
            incoming: BytesMut::new(),
            out: BytesMut::with_capacity(256),
            inflight: Vec::new(),
            next_pkid: 0,
            held: VecDeque::new(),
            pinging: false,
            wrote: false,
        }
    }

    /// A packet id not in flight.
    fn pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
            if !self.inflight.contains(&self.next_pkid) {
                return self.next_pkid;
            }
        }
    }

    /// Queues a PUBLISH, or holds it while [`INFLIGHT`] packets are unacknowledged; returns
    /// its packet id (0 for QoS 0) once it is queued.
    pub(super) fn publish(&mut self, held: Held) -> Option<u16> {
        if held.qos != QoS::AtMostOnce && (self.inflight.len() >= INFLIGHT || !self.held.is_empty()) {
            self.held.push_back(held);
            return None;
        }
        Some(self.write_publish(&held))
    }

    fn write_publish(&mut self, held: &Held) -> u16 {
        let pkid = match held.qos {
            QoS::AtMostOnce => 0,
            _ => {
                let pkid = self.pkid();
                self.inflight.push(pkid);
                pkid
            }
        };
        put_publish(
            &mut self.out,
            held.qos,
            pkid,
            held.topic.as_bytes(),
            &held.payload,
        );
        self.wrote = true;
        pkid
    }

    /// Queues a SUBSCRIBE of `filters` at QoS 1.
    pub(super) fn subscribe(&mut self, filters: [String; 2]) {
        let pkid = self.pkid();
        self.inflight.push(pkid);
        let subscribe = Subscribe {
            pkid,
            filters: filters
                .into_iter()
                .map(|path| SubscribeFilter::new(path, QoS::AtLeastOnce))
                .collect(),
        };
        let _ = subscribe.write(&mut self.out);
        self.wrote = true;
    }

    /// Queues a PINGREQ.
    pub(super) fn ping(&mut self) {
        let _ = mqttbytes::v4::PingReq.write(&mut self.out);
        self.pinging = true;
    }

    /// Queues a DISCONNECT.
    pub(super) fn disconnect(&mut self) {
        let _ = mqttbytes::v4::Disconnect.write(&mut self.out);
    }

    /// Writes what is queued.
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.stream.write_all(&self.out).await?;
        self.stream.flush().await?;
        self.out.clear();
        Ok(())
    }

    /// Closes the stream (after a DISCONNECT was flushed).
    pub(super) async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }

    /// Reads what the bridge sent; 0 when it closed the connection. Cancel-safe.
    pub(super) async fn fill(&mut self) -> io::Result<usize> {
        if self.incoming.capacity() - self.incoming.len() < 64 {
            self.incoming.reserve(512);
        }
        self.stream.read_buf(&mut self.incoming).await
    }

    fn next_packet(&mut self) -> Result<Option<Packet>, mqttbytes::Error> {
        match Packet::read(&mut self.incoming, MAX_INCOMING) {
            Ok(packet) => {
                if self.incoming.is_empty() && self.incoming.capacity() > KEEP_READ {
                    self.incoming = BytesMut::new();
                }
                Ok(Some(packet))
            }
            Err(mqttbytes::Error::InsufficientBytes(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Decodes every complete packet read into device inputs (answering QoS 1 deliveries with
    /// a PUBACK, and sending held publishes as PUBACKs free their places, each with its
    /// [`Input::Sent`]); `Err` when the bridge broke the protocol.
    pub(super) fn decode(&mut self, inputs: &mut VecDeque<Input>) -> Result<(), mqttbytes::Error> {
        while let Some(packet) = self.next_packet()? {
            match packet {
                Packet::PubAck(ack) => {
                    self.inflight.retain(|id| *id != ack.pkid);
                    inputs.push_back(Input::PubAck(ack.pkid));
                    self.release(inputs);
                }
                Packet::SubAck(ack) => {
                    self.inflight.retain(|id| *id != ack.pkid);
                    self.release(inputs);
                }
                Packet::Publish(publish) => {
                    if publish.qos == QoS::AtLeastOnce {
                        let _ = PubAck::new(publish.pkid).write(&mut self.out);
                    }
                    inputs.push_back(if publish.topic.contains("/commands") {
                        Input::Command
                    } else {
                        Input::Config
                    });
                }
                Packet::PingResp => self.pinging = false,
                Packet::Disconnect => return Err(mqttbytes::Error::IncorrectPacketFormat),
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends held publishes once half the window is acknowledged, up to a full window: a device
    /// with a backlog writes them in batches (one TLS record and syscall for many) rather than
    /// one per PUBACK.
    fn release(&mut self, inputs: &mut VecDeque<Input>) {
        if self.held.is_empty() || self.inflight.len() > INFLIGHT / 2 {
            return;
        }
        while self.inflight.len() < INFLIGHT {
            let Some(held) = self.held.pop_front() else {
                return;
            };
            let pkid = self.write_publish(&held);
            inputs.push_back(Input::Sent(pkid));
        }
    }
}

/// Writes a PUBLISH (packet id 0 for QoS 0) without building a packet first.
fn put_publish(out: &mut BytesMut, qos: QoS, pkid: u16, topic: &[u8], payload: &[u8]) {
    let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    out.put_u8(0x30 | ((qos as u8) << 1));
    put_remaining_length(out, 2 + topic.len() + id_len + payload.len());
    out.put_u16(topic.len() as u16);
    out.put_slice(topic);
    if id_len > 0 {
        out.put_u16(pkid);
    }
    out.put_slice(payload);
}

fn put_remaining_length(out: &mut BytesMut, mut length: usize) {
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if length == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_written_publish_decodes_as_the_codec_writes_it() {
        for (qos, payload_len) in [(QoS::AtLeastOnce, 100), (QoS::AtMostOnce, 20_000)] {
            let mut out = BytesMut::new();
            put_publish(&mut out, qos, 7, b"/devices/pi-1/events", &vec![42; payload_len]);
            let Packet::Publish(publish) = Packet::read(&mut out, MAX_INCOMING).unwrap() else {
                panic!("not a publish");
            };
            assert_eq!(publish.topic, "/devices/pi-1/events");
            assert_eq!(publish.qos, qos);
            assert_eq!(publish.pkid, if qos == QoS::AtMostOnce { 0 } else { 7 });
            assert_eq!(publish.payload.len(), payload_len);
            assert!(out.is_empty());
        }
    }
}
