//! The device registry: devices with up to 3 credentials (each with an optional expiration),
//! blocked and gateway flags, versioned configs, stored state, gateway bindings, and where
//! telemetry goes. Loaded from the scenario and changed at run time through the admin API.
//! Credentials are registered and JWTs checked by the identity crate's rules, under the
//! bridge profile's settings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{PoisonError, RwLock};

use bytes::Bytes;
use fleetgate_identity::credentials::{
    Credential, CredentialError, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::rules::{self, BridgeSettings};

use crate::forward::Routing;
use crate::safety::{SafetyCheck, SafetyChecks};
use crate::server::DeviceRegistry;
use crate::session::{AuthVerdict, ConfigVersion, DeviceInfo, Registry, UnixMillis};

/// At most this many credentials per device.
pub const MAX_CREDENTIALS: usize = 3;
/// At most this many config versions are kept per device.
pub const KEPT_CONFIGS: usize = 10;

/// A credential as uploaded, and as the rules use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCredential {
    /// Format, PEM text and expiration as uploaded.
    pub uploaded: Credential,
    /// The parsed key the JWT rules verify with.
    pub registered: RegisteredCredential,
}

/// What the registry authenticates against: the project (every JWT's `aud`), the JWT rules'
/// settings, and what registration accepts.
#[derive(Clone, Debug)]
pub struct RegistrySettings {
    /// Project id.
    pub project: String,
    /// JWT rules.
    pub jwt: BridgeSettings,
    /// Registry CA certificates (DER): once there is one, device credentials must be
    /// certificates signed by one of them.
    pub registry_cas: Vec<Vec<u8>>,
}

/// A device as registered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Numeric id, assigned at creation.
    pub num_id: u64,
    /// Registered credentials.
    pub credentials: Vec<StoredCredential>,
    /// Blocked devices cannot connect.
    pub blocked: bool,
    /// Gateways may attach devices.
    pub gateway: bool,
    /// Newest config versions, oldest first.
    pub configs: Vec<ConfigVersion>,
    /// The last state and when it arrived.
    pub state: Option<(Bytes, UnixMillis)>,
    /// For a gateway, the devices bound to it.
    pub bound: BTreeSet<String>,
}

/// What can go wrong changing the registry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No such device.
    #[error("device `{0}` does not exist")]
    NotFound(String),
    /// The device id is taken.
    #[error("device `{0}` already exists")]
    AlreadyExists(String),
    /// A request the registry cannot accept.
    #[error("{0}")]
    Invalid(String),
    /// A credential the registry refuses (the reason names the rule and what is expected).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// A config update raced with another.
    #[error("config version {expected} is not the latest ({latest})")]
    VersionMismatch {
        /// The version the caller based its update on.
        expected: i64,
        /// The latest version.
        latest: i64,
    },
}

/// The registry, shared by the bridge, the HTTP bridge and the admin API.
pub struct Store {
    settings: RegistrySettings,
    max_credentials: usize,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    routing: Routing,
    devices: BTreeMap<String, DeviceRecord>,
    next_num_id: u64,
}

impl Store {
    /// An empty registry routing telemetry as `routing`.
    pub fn new(routing: Routing, settings: RegistrySettings) -> Self {
        Self {
            settings,
            max_credentials: MAX_CREDENTIALS,
            inner: RwLock::new(Inner {
                routing,
                devices: BTreeMap::new(),
                next_num_id: 2_700_000_000_000_000,
            }),
        }
    }

    /// This registry with `safety` in force (test-only: see [`SafetyChecks`]).
    #[doc(hidden)]
    pub fn with_safety(mut self, safety: &SafetyChecks) -> Self {
        if !safety.on(SafetyCheck::CredentialLimit) {
            self.max_credentials = usize::MAX;
        }
        self
    }

