//! CONNECT-time checks: token mutations, device clocks, key formats, credentials and the
//! client id, username and session rules.

use std::sync::OnceLock;

use fleetgate_bridge::events::{Event, Verdict};
use fleetgate_bridge::registry::{RegistryError, RegistrySettings, Store};
use fleetgate_identity::clock::{ClockModel, ClockStart, DeviceClock};
use fleetgate_identity::credentials::{Credential, CredentialFormat};
use fleetgate_identity::jwt::mutations::{MutationContext, TokenMutation};
use fleetgate_identity::jwt::{DeviceClaims, mint};
use fleetgate_identity::variants::{KeyFormatVariant, VariantMaterial};
use fleetgate_identity::{Alg, DeviceKey, KeySpec};

use super::{ClockToken, ConnectCheck, CredentialCheck, Ctx};
use crate::conformance::evidence::Observation;
use crate::conformance::probe::{ConnectParams, Probe};

/// A fresh P-256 key.
pub(super) fn p256() -> Result<DeviceKey, String> {
    DeviceKey::generate(KeySpec::P256).map_err(|e| e.to_string())
}

/// A one-hour token of `key`, issued at the bridge's now.
pub(super) fn token(ctx: &Ctx<'_>, key: &DeviceKey) -> Result<String, String> {
    let claims = DeviceClaims::new(&ctx.target.path.project, ctx.target.now(), 3600);
    mint(key, &claims).map_err(|e| e.to_string())
}

/// Sends CONNECT; the probe when accepted, and what was seen.
pub(super) async fn attempt(
    ctx: &Ctx<'_>,
    params: &ConnectParams,
) -> Result<(Option<Probe>, Observation), String> {
    let (probe, code) = Probe::connect(&ctx.endpoint, params)
        .await
        .map_err(|e| format!("CONNECT of {}: {e}", params.client_id))?;
    if code == Some(0) {
        return Ok((Some(probe), Observation::accepted().with("connack", 0)));
    }
    let reason = match ctx.target.connect_verdict(&params.client_id).await {
        Some(Event::ConnectAttempt(a)) => match a.verdict {
            Verdict::Refused { reason, .. } => Some(reason),
            Verdict::Accepted | Verdict::Withheld => None,
        },
        _ => None,
    };
    let mut seen = Observation::refused(code, reason.clone());
    seen.note(
        "connack",
        code.map_or("none: closed without CONNACK".to_owned(), |c| c.to_string()),
    );
    if let Some(reason) = reason {
        seen.note("bridge_reason", reason);
    }
    Ok((None, seen))
}

/// CONNECT as `device` with `jwt`.
async fn connect_as(ctx: &Ctx<'_>, device: &str, jwt: String) -> Result<Observation, String> {
    let params = ConnectParams::new(ctx.target.client_id(device), jwt);
    Ok(attempt(ctx, &params).await?.1)
}

pub(super) async fn mutated(mutation: TokenMutation, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let device = ctx.target.device(0)?;
    let other = p256()?;
    let now = ctx.target.now();
    let mctx = MutationContext {
        key: &device.key,
        other_key: &other,
        audience: &ctx.target.path.project,
        now,
        skew_secs: ctx.target.profile.jwt.skew_secs,
    };
    let jwt = mutation.build(&mctx).map_err(|e| e.to_string())?;
    Ok(connect_as(ctx, &device.id, jwt)
        .await?
        .with("device", &device.id)
        .with("bridge_time", now))
}

