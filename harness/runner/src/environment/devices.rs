//! Registering a scenario's devices: every cohort's devices get keys generated from the
//! scenario's seed into `<out>/keys/<cohort>/` (a key pool: PKCS#8, traditional and public PEM
//! per device) and the credential format the cohort names; every `[[device]]` is registered
//! from its key files.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use fleetgate_bridge::registry::{RegistryError, Store};
use fleetgate_identity::certs::{CertOptions, certificate};
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::variants::{VariantError, VariantMaterial};
use fleetgate_identity::{DeviceKey, KeySpec, pool};
use fleetgate_scenario::Scenario;
use fleetgate_scenario::model::{Algorithm, Cohort, FaultKind, KeyFormat};

use super::{EnvironmentError, EnvironmentOptions};

/// A cohort's registered devices and where their private keys are.
#[derive(Clone, Debug)]
pub struct CohortKeys {
    /// Cohort name.
    pub name: String,
    /// Number of devices.
    pub devices: u32,
    /// The device id template.
    pub device_id: String,
    /// The pool folder: `keys/{index:05}.pem` is device `index`'s PKCS#8 private key.
    pub keys_dir: PathBuf,
    /// The registered credential format.
    pub format: &'static str,
    /// The private keys, parsed, in device index order.
    pub keys: Vec<Arc<DeviceKey>>,
    /// With a credential fault on the embedded bridge: how registering the malformed
    /// credentials went.
    pub registration: Option<FaultyRegistration>,
}

/// How the registry answered a cohort's malformed credentials (a `key-format.*` fault): each
/// should be refused, and the device is then registered without a credential.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultyRegistration {
    /// The fault id.
    pub fault: String,
    /// The refusal a correct registry gives.
    pub expected: String,
    /// Malformed credentials the registry refused, by its reason.
    pub refused: std::collections::BTreeMap<String, u64>,
    /// Devices whose malformed credential the registry accepted.
    pub accepted: Vec<String>,
}

/// Everything registered.
#[derive(Clone, Debug, Default)]
pub struct RegisteredDevices {
    /// Cohorts, in scenario order.
    pub cohorts: Vec<CohortKeys>,
    /// `[[device]]` ids, in scenario order.
    pub devices: Vec<String>,
}

