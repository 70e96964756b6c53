//! Field-mask updates (`UpdateTopic`, `UpdateSubscription`, `UpdateSnapshot`): copy the named fields of the
//! request onto the stored resource, refuse fields that cannot change.

use gcloud_googleapis::pubsub::v1::{Snapshot, Subscription, Topic};

use crate::error::Error;

/// Applies the fields of `update` named by `paths` to `topic`.
pub fn topic(mut topic: Topic, update: Topic, paths: &[String]) -> Result<Topic, Error> {
    for path in normalized(paths)? {
        match path.as_str() {
            "labels" => topic.labels = update.labels.clone(),
            "message_retention_duration" => {
                topic.message_retention_duration = update.message_retention_duration
            }
            "message_storage_policy" => topic.message_storage_policy = update.message_storage_policy.clone(),
            other => return Err(cannot_update("topic", other)),
        }
    }
    Ok(topic)
}

/// Applies the fields of `update` named by `paths` to `sub`.
pub fn subscription(
    mut sub: Subscription,
    update: Subscription,
    paths: &[String],
) -> Result<Subscription, Error> {
    for path in normalized(paths)? {
        match path.as_str() {
            "ack_deadline_seconds" => sub.ack_deadline_seconds = update.ack_deadline_seconds,
            "push_config" => sub.push_config = update.push_config.clone(),
            "retry_policy" => sub.retry_policy = update.retry_policy,
            "dead_letter_policy" => sub.dead_letter_policy = update.dead_letter_policy.clone(),
            "labels" => sub.labels = update.labels.clone(),
            "message_retention_duration" => {
                sub.message_retention_duration = update.message_retention_duration
            }
            "retain_acked_messages" => sub.retain_acked_messages = update.retain_acked_messages,
            "expiration_policy" => sub.expiration_policy = update.expiration_policy,
            "enable_exactly_once_delivery" => {
                sub.enable_exactly_once_delivery = update.enable_exactly_once_delivery
            }
            other => return Err(cannot_update("subscription", other)),
        }
    }
    Ok(sub)
}

/// Applies the fields of `update` named by `paths` to `snapshot` (only its labels can change).
pub fn snapshot(mut snapshot: Snapshot, update: Snapshot, paths: &[String]) -> Result<Snapshot, Error> {
    for path in normalized(paths)? {
        match path.as_str() {
            "labels" => snapshot.labels = update.labels.clone(),
            other => return Err(cannot_update("snapshot", other)),
        }
    }
    Ok(snapshot)
}

fn normalized(paths: &[String]) -> Result<Vec<String>, Error> {
    if paths.is_empty() {
        return Err(Error::invalid(
            "The update_mask in the request is empty: name the fields to update.",
        ));
    }
    Ok(paths.iter().map(|p| snake_case(p.trim())).collect())
}

fn snake_case(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn cannot_update(kind: &str, path: &str) -> Error {
    Error::invalid(format!(
        "Invalid update_mask provided in the Update{kind} request: the field '{path}' cannot be updated."
    ))
}
