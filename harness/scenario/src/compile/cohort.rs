//! `[[cohort]]` and `[[phase]]`.

use std::collections::HashMap;
use std::time::Duration;

use crate::model::{
    Algorithm, Clock, Cohort, KeyChoice, KeyFormat, PayloadEncoding, Phase, Schedule, Telemetry, TokenPolicy,
};
use crate::read::{Fields, Item, Val};
use crate::spec::RSA_BITS;
use crate::template::{IOT_ID_HELP, IdTemplate, TEMPLATE_HELP, is_iot_id};

use super::{Cx, behaviour, cohort_fault};

const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const MIN_PAYLOAD: u64 = 64;
const MAX_PAYLOAD: u64 = 256 * 1024;

fn tables(items: &[Item]) -> impl Iterator<Item = (&Item, &Fields)> {
    items.iter().filter_map(|item| match &item.val {
        Val::Table(fields) => Some((item, fields)),
        _ => None,
    })
}

/// Reports the second use of a name within one array of tables.
fn unique_name<'a>(
    seen: &mut HashMap<&'a str, usize>,
    fields: &'a Fields,
    what: &str,
    file_line: usize,
    cx: &mut Cx,
) -> Option<&'a str> {
    let name = fields.str("name")?;
    if let Some(first) = seen.insert(name, file_line) {
        let item = fields.get("name")?;
        cx.error(
            item,
            format!("{what} name `{name}` is used twice (first by {what} #{first})"),
            format!("a name no other {what} uses"),
        );
        return None;
    }
    Some(name)
}

/// Compiles every `[[cohort]]`; cohorts with errors are left out (the errors are reported).
pub(super) fn cohorts(items: &[Item], cx: &mut Cx) -> Vec<Cohort> {
    let mut seen = HashMap::new();
    let mut templates: Vec<(IdTemplate, &str)> = Vec::new();
    let mut out = Vec::new();
    for (index, (item, fields)) in tables(items).enumerate() {
        let name = unique_name(&mut seen, fields, "cohort", index, cx);
        let Some(cohort) = cohort(item, fields, cx) else {
            continue;
        };
        if let Some((_, other)) = templates.iter().find(|(t, _)| *t == cohort.device_id) {
            if let Some(id_item) = fields.get("device_id") {
                cx.error(
                    id_item,
                    format!(
                        "cohorts `{other}` and `{}` would create the same device ids",
                        cohort.name
                    ),
                    "a device_id template no other cohort uses",
                );
            }
            continue;
        }
        templates.push((cohort.device_id.clone(), fields.str("name").unwrap_or_default()));
        if name.is_some() {
            out.push(cohort);
        }
    }
    out
}

fn cohort(item: &Item, fields: &Fields, cx: &mut Cx) -> Option<Cohort> {
    let devices = fields.int("devices").and_then(|d| u32::try_from(d).ok());
    let device_id = fields
        .get("device_id")
        .and_then(|t| template(t, devices.unwrap_or(1), cx));
    let empty = Fields::default();
    let key = key(
        fields.table("key").unwrap_or(&empty),
        fields.get("key").unwrap_or(item),
        cx,
    );
    let token = token(fields.table("token").unwrap_or(&empty), cx);
    let telemetry = fields.table("telemetry").and_then(|t| telemetry(t, cx));
    let clock = fields.table("clock").unwrap_or(&empty);
    let start = cohort_fault::clock_start(clock, cx);
    let backoff = behaviour::backoff(fields.table("backoff").unwrap_or(&empty), cx);
    let name = fields.str("name")?;
    let fault = key.and_then(|k| cohort_fault::fault(fields, name, k.alg, cx));
    let expect = cohort_fault::expectation(fields, name, cx);
    Some(Cohort {
        name: name.to_owned(),
        devices: devices?,
        device_id: device_id?,
        key: key?,
        clock: Clock {
            skew: clock.signed_duration("skew").unwrap_or_default(),
            drift_ppm: clock.float("drift_ppm").unwrap_or(0.0),
            start: start?,
        },
        token: token?,
        telemetry,
        connect_rate: fields.rate("connect_rate"),
        state: fields.table("state").and_then(|t| behaviour::state(t, cx)),
        backoff: backoff?,
        offline_queue: fields
            .int("offline_queue")
            .map_or(1000, |q| u32::try_from(q).unwrap_or(u32::MAX)),
        fault: fault?,
        expect: expect?,
    })
}

fn template(item: &Item, devices: u32, cx: &mut Cx) -> Option<IdTemplate> {
    let Val::Str(text) = &item.val else { return None };
    let parsed = match IdTemplate::parse(text) {
        Ok(t) => t,
        Err(message) => {
            cx.error(item, message, TEMPLATE_HELP);
            return None;
        }
    };
    for index in [0, u64::from(devices) - 1] {
        let id = parsed.render(index);
        if !is_iot_id(&id) {
            cx.error(
                item,
                format!("device {index} would get the id \"{id}\", which IoT Core refuses"),
                IOT_ID_HELP,
            );
            return None;
        }
    }
    Some(parsed)
}

