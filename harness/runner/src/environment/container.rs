//! `pubsub = "container"`: Google's Pub/Sub emulator started in Docker with testcontainers
//! (`testcontainers-modules`' Google Cloud SDK image), ready once it answers a gRPC call, and
//! removed when the run ends.

use std::time::{Duration, Instant};

use testcontainers::ContainerAsync;
use testcontainers::runners::AsyncRunner;
use testcontainers_modules::google_cloud_sdk_emulators::{CloudSdk, PUBSUB_PORT};

use crate::forwarders::ExternalPubsub;

/// How long the emulator has to answer once its container logged that it started.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// The running container and its emulator's `host:port`.
pub(super) struct PubsubContainer {
    container: ContainerAsync<CloudSdk>,
    /// `host:port` of the emulator's gRPC port on this machine.
    pub(super) address: String,
    /// A client of it.
    pub(super) client: ExternalPubsub,
}

impl PubsubContainer {
    /// Starts the emulator's container and waits until it answers; every failure says what
    /// was tried and what to do instead.
    pub(super) async fn start() -> Result<Self, String> {
        if let Some(missing) = no_daemon() {
            return Err(missing);
        }
        let container = CloudSdk::pubsub().start().await.map_err(|e| {
            format!("pubsub = \"container\": Docker could not start Google's emulator ({e}); check `docker run google/cloud-sdk:362.0.0-emulators` works here")
        })?;
        let port = container.get_host_port_ipv4(PUBSUB_PORT).await.map_err(|e| {
            format!("pubsub = \"container\": the emulator's port {PUBSUB_PORT} is not published ({e})")
        })?;
        let host = container
            .get_host()
            .await
            .map_err(|e| format!("pubsub = \"container\": the Docker host has no address ({e})"))?;
        let address = format!("{host}:{port}");
        let client = ready(&address).await?;
        Ok(Self {
            container,
            address,
            client,
        })
    }

    /// Removes the container.
    pub(super) async fn remove(self) {
        let _ = self.container.rm().await;
    }
}

/// Why no Docker daemon can be reached, when `DOCKER_HOST` is unset and the default socket
/// does not answer; `None` when one may.
fn no_daemon() -> Option<String> {
    if std::env::var_os("DOCKER_HOST").is_some() {
        return None;
    }
    let socket = "/var/run/docker.sock";
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "pubsub = \"container\" needs a Docker daemon, and none answers at {socket} ({e}) and DOCKER_HOST is unset; start Docker, or run Google's emulator yourself (docker-compose.yml's `pubsub` service) and name it with pubsub = {{ emulator = \"localhost:8085\" }}"
        )),
    }
}

/// Connects once the emulator answers a call (listing topics), within [`READY_WITHIN`].
async fn ready(address: &str) -> Result<ExternalPubsub, String> {
    let deadline = Instant::now() + READY_WITHIN;
    let mut last = String::new();
    while Instant::now() < deadline {
        match ExternalPubsub::connect(address).await {
            Ok(client) => match client.answers("fleetgate-readiness").await {
                Ok(()) => return Ok(client),
                Err(e) => last = e,
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!(
        "pubsub = \"container\": the emulator at {address} did not answer within {} s ({last})",
        READY_WITHIN.as_secs()
    ))
}
