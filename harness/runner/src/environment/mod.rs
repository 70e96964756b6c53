//! Starting a scenario's environment: Pub/Sub (embedded, an emulator at `host:port`, or Google's
//! emulator in a Docker container, `container`), the
//! embedded bridge with its registry, admin API and HTTP bridge, and every device the scenario
//! registers (cohorts with generated keys, `[[device]]` entries with their key files). The CA
//! and generated private keys are written to the run's output folder; [`faults`] runs the
//! scenario's fault schedule against the bridge.

mod container;
mod devices;
pub mod faults;
mod pubsub;
pub mod push;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fleetgate_bridge::admin::{self, Admin};
use fleetgate_bridge::clock::Clock;
use fleetgate_bridge::events::Recorded;
use fleetgate_bridge::forward::Routing;
use fleetgate_bridge::http_bridge::{self, HttpBridge};
use fleetgate_bridge::profile::Profile;
use fleetgate_bridge::registry::{RegistrySettings, Store};
use fleetgate_bridge::safety::SafetyChecks;
pub use fleetgate_bridge::server::Observe;
use fleetgate_bridge::session::RegistryPath;
use fleetgate_bridge::tls::TlsMaterial;
use fleetgate_bridge::tls_listener::TlsListener;
use fleetgate_bridge::{Bridge, BridgeConfig, DeviceRegistry};
use fleetgate_pubsub::server::limits::{Limited, Limits};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{BridgeTarget, Profile as ScenarioProfile};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use devices::{CohortKeys, FaultyRegistration, RegisteredDevices};
use fleetgate_fleet::shard::Shard;
pub use pubsub::PubsubEnv;
pub use pubsub::subscription_suffix;
pub use push::PushEnv;

/// Where the environment listens and writes.
#[derive(Clone)]
pub struct EnvironmentOptions {
    /// The bridge's MQTT address (`127.0.0.1:0` for an ephemeral port).
    pub listen: SocketAddr,
    /// The run's output folder: `ca.pem` and generated keys go here.
    pub out_dir: PathBuf,
    /// The scenario file's folder: relative paths in the scenario start here.
    pub scenario_dir: PathBuf,
    /// Told `(cohort, keys done, keys total)` while cohort keys are generated (RSA keys cost
    /// tens of milliseconds each).
    pub key_progress: KeyProgress,
    /// The embedded bridge's safety checks; all on unless a test switches one off.
    #[doc(hidden)]
    pub safety: SafetyChecks,
    /// Whose packets the bridge traces: real devices, never a virtual fleet.
    pub observe: Observe,
    /// Device qualification: the bridge accepts a device's CONNECT whatever its `aud` and clock
    /// (cases judge them), and keeps its CA key to sign the certificates a device must refuse.
    pub qualify: bool,
    /// Host names and addresses, beyond the loopback ones, that the generated server
    /// certificate covers: the names real devices use to reach this machine.
    pub server_names: Vec<String>,
    /// Where the generated CA is kept across runs (`ca.pem`, `ca.key`), so that real devices
    /// are given it once; a new CA per run when `None`.
    pub ca_dir: Option<PathBuf>,
    /// The shard of the fleet this process runs: its own `<topic>-fleetgate-shard-I-of-N`
    /// subscriptions are created afresh, so that it sees every message its devices published.
    pub shard: Shard,
    /// Where the embedded Pub/Sub listens (`127.0.0.1:0` unless shards on other machines
    /// consume from it, as from `fleetgate serve --pubsub-listen`).
    pub pubsub_listen: SocketAddr,
    /// The admin API's key; a new one per run when `None`.
    pub admin_key: Option<String>,
}

impl EnvironmentOptions {
    /// Options for a run in `out_dir`, listening on `listen`: nothing observed, no
    /// qualification, every safety check on.
    pub fn new(
        listen: SocketAddr,
        out_dir: PathBuf,
        scenario_dir: PathBuf,
        key_progress: KeyProgress,
    ) -> Self {
        Self {
            listen,
            out_dir,
            scenario_dir,
            key_progress,
            safety: SafetyChecks::default(),
            observe: Observe::Nobody,
            qualify: false,
            server_names: Vec::new(),
            ca_dir: None,
            shard: Shard::WHOLE,
            pubsub_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_key: None,
        }
    }
}