fn key(fields: &Fields, at: &Item, cx: &mut Cx) -> Option<KeyChoice> {
    let alg = match fields.str("alg") {
        Some("RS256") => Algorithm::Rs256,
        _ => Algorithm::Es256,
    };
    let format = match (fields.str("format"), alg) {
        (Some("RSA_PEM"), _) => KeyFormat::RsaPem,
        (Some("RSA_X509_PEM"), _) | (None, Algorithm::Rs256) => KeyFormat::RsaX509Pem,
        (Some("ES256_PEM"), _) => KeyFormat::Es256Pem,
        _ => KeyFormat::Es256X509Pem,
    };
    let rsa_format = matches!(format, KeyFormat::RsaPem | KeyFormat::RsaX509Pem);
    if rsa_format != (alg == Algorithm::Rs256) {
        let item = fields.get("format").unwrap_or(at);
        let (alg_name, accepted) = match alg {
            Algorithm::Rs256 => ("RS256", "\"RSA_PEM\" or \"RSA_X509_PEM\" for RS256"),
            Algorithm::Es256 => ("ES256", "\"ES256_PEM\" or \"ES256_X509_PEM\" for ES256"),
        };
        cx.error(
            item,
            format!(
                "format \"{}\" does not hold {alg_name} keys",
                fields.str("format").unwrap_or_default()
            ),
            accepted,
        );
        return None;
    }
    let rsa_bits = match (fields.get("rsa_bits"), fields.int("rsa_bits")) {
        (Some(item), Some(bits)) => {
            if alg != Algorithm::Rs256 {
                cx.error(
                    item,
                    "rsa_bits applies to RS256 keys only",
                    "remove rsa_bits, or set alg = \"RS256\"",
                );
                return None;
            }
            if !RSA_BITS.contains(&bits) {
                cx.error(
                    item,
                    format!("{bits} is not an RSA key size fleetgate generates"),
                    "1024, 2048, 3072 or 4096",
                );
                return None;
            }
            if bits < 2048 {
                cx.warn(
                    item,
                    "RSA keys under 2048 bits are refused by bridges with the default minimum",
                );
            }
            u32::try_from(bits).ok()
        }
        _ => None,
    };
    Some(KeyChoice {
        alg,
        format,
        rsa_bits,
    })
}

fn token(fields: &Fields, cx: &mut Cx) -> Option<TokenPolicy> {
    let lifetime = fields.duration("lifetime").unwrap_or(Duration::from_secs(3600));
    if let Some(item) = fields.get("lifetime") {
        if lifetime.is_zero() {
            cx.error(
                item,
                "a token lifetime of 0s expires before it is used",
                "a duration such as \"60m\"",
            );
            return None;
        }
        if lifetime > MAX_LIFETIME {
            cx.warn(
                item,
                "exp − iat above 24 h: a conforming bridge refuses every connect of this cohort",
            );
        }
    }
    Some(TokenPolicy {
        lifetime,
        refresh_at: fields.float("refresh_at").unwrap_or(0.75),
    })
}

fn telemetry(fields: &Fields, cx: &mut Cx) -> Option<Telemetry> {
    let every = fields.duration("every")?;
    if every.is_zero() {
        cx.error(
            fields.get("every")?,
            "telemetry every 0s would send without pause",
            "a positive duration such as \"1s\"",
        );
        return None;
    }
    let payload_bytes = fields.size("payload_bytes").unwrap_or(200);
    if let Some(item) = fields.get("payload_bytes") {
        if payload_bytes < MIN_PAYLOAD {
            cx.error(
                item,
                format!("{payload_bytes} bytes cannot hold the device id, sequence number and intended time"),
                format!("a size of at least {MIN_PAYLOAD} bytes"),
            );
            return None;
        }
        if payload_bytes > MAX_PAYLOAD {
            cx.warn(
                item,
                "above the 256 KiB IoT Core accepts: a conforming bridge disconnects the device",
            );
        }
    }
    Some(Telemetry {
        every,
        payload_bytes,
        qos: fields.int("qos").map_or(1, |q| u8::from(q == 1)),
        schedule: match fields.str("schedule") {
            Some("poisson") => Schedule::Poisson,
            _ => Schedule::Fixed,
        },
        payload: match fields.str("payload") {
            Some("binary") => PayloadEncoding::Binary,
            _ => PayloadEncoding::Json,
        },
        subfolder: behaviour::subfolder(fields, cx)?,
        count: fields.int("count").and_then(|c| u64::try_from(c).ok()),
    })
}

/// Compiles every `[[phase]]`.
pub(super) fn phases(items: &[Item], have_cohorts: bool, cx: &mut Cx) -> Vec<Phase> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (index, (item, fields)) in tables(items).enumerate() {
        if !have_cohorts && index == 0 {
            cx.error(
                item,
                "a [[phase]] drives cohorts, and this scenario declares none",
                "add a [[cohort]], or remove the [[phase]] tables",
            );
        }
        let name = unique_name(&mut seen, fields, "phase", index, cx);
        let Some(hold) = fields.duration("hold") else {
            continue;
        };
        if hold.is_zero() {
            if let Some(hold_item) = fields.get("hold") {
                cx.error(
                    hold_item,
                    "a phase must hold for longer than 0s",
                    "a positive duration such as \"60s\"",
                );
            }
            continue;
        }
        if let Some(name) = name {
            out.push(Phase {
                name: name.to_owned(),
                ramp: fields.duration("ramp").unwrap_or_default(),
                hold,
                ramp_down: fields.duration("ramp_down").unwrap_or_default(),
                churn_per_min: fields.float("churn").unwrap_or(0.0),
            });
        }
    }
    out
}
