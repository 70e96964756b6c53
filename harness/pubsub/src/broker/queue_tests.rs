//! Unit tests of the subscription queue on explicit times.

use gcloud_googleapis::pubsub::v1::PubsubMessage;

use super::*;
use crate::broker::stored::Meter;

const T0: SystemTime = SystemTime::UNIX_EPOCH;
const SEC: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(86_400);

fn rules() -> Rules {
    Rules {
        ordering: false,
        retention: 7 * DAY,
        retry: None,
        max_delivery_attempts: None,
        exactly_once: false,
        retain_acked: false,
    }
}

fn msg(data: &str, key: &str) -> Message {
    let message = PubsubMessage {
        data: data.as_bytes().to_vec(),
        ordering_key: key.to_owned(),
        ..PubsubMessage::default()
    };
    let size = data.len() + key.len();
    Stored::batch(vec![(message, size)], &Meter::default()).remove(0)
}

fn datas(delivered: &[Delivered]) -> Vec<String> {
    delivered
        .iter()
        .map(|d| String::from_utf8_lossy(&d.message.data).into_owned())
        .collect()
}

fn id(d: &Delivered) -> AckId {
    AckId::parse(&d.ack_id).unwrap()
}

#[test]
fn acked_messages_are_not_redelivered() {
    let mut q = Queue::new(rules());
    q.push(msg("a", ""), T0);
    q.push(msg("b", ""), T0);
    let (got, _) = q.pull(T0, 10, 10 * SEC, 0);
    assert_eq!(datas(&got), ["a", "b"]);
    assert!(got.iter().all(|d| d.attempt == 1));
    assert!(q.ack(id(&got[0]), T0).is_ok());
    let (again, _) = q.pull(T0 + 60 * SEC, 10, 10 * SEC, 0);
    assert_eq!(datas(&again), ["b"], "only the unacked message comes back");
    assert_eq!(again[0].attempt, 2);
    assert_eq!(q.len(), 1);
}

#[test]
fn lease_expires_exactly_at_the_deadline_and_modack_extends_it() {
    let mut q = Queue::new(rules());
    q.push(msg("a", ""), T0);
    let (got, _) = q.pull(T0, 1, 10 * SEC, 0);
    assert_eq!(q.next_event(), Some(T0 + 10 * SEC));
    assert!(q.pull(T0 + 9 * SEC, 1, 10 * SEC, 0).0.is_empty());
    q.modify_deadline(id(&got[0]), T0 + 9 * SEC, 30 * SEC).unwrap();
    assert!(q.pull(T0 + 38 * SEC, 1, 10 * SEC, 0).0.is_empty());
    let (again, _) = q.pull(T0 + 39 * SEC, 1, 10 * SEC, 0);
    assert_eq!(datas(&again), ["a"]);
    assert_eq!(
        q.ack(id(&got[0]), T0),
        Err(AckFailure::Expired),
        "the first delivery's ack id is stale"
    );
    assert!(q.ack(id(&again[0]), T0).is_ok());
    assert!(q.is_empty());
}

#[test]
fn nack_with_retry_policy_waits_for_exponential_backoff() {
    let mut q = Queue::new(Rules {
        retry: Some((10 * SEC, 25 * SEC)),
        ..rules()
    });
    q.push(msg("a", ""), T0);
    let (got, _) = q.pull(T0, 1, 10 * SEC, 0);
    q.modify_deadline(id(&got[0]), T0, Duration::ZERO).unwrap();
    assert!(
        q.pull(T0 + 9 * SEC, 1, 10 * SEC, 0).0.is_empty(),
        "first backoff is the minimum"
    );
    let (second, _) = q.pull(T0 + 10 * SEC, 1, 10 * SEC, 0);
    assert_eq!(second[0].attempt, 2);
    q.modify_deadline(id(&second[0]), T0 + 10 * SEC, Duration::ZERO)
        .unwrap();
    assert!(
        q.pull(T0 + 29 * SEC, 1, 10 * SEC, 0).0.is_empty(),
        "second backoff doubles to 20s"
    );
    let (third, _) = q.pull(T0 + 30 * SEC, 1, 10 * SEC, 0);
    q.modify_deadline(id(&third[0]), T0 + 30 * SEC, Duration::ZERO)
        .unwrap();
    assert_eq!(
        q.next_event(),
        Some(T0 + 55 * SEC),
        "third backoff is capped at the maximum"
    );
}

#[test]
fn dead_letters_after_max_delivery_attempts() {
    let mut q = Queue::new(Rules {
        max_delivery_attempts: Some(5),
        ..rules()
    });
    q.push(msg("a", ""), T0);
    let mut now = T0;
    for attempt in 1..=5 {
        let (got, dead) = q.pull(now, 1, 10 * SEC, 0);
        assert!(dead.is_empty());
        assert_eq!(got[0].attempt, attempt);
        now += 10 * SEC;
    }
    let (got, dead) = q.pull(now, 1, 10 * SEC, 0);
    assert!(got.is_empty());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 5);
    assert!(q.is_empty());
}