    fn read<T>(&self, f: impl FnOnce(&Inner) -> T) -> T {
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// Checks an uploaded credential as the registry would at `now` (Unix seconds).
    pub fn register(
        &self,
        device: &str,
        index: usize,
        credential: Credential,
        now: i64,
    ) -> Result<StoredCredential, RegistryError> {
        let policy = RegistrationPolicy {
            now,
            min_rsa_bits: self.settings.jwt.min_rsa_bits,
            registry_cas: self.settings.registry_cas.clone(),
        };
        let origin = format!("{index} of device `{device}`");
        let registered = RegisteredCredential::register(&credential, &origin, &policy)?;
        Ok(StoredCredential {
            uploaded: credential,
            registered,
        })
    }

    /// Registers a device with its credentials checked at `now` (Unix seconds); returns its
    /// numeric id.
    pub fn create(
        &self,
        id: &str,
        credentials: Vec<Credential>,
        gateway: bool,
        now: i64,
    ) -> Result<u64, RegistryError> {
        if !valid_id(id) {
            return Err(RegistryError::Invalid(format!(
                "`{id}` is not a valid device id: 3 to 255 characters, a letter, then letters, digits or - . _ + ~ %, not starting with \"goog\""
            )));
        }
        if credentials.len() > self.max_credentials {
            return Err(RegistryError::Invalid(format!(
                "a device holds at most {MAX_CREDENTIALS} credentials"
            )));
        }
        let credentials = credentials
            .into_iter()
            .enumerate()
            .map(|(i, c)| self.register(id, i, c, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.write(|inner| {
            if inner.devices.contains_key(id) {
                return Err(RegistryError::AlreadyExists(id.to_owned()));
            }
            inner.next_num_id += 1;
            let record = DeviceRecord {
                num_id: inner.next_num_id,
                credentials,
                gateway,
                ..DeviceRecord::default()
            };
            inner.devices.insert(id.to_owned(), record);
            Ok(inner.next_num_id)
        })
    }

    /// Removes a device.
    pub fn delete(&self, id: &str) -> Result<(), RegistryError> {
        self.write(|inner| {
            inner
                .devices
                .remove(id)
                .map(|_| ())
                .ok_or_else(|| RegistryError::NotFound(id.to_owned()))
        })
    }

    /// A copy of a device's record.
    pub fn get(&self, id: &str) -> Option<DeviceRecord> {
        self.read(|inner| inner.devices.get(id).cloned())
    }

    /// Every device id, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.read(|inner| inner.devices.keys().cloned().collect())
    }

    fn update<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut DeviceRecord) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        self.write(|inner| match inner.devices.get_mut(id) {
            Some(record) => f(record),
            None => Err(RegistryError::NotFound(id.to_owned())),
        })
    }

    /// Adds a credential checked at `now` (at most [`MAX_CREDENTIALS`]).
    pub fn add_credential(&self, id: &str, credential: Credential, now: i64) -> Result<(), RegistryError> {
        let index = self.get(id).map_or(0, |r| r.credentials.len());
        let credential = self.register(id, index, credential, now)?;
        self.update(id, |record| {
            if record.credentials.len() >= self.max_credentials {
                return Err(RegistryError::Invalid(format!(
                    "device `{id}` already holds {MAX_CREDENTIALS} credentials"
                )));
            }
            record.credentials.push(credential);
            Ok(())
        })
    }

    /// Removes the credential at `index`.
    pub fn remove_credential(&self, id: &str, index: usize) -> Result<StoredCredential, RegistryError> {
        self.update(id, |record| {
            if index >= record.credentials.len() {
                return Err(RegistryError::Invalid(format!(
                    "device `{id}` has no credential {index}"
                )));
            }
            Ok(record.credentials.remove(index))
        })
    }

    /// Blocks or unblocks a device.
    pub fn set_blocked(&self, id: &str, blocked: bool) -> Result<(), RegistryError> {
        self.update(id, |record| {
            record.blocked = blocked;
            Ok(())
        })
    }

    /// Stores a new config version (based on `expected` when given) and returns it.
    pub fn set_config(
        &self,
        id: &str,
        data: Bytes,
        expected: Option<i64>,
    ) -> Result<ConfigVersion, RegistryError> {
        self.update(id, |record| {
            let latest = record.configs.last().map_or(0, |c| c.version);
            if let Some(expected) = expected.filter(|e| *e != 0 && *e != latest) {
                return Err(RegistryError::VersionMismatch { expected, latest });
            }
            let config = ConfigVersion {
                version: latest + 1,
                data,
            };
            record.configs.push(config.clone());
            if record.configs.len() > KEPT_CONFIGS {
                record.configs.remove(0);
            }
            Ok(config)
        })
    }