pub(super) async fn clock(which: ClockToken, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let device = ctx.target.device(0)?;
    let now = ctx.target.now();
    let project = &ctx.target.path.project;
    let claims = match which {
        ClockToken::Unsynced1970 => {
            let model = ClockModel {
                start: ClockStart::Epoch1970,
                ..ClockModel::EXACT
            };
            let device_now = DeviceClock::new(model, now * 1000).now_secs(now * 1000 + 42_000);
            DeviceClaims::new(project, device_now, 3600)
        }
        // Only `exp` before `iat` is wrong: `iat` two minutes ahead (well within the skew) and
        // `exp` one minute ahead, so the token is not expired and its lifetime is not too long.
        ClockToken::ExpBeforeIat => DeviceClaims {
            exp: now + 60,
            ..DeviceClaims::new(project, now + 120, 0)
        },
    };
    let jwt = mint(&device.key, &claims).map_err(|e| e.to_string())?;
    Ok(connect_as(ctx, &device.id, jwt)
        .await?
        .with("iat", claims.iat)
        .with("exp", claims.exp)
        .with("bridge_time", now))
}

/// Keys and CAs for the key-format cases, made once per process (RSA keys are slow).
async fn material() -> Result<&'static VariantMaterial, String> {
    static MATERIAL: OnceLock<Result<VariantMaterial, String>> = OnceLock::new();
    let made = tokio::task::spawn_blocking(|| {
        MATERIAL.get_or_init(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
            VariantMaterial::generate(now).map_err(|e| e.to_string())
        })
    })
    .await
    .map_err(|e| e.to_string())?;
    made.as_ref().map_err(Clone::clone)
}

/// Why the registry refused, as a stable id.
fn refusal_id(error: &RegistryError) -> String {
    match error {
        RegistryError::Credential(c) => c.reason.id().to_owned(),
        RegistryError::Invalid(_) => "credential-limit".to_owned(),
        other => other.to_string(),
    }
}

pub(super) async fn key_format(variant: &KeyFormatVariant, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    let m = material().await?;
    let built = variant.build(m).map_err(|e| e.to_string())?;
    let now = ctx.target.now();
    let id = ctx.target.fresh_id();
    if !built.policy.registry_cas.is_empty() {
        let with_cas = Store::new(
            Default::default(),
            RegistrySettings {
                project: ctx.target.path.project.clone(),
                jwt: ctx.target.profile.jwt.clone(),
                registry_cas: built.policy.registry_cas.clone(),
            },
        );
        if let Err(e) = with_cas.create(&id, vec![built.credential.clone()], false, now) {
            return Ok(Observation::refused(None, Some(refusal_id(&e))).with("registration", e));
        }
    }
    let format = built.credential.format;
    if let Err(e) = embedded.store.create(&id, vec![built.credential], false, now) {
        return Ok(Observation::refused(None, Some(refusal_id(&e)))
            .with("registration", explain(&e))
            .with("format", format));
    }
    let key = if format.alg() == Alg::Rs256 { &m.rsa } else { &m.ec };
    let seen = connect_as(ctx, &id, token(ctx, key)?).await?;
    let seen = match seen.outcome {
        super::Outcome::Accept => seen,
        super::Outcome::Refuse => Observation::broken(format!(
            "registered, but a JWT signed by its key was refused (CONNACK {:?})",
            seen.detail.connack
        )),
    };
    Ok(seen.with("registration", "accepted").with("format", format))
}

fn explain(error: &RegistryError) -> String {
    match error {
        RegistryError::Credential(c) => format!("{error}: {}", c.reason),
        other => other.to_string(),
    }
}

fn es256(key: &DeviceKey, expiration: Option<i64>) -> Credential {
    Credential {
        format: CredentialFormat::Es256Pem,
        pem: key.spki_pem(),
        expiration,
    }
}