#[test]
fn ordering_key_delivers_one_message_at_a_time_in_order() {
    let mut q = Queue::new(Rules {
        ordering: true,
        ..rules()
    });
    for (data, key) in [("k1", "k"), ("x", ""), ("k2", "k"), ("j1", "j"), ("k3", "k")] {
        q.push(msg(data, key), T0);
    }
    let (got, _) = q.pull(T0, 10, 10 * SEC, 0);
    assert_eq!(datas(&got), ["x", "k1", "j1"]);
    let k1 = got.iter().find(|d| d.message.data == b"k1").unwrap();
    assert!(q.pull(T0, 10, 10 * SEC, 0).0.is_empty(), "k2 waits for k1's ack");
    q.modify_deadline(id(k1), T0, Duration::ZERO).unwrap();
    let (again, _) = q.pull(T0, 10, 10 * SEC, 0);
    assert_eq!(
        datas(&again),
        ["k1"],
        "a nacked head is redelivered before the rest of its key"
    );
    q.ack(id(&again[0]), T0).unwrap();
    let (next, _) = q.pull(T0, 10, 10 * SEC, 0);
    assert_eq!(datas(&next), ["k2"]);
    q.ack(id(&next[0]), T0).unwrap();
    assert_eq!(datas(&q.pull(T0, 10, 10 * SEC, 0).0), ["k3"]);
}

#[test]
fn messages_older_than_retention_are_dropped() {
    let mut q = Queue::new(Rules {
        retention: 600 * SEC,
        ..rules()
    });
    q.push(msg("old", ""), T0);
    q.push(msg("new", ""), T0 + 300 * SEC);
    let (got, _) = q.pull(T0 + 600 * SEC, 10, 10 * SEC, 0);
    assert_eq!(datas(&got), ["new"]);
    assert_eq!(q.len(), 1);
}

#[test]
fn outstanding_counts_follow_acks_and_expiry() {
    let mut q = Queue::new(rules());
    for d in ["a", "b", "c"] {
        q.push(msg(d, ""), T0);
    }
    let (got, _) = q.pull(T0, 2, 10 * SEC, 7);
    assert_eq!(q.outstanding(7), 2);
    q.ack(id(&got[0]), T0).unwrap();
    assert_eq!(q.outstanding(7), 1);
    q.tick(T0 + 10 * SEC);
    assert_eq!(q.outstanding(7), 0);
    assert!(q.has_available());
}

#[test]
fn ack_ids_of_other_forms_are_rejected_by_the_parser() {
    assert!(AckId::parse("12-1").is_some());
    for bad in ["", "x", "1-", "-1", "a-b", "1-2-3"] {
        assert!(AckId::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn exactly_once_acks_only_while_the_lease_is_held() {
    let mut q = Queue::new(Rules {
        exactly_once: true,
        ..rules()
    });
    q.push(msg("a", ""), T0);
    q.push(msg("b", ""), T0);
    let (got, _) = q.pull(T0, 2, 10 * SEC, 0);
    assert_eq!(q.ack(id(&got[0]), T0 + 9 * SEC), Ok(()));
    assert_eq!(
        q.ack(id(&got[0]), T0 + 9 * SEC),
        Err(AckFailure::Invalid),
        "a second ack finds nothing to acknowledge"
    );
    assert_eq!(
        q.ack(id(&got[1]), T0 + 10 * SEC),
        Err(AckFailure::Expired),
        "the deadline has passed"
    );
    assert_eq!(
        q.modify_deadline(id(&got[1]), T0 + 10 * SEC, 60 * SEC),
        Err(AckFailure::Expired)
    );
    let (again, _) = q.pull(T0 + 10 * SEC, 2, 10 * SEC, 0);
    assert_eq!(datas(&again), ["b"], "the acked message is never redelivered");
    assert_eq!(again[0].attempt, 2);
    assert_eq!(q.ack(id(&got[1]), T0 + 11 * SEC), Err(AckFailure::Expired));
    assert_eq!(q.ack(id(&again[0]), T0 + 11 * SEC), Ok(()));
    assert!(q.is_empty());
}

#[test]
fn without_exactly_once_a_late_ack_still_counts() {
    let mut q = Queue::new(rules());
    q.push(msg("a", ""), T0);
    let (got, _) = q.pull(T0, 1, 10 * SEC, 0);
    assert_eq!(q.ack(id(&got[0]), T0 + 20 * SEC), Ok(()));
    assert!(q.is_empty());
}

#[test]
fn retained_acked_messages_survive_until_retention_and_reset_restores_them() {
    let mut q = Queue::new(Rules {
        retain_acked: true,
        retention: 600 * SEC,
        ..rules()
    });
    q.push(msg("a", ""), T0);
    q.push(msg("b", ""), T0 + 100 * SEC);
    let (got, _) = q.pull(T0 + 100 * SEC, 2, 10 * SEC, 0);
    for d in &got {
        q.ack(id(d), T0 + 100 * SEC).unwrap();
    }
    assert!(q.is_empty());
    assert_eq!(q.retained_acked().len(), 2);
    let unacked = q.retained_acked();
    q.reset(unacked, Vec::new());
    assert!(q.retained_acked().is_empty());
    let (again, _) = q.pull(T0 + 200 * SEC, 10, 10 * SEC, 0);
    assert_eq!(datas(&again), ["a", "b"], "a reset makes them deliverable again");
    for d in &again {
        q.ack(id(d), T0 + 200 * SEC).unwrap();
    }
    q.tick(T0 + 600 * SEC);
    assert_eq!(q.retained_acked().len(), 1, "a is past retention");
    assert_eq!(q.unacked().len(), 0);
}

#[test]
fn ack_ids_from_before_a_reset_match_nothing_after_it() {
    let mut q = Queue::new(rules());
    q.push(msg("a", ""), T0);
    let (before, _) = q.pull(T0, 1, 10 * SEC, 0);
    let unacked = q.unacked();
    q.reset(unacked, Vec::new());
    let (after, _) = q.pull(T0, 1, 10 * SEC, 0);
    assert_eq!(datas(&after), ["a"]);
    assert_ne!(before[0].ack_id, after[0].ack_id);
    assert_eq!(q.ack(id(&before[0]), T0), Err(AckFailure::Invalid));
    assert_eq!(q.len(), 1, "the stale ack id acknowledged nothing");
}