/// A key-generation progress callback.
pub type KeyProgress = Arc<dyn Fn(&str, usize, usize) + Send + Sync>;

/// Why the environment could not start.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    /// Something the scenario names is unusable (a key file, a certificate).
    #[error("{0}")]
    Input(String),
    /// A port, a file, or an external service.
    #[error("{0}")]
    Start(String),
}

/// The embedded bridge and what surrounds it.
pub struct BridgeEnv {
    /// The MQTT bridge.
    pub bridge: Bridge,
    /// Its registry.
    pub store: Arc<Store>,
    /// The CA file devices trust.
    pub ca_file: PathBuf,
    /// The admin API's address.
    pub admin: SocketAddr,
    /// The key the admin API asks for (`Authorization: Bearer <key>`).
    pub admin_key: String,
    /// `<out>/admin-key`, the key readable by its owner only.
    pub admin_key_file: PathBuf,
    /// The HTTP device bridge's address (HTTPS).
    pub http: SocketAddr,
    /// Connection events (one reader at a time: `serve` or the conformance cases).
    pub events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Recorded>>>,
    /// The profile in force.
    pub profile: &'static str,
    /// The TLS material, when the bridge serves TLS.
    pub tls: Option<Arc<TlsMaterial>>,
    /// The names the generated server certificate covers (empty for the user's own files).
    pub server_names: Vec<String>,
}

/// A started environment.
pub struct Environment {
    /// Pub/Sub.
    pub pubsub: PubsubEnv,
    /// The embedded bridge, when the scenario's bridge is embedded.
    pub bridge: Option<BridgeEnv>,
    /// The devices registered.
    pub devices: RegisteredDevices,
    /// The Google mock and the push endpoint, when the scenario needs them
    /// ([`push::needed`]).
    pub push: Option<PushEnv>,
}

impl Environment {
    /// Stops the bridge, the embedded emulator and the reference verifier.
    pub async fn shutdown(self) {
        if let Some(bridge) = &self.bridge {
            bridge.bridge.shutdown().await;
        }
        self.pubsub.shutdown().await;
        if let Some(push) = self.push {
            push.shutdown().await;
        }
    }
}

/// Starts everything the scenario's `[target]` leaves embedded.
pub async fn start(
    scenario: &Scenario,
    options: &EnvironmentOptions,
) -> Result<Environment, EnvironmentError> {
    std::fs::create_dir_all(&options.out_dir).map_err(|e| {
        EnvironmentError::Start(format!(
            "cannot create the output folder {}: {e}",
            options.out_dir.display()
        ))
    })?;
    let google = push::identity()?;
    let pubsub = pubsub::start(scenario, &google, options).await?;
    let push = match push::needed(scenario) {
        false => None,
        true => Some(start_push(scenario, google, &pubsub).await?),
    };
    let (bridge, devices) = match &scenario.target.bridge {
        BridgeTarget::External { host, port, .. } => {
            reach(host, *port).await?;
            (None, devices::register(scenario, options, None)?)
        }
        BridgeTarget::Embedded => {
            let (bridge, devices) = start_bridge(scenario, options, &pubsub).await?;
            (Some(bridge), devices)
        }
    };
    Ok(Environment {
        pubsub,
        bridge,
        devices,
        push,
    })
}

/// How long the external bridge has to accept a TCP connection before the run gives up.
const REACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Fails, naming the address and the cause, when the external bridge's port does not accept
/// a TCP connection: an unreachable target is an environment fault, not a failed case.
async fn reach(host: &str, port: u16) -> Result<(), EnvironmentError> {
    let connect = tokio::net::TcpStream::connect((host, port));
    let cause = match tokio::time::timeout(REACH_TIMEOUT, connect).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", REACH_TIMEOUT.as_secs()),
    };
    Err(EnvironmentError::Start(format!(
        "cannot reach the bridge under test at {host}:{port}: {cause}"
    )))
}

/// Starts the push side alone: the Google mock and the reference verifier, with no Pub/Sub
/// and no bridge (`fleetgate serve --verifier-only`).
pub async fn start_push_only(scenario: &Scenario) -> Result<PushEnv, EnvironmentError> {
    push::start(scenario, push::identity()?).await
}