pub(super) async fn credentials(which: CredentialCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    let now = ctx.target.now();
    let keys = [p256()?, p256()?, p256()?, p256()?];
    let (credentials, signer) = match which {
        CredentialCheck::Expired => (vec![es256(&keys[0], Some(now - 60))], 0),
        CredentialCheck::NotYetExpired => (vec![es256(&keys[0], Some(now + 3600))], 0),
        CredentialCheck::OtherKeyAfterExpiry => {
            (vec![es256(&keys[0], Some(now - 60)), es256(&keys[1], None)], 1)
        }
        CredentialCheck::AnyOfThree | CredentialCheck::LimitThree => {
            (keys[..3].iter().map(|k| es256(k, None)).collect(), 2)
        }
    };
    let id = ctx.target.fresh_id();
    embedded
        .store
        .create(&id, credentials, false, now)
        .map_err(|e| format!("cannot register {id}: {}", explain(&e)))?;
    if which == CredentialCheck::LimitThree {
        return Ok(
            match embedded.store.add_credential(&id, es256(&keys[3], None), now) {
                Ok(()) => Observation::accepted().with("fourth_credential", "accepted"),
                Err(e) => Observation::refused(None, Some(refusal_id(&e))).with("fourth_credential", e),
            },
        );
    }
    Ok(connect_as(ctx, &id, token(ctx, &keys[signer])?)
        .await?
        .with("signed_by_credential", signer))
}

pub(super) async fn connect(which: ConnectCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let target = ctx.target;
    let device = target.device(0)?;
    let jwt = token(ctx, &device.key)?;
    let mut params = ConnectParams::new(target.client_id(&device.id), jwt.clone());
    match which {
        ConnectCheck::OneConnectionPerDevice => return one_connection(ctx, &params, &device.id).await,
        ConnectCheck::NoUsername => params.login = None,
        ConnectCheck::AnyUsername => params.login = Some(("any name at all".into(), jwt)),
        ConnectCheck::OtherRegistry => {
            let p = &target.path;
            params.client_id = format!(
                "projects/{}/locations/{}/registries/{}-other/devices/{}",
                p.project, p.region, p.registry, device.id
            );
        }
        ConnectCheck::MalformedClientId => params.client_id = device.id.clone(),
        ConnectCheck::UnknownDevice => params.client_id = target.client_id(&format!("{}-unknown", device.id)),
        ConnectCheck::DeviceIdCase => params.client_id = target.client_id(&device.id.to_uppercase()),
        ConnectCheck::BlockedDevice => {
            target
                .embedded()?
                .store
                .set_blocked(&device.id, true)
                .map_err(|e| e.to_string())?;
        }
        ConnectCheck::PersistentSession => params.clean_session = false,
    }
    let seen = attempt(ctx, &params).await?.1;
    Ok(seen.with("client_id", &params.client_id))
}

async fn one_connection(ctx: &Ctx<'_>, params: &ConnectParams, device: &str) -> Result<Observation, String> {
    let (older, first) = attempt(ctx, params).await?;
    let Some(mut older) = older else {
        return Ok(Observation::broken("the first connection was refused").with(
            "first_connack",
            first.evidence.get("connack").cloned().unwrap_or_default(),
        ));
    };
    let (newer, second) = attempt(ctx, params).await?;
    let Some(mut newer) = newer else {
        return Ok(Observation::broken("the second connection was refused").with(
            "second_connack",
            second.evidence.get("connack").cloned().unwrap_or_default(),
        ));
    };
    // The newer connection tells the older one through the bridge: wait for the close.
    let closed = older
        .wait_close(ctx.endpoint.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let newer_alive = newer.ping().await.map_err(|e| e.to_string())?;
    if !closed {
        return Ok(Observation::accepted()
            .with(
                "older_connection",
                "still answers PINGREQ after the second CONNACK",
            )
            .with("newer_connection_alive", newer_alive));
    }
    let cause = ctx.target.disconnect_cause(device).await;
    let mut seen = Observation::refused(None, cause.clone())
        .with("older_connection", "closed")
        .with("newer_connection_alive", newer_alive);
    if let Some(cause) = cause {
        seen.note("disconnect_cause", cause);
    }
    if !newer_alive {
        seen = Observation::broken("the newer connection was closed too").with("older_connection", "closed");
    }
    Ok(seen)
}