    /// Binds a device to a gateway, or unbinds it.
    pub fn bind(&self, gateway: &str, device: &str, bound: bool) -> Result<(), RegistryError> {
        if self.get(device).is_none() {
            return Err(RegistryError::NotFound(device.to_owned()));
        }
        self.update(gateway, |record| {
            if !record.gateway {
                return Err(RegistryError::Invalid(format!(
                    "device `{gateway}` is not a gateway"
                )));
            }
            if bound {
                record.bound.insert(device.to_owned());
            } else {
                record.bound.remove(device);
            }
            Ok(())
        })
    }

    /// Sets where telemetry goes.
    pub fn set_routing(&self, routing: Routing) {
        self.write(|inner| inner.routing = routing);
    }
}

impl Registry for Store {
    fn device(&self, id: &str) -> Option<DeviceInfo> {
        self.read(|inner| {
            inner.devices.get(id).map(|r| DeviceInfo {
                num_id: r.num_id,
                blocked: r.blocked,
                gateway: r.gateway,
            })
        })
    }

    fn is_bound(&self, gateway: &str, device: &str) -> bool {
        self.read(|inner| {
            inner
                .devices
                .get(gateway)
                .is_some_and(|g| g.gateway && g.bound.contains(device))
        })
    }

    fn authenticate(&self, device: &str, jwt: &str, now_secs: i64) -> AuthVerdict {
        let credentials: Vec<RegisteredCredential> = self.read(|inner| {
            inner
                .devices
                .get(device)
                .map(|r| r.credentials.iter().map(|c| c.registered.clone()).collect())
                .unwrap_or_default()
        });
        let verdict = rules::check(
            jwt,
            &self.settings.project,
            &credentials,
            &self.settings.jwt,
            now_secs,
        );
        AuthVerdict {
            claims: verdict.claims,
            result: verdict.result.map(|a| a.exp).map_err(|r| r.id().to_owned()),
        }
    }

    fn latest_config(&self, device: &str) -> Option<ConfigVersion> {
        self.read(|inner| inner.devices.get(device).and_then(|r| r.configs.last().cloned()))
    }
}

impl DeviceRegistry for Store {
    fn routing(&self) -> Routing {
        self.read(|inner| inner.routing.clone())
    }