/// The push side, subscribed to the telemetry topic when `[push] subscribe` asks.
async fn start_push(
    scenario: &Scenario,
    google: Arc<std::sync::RwLock<fleetgate_identity::google::GoogleIdentity>>,
    pubsub: &PubsubEnv,
) -> Result<PushEnv, EnvironmentError> {
    let mut env = push::start(scenario, google).await?;
    if scenario.push.subscribe {
        let project = &scenario.project;
        let topic = format!("projects/{}/topics/{}", project.id, project.telemetry_topic);
        let name = format!(
            "projects/{}/subscriptions/{}-push",
            project.id, project.telemetry_topic
        );
        pubsub.subscribe_push(&topic, &name, &env.target)?;
        env.subscription = Some(name);
    }
    Ok(env)
}

/// The DER of every `[project] registry_cas` file.
fn registry_cas(scenario: &Scenario, options: &EnvironmentOptions) -> Result<Vec<Vec<u8>>, EnvironmentError> {
    scenario
        .project
        .registry_cas
        .iter()
        .map(|file| {
            let full = path(&options.scenario_dir, file);
            let problem = |what: String| {
                EnvironmentError::Input(format!(
                    "registry CA {}: {what}; expected a PEM CERTIFICATE",
                    full.display()
                ))
            };
            let text = std::fs::read_to_string(&full).map_err(|e| problem(e.to_string()))?;
            let block = fleetgate_identity::pem::decode(&text).map_err(|e| problem(e.to_string()))?;
            if block.label != "CERTIFICATE" {
                return Err(problem(format!("found a PEM {}", block.label)));
            }
            Ok(block.der)
        })
        .collect()
}

/// The certificate's names beyond loopback: those asked for, and the listen address when it
/// is a specific one.
fn server_names(options: &EnvironmentOptions) -> Vec<String> {
    let mut names = options.server_names.clone();
    let ip = options.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    names
}

fn path(scenario_dir: &Path, file: &str) -> PathBuf {
    scenario_dir.join(file)
}

/// Connections the kernel may hold for a listener before it accepts them. tokio's default is
/// 1,024; under a connect storm of thousands of devices a full queue drops SYNs, and each
/// dropped one costs its device a retransmission (1 s, then 2, 4, 8 …). The kernel caps it at
/// `net.core.somaxconn` (4,096 on most Linux systems).
const BACKLOG: u32 = 65_535;

fn bind(address: SocketAddr, what: &str) -> Result<TcpListener, EnvironmentError> {
    let error =
        |e: std::io::Error| EnvironmentError::Start(format!("cannot listen for {what} on {address}: {e}"));
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(error)?;
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(address).map_err(error)?;
    socket.listen(BACKLOG).map_err(error)
}

