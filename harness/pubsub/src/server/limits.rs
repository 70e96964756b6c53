//! Bounds on an HTTP listener, used by every HTTP port fleetgate opens (the Pub/Sub port, the
//! admin API, the HTTP device bridge): at most [`Limits::max_connections`] connections open at
//! once (one over it is closed as soon as it is accepted), and a connection that moves no byte
//! either way for [`Limits::idle`] is closed. Idle sockets can then neither pile up until the
//! process runs out of file descriptors nor lock out the devices under test.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// How many connections a listener keeps and how long one may stay silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a connection may move no byte before it is closed.
    pub idle: Duration,
}

impl Limits {
    /// The Pub/Sub port: 1,024 connections; 10 min idle, beyond any streaming pull's quiet spell
    /// in a run (Google's own streams are closed by the server after about 30 min).
    pub const PUBSUB: Self = Self {
        max_connections: 1024,
        idle: Duration::from_secs(600),
    };
    /// The admin API: 64 connections, 60 s idle.
    pub const ADMIN: Self = Self {
        max_connections: 64,
        idle: Duration::from_secs(60),
    };
    /// The HTTP device bridge: 1,024 connections (real Pis and load), 60 s idle.
    pub const HTTP_BRIDGE: Self = Self {
        max_connections: 1024,
        idle: Duration::from_secs(60),
    };
}

/// A listener with [`Limits`].
pub struct Limited<L> {
    inner: L,
    idle: Duration,
    open: Arc<Semaphore>,
}

impl<L> Limited<L> {
    /// `inner` within `limits`.
    pub fn new(inner: L, limits: Limits) -> Self {
        Self {
            inner,
            idle: limits.idle,
            open: Arc::new(Semaphore::new(limits.max_connections)),
        }
    }
}

impl<L: Listener> Listener for Limited<L> {
    type Io = Idle<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if let Ok(permit) = Arc::clone(&self.open).try_acquire_owned() {
                return (Idle::new(io, self.idle, permit), addr);
            }
            // Over the cap: dropping the stream closes it at once.
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection closed after `idle` without a byte read or written; it holds its listener's
/// connection slot until dropped.
pub struct Idle<T> {
    io: T,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl<T> Idle<T> {
    fn new(io: T, idle: Duration, slot: OwnedSemaphorePermit) -> Self {
        Self {
            io,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            _slot: slot,
        }
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.idle;
        self.timer.as_mut().reset(next);
    }

    /// `Pending` from the stream: an error instead once the connection has been idle too long.
    fn pending<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no byte for {:?}: idle connection closed", self.idle),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Idle<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Idle<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_closed_after_the_idle_time_and_a_busy_one_is_not() {
        let slots = Arc::new(Semaphore::new(1));
        let (near, far) = tokio::io::duplex(64);
        let mut idle = Idle::new(far, Duration::from_secs(60), slots.try_acquire_owned().unwrap());
        let mut near = near;
        let mut byte = [0u8; 1];
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(59)).await;
            near.write_all(b"x").await.unwrap();
            idle.read_exact(&mut byte).await.unwrap();
        }
        let error = idle.read_exact(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_a_freed_slot_is_reused() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let limits = Limits {
            max_connections: 2,
            idle: Duration::from_secs(3600),
        };
        let mut listener = Limited::new(tcp, limits);
        let first = TcpStream::connect(addr).await.unwrap();
        let (held_1, _) = listener.accept().await;
        let _second = TcpStream::connect(addr).await.unwrap();
        let (_held_2, _) = listener.accept().await;
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        tokio::select! {
            _ = listener.accept() => panic!("both slots are taken"),
            read = third.read(&mut byte) => assert_eq!(read.unwrap(), 0, "the connection over the cap is closed"),
        }
        drop((first, held_1));
        let _fourth = TcpStream::connect(addr).await.unwrap();
        let (_held_4, _) = listener.accept().await;
    }
}
