//! `[push]` and `[push.load]`: the push service account, refusal statuses, the pipeline's push
//! subscription (which needs the embedded Pub/Sub: Google's emulator pushes without a token),
//! the Google mock's address, and push load.

use std::net::SocketAddr;

use fleetgate_identity::google::mutations::PushMutation;

use crate::model::{Project, PubsubTarget, PushLoad, PushSettings, Target};
use crate::read::{Fields, Item, Val};

use super::Cx;

/// The default refusal statuses: 401 (not authenticated) and 403 (not for this endpoint).
const REFUSALS: [u16; 2] = [401, 403];

/// Compiles `[push]` (an empty table when absent), filling in defaults.
pub(super) fn push(
    fields: &Fields,
    project: &Option<Project>,
    target: &Option<Target>,
    cx: &mut Cx,
) -> Option<PushSettings> {
    let service_account = match fields.str("service_account") {
        Some(email) => {
            if let Some(item) = fields.get("service_account").filter(|_| !is_email(email)) {
                cx.error(
                    item,
                    format!("\"{email}\" is not a service account email"),
                    "an email such as \"pusher@my-project.iam.gserviceaccount.com\"",
                );
            }
            email.to_owned()
        }
        None => format!("fleetgate-push@{}.iam.gserviceaccount.com", project.as_ref()?.id),
    };
    let refusal_statuses = match fields.get("refusal_statuses") {
        None => REFUSALS.to_vec(),
        Some(item) => {
            let mut statuses = Vec::new();
            for status in fields.array("refusal_statuses") {
                let Val::Int(n) = status.val else {
                    continue;
                };
                let Ok(code) = u16::try_from(n) else { continue };
                if (200..300).contains(&code) {
                    cx.error(
                        status,
                        format!("{code} is an acknowledgement (Pub/Sub acks every 2xx), not a refusal"),
                        "statuses outside 2xx, such as 401 or 403",
                    );
                }
                statuses.push(code);
            }
            if statuses.is_empty() {
                cx.error(
                    item,
                    "refusal_statuses is empty, so no refusal could pass",
                    "one or more HTTP statuses outside 2xx, such as [401, 403]",
                );
            }
            statuses
        }
    };
    let subscribe = fields.bool("subscribe").unwrap_or(false);
    if let (Some(item), Some(t)) = (fields.get("subscribe"), target)
        && subscribe
        && t.pubsub != PubsubTarget::Embedded
    {
        cx.error(
            item,
            "subscribe = true needs the embedded Pub/Sub: Google's emulator pushes without an OIDC token (docs/protocol.md §7), so no push could be authenticated",
            "pubsub = \"embedded\" in [target], or subscribe = false",
        );
    }
    let listen = fields.str("google_listen").unwrap_or("127.0.0.1:0");
    let google_listen = match listen.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            if let Some(item) = fields.get("google_listen") {
                cx.error(
                    item,
                    format!("\"{listen}\" is not an IP address and port"),
                    "an address such as \"127.0.0.1:8099\" (port 0: any free port)",
                );
            }
            None
        }
    };
    let load = fields.table("load").and_then(|load| {
        let duration = load.duration("duration")?;
        if duration.is_zero()
            && let Some(item) = load.get("duration")
        {
            cx.error(
                item,
                "a push load of 0s sends nothing",
                "a duration such as \"10s\"",
            );
        }
        let rate = load.rate("rate")?;
        if rate.per_second() < 1.0
            && let Some(item) = load.get("rate")
        {
            cx.error(
                item,
                format!("a push load rate of \"{rate}\" is below one push per second"),
                "a rate of 1/s or more, such as \"200/s\" (goose throttles whole requests per second)",
            );
        }
        Some(PushLoad {
            rate,
            duration,
            users: u32::try_from(load.int("users").unwrap_or(8)).ok()?,
            invalid_share: load.float("invalid_share").unwrap_or(0.0),
            invalid: invalid_pushes(load, cx)?,
        })
    });
    Some(PushSettings {
        service_account,
        refusal_statuses,
        subscribe,
        google_listen: google_listen?,
        load,
    })
}

/// `[push.load] invalid`: refused push cases with a token of their own; all of them by default.
fn invalid_pushes(load: &Fields, cx: &mut Cx) -> Option<Vec<PushMutation>> {
    let Some(Item {
        val: Val::Array(items),
        ..
    }) = load.get("invalid")
    else {
        return Some(PushMutation::invalid().collect());
    };
    let mut out = Vec::new();
    for item in items {
        let Val::Str(id) = &item.val else { continue };
        match PushMutation::invalid().find(|m| m.case_id() == id) {
            Some(mutation) => out.push(mutation),
            None => {
                let ids: Vec<&str> = PushMutation::invalid().map(PushMutation::case_id).collect();
                cx.error(
                    item,
                    format!("`{id}` is not a push case whose token the endpoint must refuse"),
                    format!("one of {}", ids.join(", ")),
                );
                return None;
            }
        }
    }
    if out.is_empty()
        && let Some(item) = load.get("invalid")
    {
        cx.error(
            item,
            "an empty list of invalid pushes",
            "leave `invalid` out for every refused case, or name some",
        );
        return None;
    }
    Some(out)
}

fn is_email(text: &str) -> bool {
    text.split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.') && !text.contains(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_are_emails() {
        assert!(is_email("pusher@demo-project.iam.gserviceaccount.com"));
        assert!(!is_email("pusher"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("a b@example.com"));
    }
}