async fn start_bridge(
    scenario: &Scenario,
    options: &EnvironmentOptions,
    pubsub: &PubsubEnv,
) -> Result<(BridgeEnv, RegisteredDevices), EnvironmentError> {
    let mut profile = match scenario.bridge.profile {
        ScenarioProfile::Google => Profile::google(),
        ScenarioProfile::ClearBlade => Profile::clearblade(),
    }
    .with_safety(options.safety.clone());
    if options.qualify {
        profile = profile.judging_devices();
    }
    let tls = match &scenario.bridge.files {
        None => match &options.ca_dir {
            Some(dir) => TlsMaterial::with_kept_ca(dir, &server_names(options))
                .map_err(|e| EnvironmentError::Input(e.to_string()))?,
            None => TlsMaterial::generate_for(&server_names(options))
                .map_err(|e| EnvironmentError::Start(e.to_string()))?,
        },
        Some(files) => {
            let file = |f: &str| path(&options.scenario_dir, f);
            TlsMaterial::from_files(&file(&files.cert), &file(&files.key), &file(&files.ca))
                .map_err(|e| EnvironmentError::Input(e.to_string()))?
        }
    };
    let ca_file = options.out_dir.join("ca.pem");
    std::fs::write(&ca_file, &tls.ca_pem)
        .map_err(|e| EnvironmentError::Start(format!("cannot write {}: {e}", ca_file.display())))?;
    let server_config = tls
        .server_config()
        .map_err(|e| EnvironmentError::Input(e.to_string()))?;
    let project = &scenario.project;
    let topic = |name: &str| format!("projects/{}/topics/{name}", project.id);
    let routing = Routing {
        default_topic: Some(topic(&project.telemetry_topic)),
        routes: project
            .routes
            .iter()
            .map(|r| (r.subfolder.clone(), topic(&r.topic)))
            .collect(),
        state_topic: project.state_topic.as_deref().map(topic),
    };
    let registry_cas = registry_cas(scenario, options)?;
    let settings = RegistrySettings {
        project: project.id.clone(),
        jwt: profile.jwt.clone(),
        registry_cas,
    };
    let store = Arc::new(Store::new(routing, settings).with_safety(&options.safety));
    let devices = devices::register(scenario, options, Some(&store))?;
    let path = RegistryPath {
        project: project.id.clone(),
        region: project.region.clone(),
        registry: project.registry.clone(),
    };
    let clock = Arc::new(Clock::default());
    let (events_tx, events) = mpsc::unbounded_channel();
    let profile_name = profile.name;
    let http_bridge = HttpBridge {
        path: path.clone(),
        profile: Arc::new(profile.clone()),
        registry: store.clone() as Arc<dyn DeviceRegistry>,
        forwarder: pubsub.forwarder(),
        clock: Arc::clone(&clock),
    };
    let config = BridgeConfig {
        path,
        profile,
        tls: scenario.bridge.tls.then(|| Arc::clone(&server_config)),
        registry: store.clone() as Arc<dyn DeviceRegistry>,
        forwarder: pubsub.forwarder(),
        clock,
        events: Some(events_tx),
        observe: options.observe.clone(),
    };
    let listener = bind(options.listen, "MQTT")?;
    let bridge =
        Bridge::start(listener, config).map_err(|e| EnvironmentError::Start(format!("bridge: {e}")))?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let admin_listener = bind(loopback, "the admin API")?;
    let admin_addr = admin_listener
        .local_addr()
        .map_err(|e| EnvironmentError::Start(e.to_string()))?;
    let admin_key = match &options.admin_key {
        Some(key) => key.clone(),
        None => admin::generate_key().map_err(EnvironmentError::Start)?,
    };
    let admin_key_file = options.out_dir.join("admin-key");
    write_owner_only(&admin_key_file, &admin_key)?;
    let admin = Admin {
        store: Arc::clone(&store),
        bridge: bridge.clone(),
        key: Arc::from(admin_key.as_str()),
    };
    let admin_listener = Limited::new(admin_listener, Limits::ADMIN);
    tokio::spawn(async move { axum::serve(admin_listener, admin::router(admin)).await });
    // Real Pis use the HTTP bridge too: it listens on the MQTT listener's host.
    let http_tcp = bind(SocketAddr::new(options.listen.ip(), 0), "the HTTP bridge")?;
    let http_listener =
        TlsListener::new(http_tcp, server_config).map_err(|e| EnvironmentError::Start(e.to_string()))?;
    let http_addr = axum::serve::Listener::local_addr(&http_listener)
        .map_err(|e| EnvironmentError::Start(e.to_string()))?;
    let http_listener = Limited::new(http_listener, Limits::HTTP_BRIDGE);
    tokio::spawn(async move { axum::serve(http_listener, http_bridge::router(http_bridge)).await });
    let env = BridgeEnv {
        bridge,
        store,
        ca_file,
        admin: admin_addr,
        admin_key,
        admin_key_file,
        http: http_addr,
        events: Arc::new(tokio::sync::Mutex::new(events)),
        profile: profile_name,
        server_names: tls.names().to_vec(),
        tls: scenario.bridge.tls.then(|| Arc::new(tls)),
    };
    Ok((env, devices))
}

/// Writes a secret readable and writable by its owner only (mode 0600 from creation).
fn write_owner_only(file: &Path, secret: &str) -> Result<(), EnvironmentError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(file);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .and_then(|mut f| f.write_all(secret.as_bytes()))
        .map_err(|e| EnvironmentError::Start(format!("cannot write {}: {e}", file.display())))
}