    fn store_state(&self, device: &str, payload: Bytes, at: UnixMillis) {
        self.write(|inner| {
            if let Some(record) = inner.devices.get_mut(device) {
                record.state = Some((payload, at));
            }
        });
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    (3..=255).contains(&id.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._+~%".contains(c))
        && !id.to_ascii_lowercase().starts_with("goog")
}

#[cfg(test)]
mod tests {
    use fleetgate_identity::credentials::CredentialFormat;
    use fleetgate_identity::jwt::{DeviceClaims, mint};
    use fleetgate_identity::{Alg, DeviceKey, KeySpec};

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn store() -> Store {
        let settings = RegistrySettings {
            project: "demo-project".into(),
            jwt: BridgeSettings::google(),
            registry_cas: Vec::new(),
        };
        Store::new(Routing::default(), settings)
    }

    fn key() -> DeviceKey {
        DeviceKey::generate(KeySpec::default_for(Alg::Es256)).unwrap()
    }

    fn credential(key: &DeviceKey, expiration: Option<i64>) -> Credential {
        Credential {
            format: CredentialFormat::Es256Pem,
            pem: key.spki_pem(),
            expiration,
        }
    }

    fn token(key: &DeviceKey) -> String {
        mint(key, &DeviceClaims::new("demo-project", NOW, 3600)).unwrap()
    }

    #[test]
    fn devices_get_unique_numeric_ids_and_ids_follow_the_rule() {
        let s = store();
        let a = s
            .create("pi-1", vec![credential(&key(), None)], false, NOW)
            .unwrap();
        let b = s.create("pi-2", vec![], false, NOW).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            s.create("pi-1", vec![], false, NOW),
            Err(RegistryError::AlreadyExists("pi-1".into()))
        );
        assert!(matches!(
            s.create("goog-1", vec![], false, NOW),
            Err(RegistryError::Invalid(_))
        ));
        assert!(matches!(
            s.create("p", vec![], false, NOW),
            Err(RegistryError::Invalid(_))
        ));
        assert_eq!(s.ids(), ["pi-1", "pi-2"]);
    }

    #[test]
    fn a_device_holds_at_most_three_credentials() {
        let s = store();
        let k = key();
        assert!(
            s.create("pi-1", vec![credential(&k, None); 4], false, NOW)
                .is_err()
        );
        s.create("pi-1", vec![credential(&k, None); 3], false, NOW)
            .unwrap();
        assert!(matches!(
            s.add_credential("pi-1", credential(&k, None), NOW),
            Err(RegistryError::Invalid(_))
        ));
        s.remove_credential("pi-1", 0).unwrap();
        s.add_credential("pi-1", credential(&k, None), NOW).unwrap();
    }

    #[test]
    fn malformed_credentials_are_refused_at_registration_naming_the_device() {
        let s = store();
        let k = key();
        let private = Credential {
            format: CredentialFormat::Es256Pem,
            pem: k.pkcs8_pem(),
            expiration: None,
        };
        let error = s
            .create("pi-1", vec![private], false, NOW)
            .unwrap_err()
            .to_string();
        assert!(error.contains("device `pi-1`"), "{error}");
        assert!(s.get("pi-1").is_none(), "nothing registered");
    }

    #[test]
    fn jwts_are_checked_with_the_identity_rules_and_expiry_of_credentials() {
        let s = store();
        let k = key();
        s.create("pi-1", vec![credential(&k, None)], false, NOW).unwrap();
        let accepted = s.authenticate("pi-1", &token(&k), NOW);
        assert_eq!(accepted.result, Ok(NOW + 3600));
        assert_eq!(accepted.claims.unwrap().aud.as_deref(), Some("demo-project"));
        assert_eq!(
            s.authenticate("pi-1", &token(&key()), NOW).result,
            Err("bad-signature".into())
        );
        s.create("pi-2", vec![credential(&k, Some(NOW - 1))], false, NOW)
            .unwrap();
        assert_eq!(
            s.authenticate("pi-2", &token(&k), NOW).result,
            Err("credential-expired".into())
        );
        assert_eq!(
            s.authenticate("ghost", &token(&k), NOW).result,
            Err("no-credentials".into())
        );
    }

    #[test]
    fn configs_are_versioned_and_only_ten_are_kept() {
        let s = store();
        s.create("pi-1", vec![], false, NOW).unwrap();
        for i in 1..=12 {
            let config = s.set_config("pi-1", Bytes::from(format!("v{i}")), None).unwrap();
            assert_eq!(config.version, i);
        }
        let record = s.get("pi-1").unwrap();
        assert_eq!(record.configs.len(), KEPT_CONFIGS);
        assert_eq!(record.configs[0].version, 3);
        assert_eq!(s.latest_config("pi-1").unwrap().data, Bytes::from("v12"));
        assert_eq!(
            s.set_config("pi-1", Bytes::new(), Some(5)),
            Err(RegistryError::VersionMismatch {
                expected: 5,
                latest: 12
            })
        );
        assert_eq!(s.set_config("pi-1", Bytes::new(), Some(12)).unwrap().version, 13);
    }

    #[test]
    fn only_gateways_bind_devices() {
        let s = store();
        s.create("gw-1", vec![], true, NOW).unwrap();
        s.create("pi-1", vec![], false, NOW).unwrap();
        s.bind("gw-1", "pi-1", true).unwrap();
        assert!(s.is_bound("gw-1", "pi-1"));
        assert!(matches!(
            s.bind("pi-1", "gw-1", true),
            Err(RegistryError::Invalid(_))
        ));
        assert_eq!(
            s.bind("gw-1", "ghost", true),
            Err(RegistryError::NotFound("ghost".into()))
        );
    }
}
