//! The network front of the emulator: one listener serving gRPC (`google.pubsub.v1`) and REST
//! (`/v1/...` JSON) side by side, as Google's emulator does. Requests with content type
//! `application/grpc` go to [`grpc`], everything else to [`rest`].
//!
//! - [`grpc`]: Publisher and Subscriber, routed on tonic's server API.
//! - [`streaming`]: the `StreamingPull` driver.
//! - [`limits`]: connection caps and idle timeouts, for this and every HTTP listener.
//! - [`rest`]: the REST v1 routes; [`json`]: their JSON forms; [`snapshots`]: the REST
//!   routes and JSON forms of snapshots and seek.
//!
//! Both transports accept requests up to [`TRANSPORT_LIMIT`] (tonic's default is 4 MiB, axum's
//! 2 MB), so that Google's 10 MB limits are the ones clients meet, answered as Google does.

pub mod grpc;
pub mod json;
pub mod limits;
pub mod rest;
pub mod snapshots;
pub mod streaming;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::emulator::{Emulator, EmulatorConfig};

/// Serves `emulator` on `listener` until `shutdown` completes; then ends push delivery and
/// streaming pulls and returns once open connections are closed.
pub async fn run(
    listener: TcpListener,
    emulator: Emulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(emulator.clone());
    let stop = emulator.clone();
    axum::serve(limits::Limited::new(listener, limits::Limits::PUBSUB), app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop.shutdown();
        })
        .await
}

/// The largest request either transport reads: room for a 10 MB publish in base64 JSON (4/3 of
/// it) with margin. Larger requests are refused with `INVALID_ARGUMENT` without being read.
pub const TRANSPORT_LIMIT: usize = 64 << 20;

/// The router serving gRPC and REST.
pub fn router(emulator: Emulator) -> Router {
    rest::routes()
        .merge(snapshots::routes())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(TRANSPORT_LIMIT))
        .with_state(emulator)
}

async fn fallback(State(emulator): State<Emulator>, request: Request) -> Response {
    if is_grpc(&request) {
        grpc::serve(emulator, request).await.into_response()
    } else {
        rest::not_found(request.uri().path())
    }
}

fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// A running emulator started by [`start`].
#[derive(Debug)]
pub struct EmulatorHandle {
    emulator: Emulator,
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl EmulatorHandle {
    /// The address it listens on; `PUBSUB_EMULATOR_HOST` for clients.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The in-process emulator (publish, subscriptions, pulls without the network).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops serving and waits for the server to finish.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.emulator.shutdown();
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join)),
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.emulator.shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` (`127.0.0.1:0` for any free port) and serves a new emulator on it.
pub async fn start(addr: SocketAddr, config: EmulatorConfig) -> io::Result<EmulatorHandle> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let emulator = Emulator::new(config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, emulator.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(EmulatorHandle {
        emulator,
        local_addr,
        stop: Some(stop),
        task,
    })
}