fn format(format: KeyFormat) -> CredentialFormat {
    match format {
        KeyFormat::RsaPem => CredentialFormat::RsaPem,
        KeyFormat::RsaX509Pem => CredentialFormat::RsaX509Pem,
        KeyFormat::Es256Pem => CredentialFormat::Es256Pem,
        KeyFormat::Es256X509Pem => CredentialFormat::Es256X509Pem,
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A registry error with the reason a credential was refused.
fn explain(error: &RegistryError) -> String {
    match error {
        RegistryError::Credential(c) => format!("{error}: {}", c.reason),
        other => other.to_string(),
    }
}

/// The malformed credential (one for all the cohort's faulty devices) and an empty tally, for
/// a cohort with a credential fault.
fn credential_fault(
    cohort: &Cohort,
    now: i64,
) -> Result<Option<(Credential, FaultyRegistration)>, VariantError> {
    let Some((fault, FaultKind::Credential(variant))) = cohort.fault.as_ref().map(|f| (f, f.kind)) else {
        return Ok(None);
    };
    let registration = FaultyRegistration {
        fault: fault.id.clone(),
        expected: variant.expected.map(|r| r.id().to_owned()).unwrap_or_default(),
        ..FaultyRegistration::default()
    };
    let malformed = variant.build(&VariantMaterial::generate(now)?)?.credential;
    Ok(Some((malformed, registration)))
}

/// Generates every cohort's keys and, with a `store` (an embedded bridge), registers every
/// cohort device and `[[device]]` of `scenario` in it.
pub(super) fn register(
    scenario: &Scenario,
    options: &EnvironmentOptions,
    store: Option<&Store>,
) -> Result<RegisteredDevices, EnvironmentError> {
    let now = now_secs();
    let mut registered = RegisteredDevices::default();
    for (index, cohort) in scenario.cohorts.iter().enumerate() {
        let spec = match cohort.key.alg {
            Algorithm::Rs256 => KeySpec::Rsa(cohort.key.rsa_bits.unwrap_or(2048)),
            Algorithm::Es256 => KeySpec::P256,
        };
        let dir = options.out_dir.join("keys").join(&cohort.name);
        let count = usize::try_from(cohort.devices).unwrap_or(usize::MAX);
        let seed = scenario.seed.wrapping_add(index as u64);
        let start = |e: &dyn std::fmt::Display| {
            EnvironmentError::Start(format!("keys of cohort `{}`: {e}", cohort.name))
        };
        pool::generate_spec(spec, count, seed, &dir, &mut |done, total| {
            (options.key_progress)(&cohort.name, done, total)
        })
        .map_err(|e| start(&e))?;
        let keys = pool::load(&dir).map_err(|e| start(&e))?;
        let credential_format = format(cohort.key.format);
        let registry = store
            .into_iter()
            .flat_map(|store| keys.keys.iter().enumerate().map(move |k| (store, k)));
        let mut faulty = credential_fault(cohort, now).map_err(|e| start(&e))?;
        for (store, (i, key)) in registry {
            let id = cohort.device_id.render(i as u64);
            if let Some((malformed, registration)) = faulty.as_mut()
                && cohort.fault.as_ref().is_some_and(|f| f.carried_by(i as u64))
            {
                match store.create(&id, vec![malformed.clone()], false, now) {
                    Err(RegistryError::Credential(c)) => {
                        *registration.refused.entry(c.reason.id().to_owned()).or_default() += 1;
                        store.create(&id, Vec::new(), false, now).map_err(|e| start(&e))?;
                    }
                    Err(e) => return Err(start(&e)),
                    Ok(_) => registration.accepted.push(id),
                }
                continue;
            }
            let pem = if credential_format.is_x509() {
                certificate(key, &CertOptions::valid_around(now, 365), None).map_err(|e| start(&e))?
            } else {
                key.spki_pem()
            };
            let credential = Credential {
                format: credential_format,
                pem,
                expiration: None,
            };
            store.create(&id, vec![credential], false, now).map_err(|e| {
                let mut message = format!("cohort `{}`: {}", cohort.name, explain(&e));
                if !scenario.project.registry_cas.is_empty() {
                    message.push_str(
                        "; the registry has CA certificates, so device credentials must be certificates they signed, and fleetgate holds no CA key to sign cohort certificates",
                    );
                }
                EnvironmentError::Input(message)
            })?;
        }
        registered.cohorts.push(CohortKeys {
            name: cohort.name.clone(),
            devices: cohort.devices,
            device_id: cohort.device_id.to_string(),
            keys_dir: dir,
            format: credential_format.as_str(),
            keys: keys.keys,
            registration: faulty.map(|(_, registration)| registration),
        });
    }
    let Some(store) = store else {
        return Ok(registered);
    };
    for device in &scenario.devices {
        let mut credentials = Vec::new();
        for credential in &device.credentials {
            let file = options.scenario_dir.join(&credential.file);
            let pem = std::fs::read_to_string(&file).map_err(|e| {
                EnvironmentError::Input(format!(
                    "device `{}`: cannot read {}: {e}",
                    device.id,
                    file.display()
                ))
            })?;
            credentials.push(Credential {
                format: format(credential.format),
                pem,
                expiration: credential.expires,
            });
        }
        store
            .create(&device.id, credentials, device.gateway, now)
            .map_err(|e| {
                EnvironmentError::Input(format!(
                    "device `{}` from {}: {}",
                    device.id,
                    scenario.file,
                    explain(&e)
                ))
            })?;
        registered.devices.push(device.id.clone());
    }
    for gateway in scenario.devices.iter().filter(|d| d.gateway) {
        for device in &gateway.bound {
            store.bind(&gateway.id, device, true).map_err(|e| {
                EnvironmentError::Input(format!(
                    "gateway `{}` binds `{device}` in {}: {e}",
                    gateway.id, scenario.file
                ))
            })?;
        }
    }
    Ok(registered)
}
