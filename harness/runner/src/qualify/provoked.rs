//! Cases in which the bridge misbehaves on purpose and judges the device's answer: a bad
//! server certificate, refused connects, unanswered connects, a close as for an expired token.

use std::time::Duration;

use fleetgate_bridge::events::{Cause, Event, Recorded, Verdict};
use fleetgate_bridge::tls::BadCertificate;
use tokio::time::Instant;

use super::catalogue::Settings;
use super::device::{Device, Finding, attempt, list, secs};
use crate::observe::rfc3339;

/// The least wait after a failed connect, with 10 ms for timers.
const MIN_WAIT_MS: i64 = 990;

/// How much two waits at the same failure count must differ to show jitter: 2 % of their
/// mean, and at least 50 ms (more than loopback adds to a deterministic device's wait). A
/// device drawing its waits from [cap/2, cap] differs by less at all of 3 failure counts with
/// a chance of about 2 in 10,000.
fn jittered(a: f64, b: f64) -> bool {
    (a - b).abs() > (0.02 * (a + b) / 2.0).max(0.05)
}

/// `device.tls-*`: presents `which` to the device's address, makes it reconnect, and expects
/// the handshake to fail before any CONNECT.
pub(super) async fn tls(device: &mut Device, which: BadCertificate, settings: Settings) -> Finding {
    let bad = match device.shared.bad_tls(which) {
        Ok(Some(bad)) => bad,
        Ok(None) if device.shared.tls.is_none() => {
            return Finding::skipped("not judged: the bridge serves plain MQTT ([bridge] tls = false)");
        }
        Ok(None) => {
            return Finding::skipped(
                "not judged: the bridge uses the scenario's certificate files, and fleetgate has no CA key to sign a bad certificate with",
            );
        }
        Err(e) => return Finding::failed(format!("could not make the certificate: {e}")),
    };
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let shared = std::sync::Arc::clone(&device.shared);
    let faults = shared.bridge.faults();
    faults.present_tls(device.ip, Some(bad));
    device
        .close(Cause::Admin(
            "qualification: reconnect to meet a bad certificate".into(),
        ))
        .await;
    let until = Instant::now() + settings.timeout;
    let answer = device
        .wait_for(until, |r| {
            matches!(r.event, Event::Dropped { .. }) || attempt(r).is_some()
        })
        .await;
    faults.present_tls(device.ip, None);
    let what = match which {
        BadCertificate::UntrustedCa => "from a CA it was not given",
        BadCertificate::WrongHost => "for another host name",
        BadCertificate::Expired => "that expired a day ago",
    };
    match answer.map(|r| (r.at, r.event)) {
        None => Finding::failed(format!(
            "the device did not reconnect within {}s, so its check of a certificate {what} was not seen",
            settings.timeout.as_secs()
        )),
        Some((at, Event::Dropped { reason })) => Finding::passed()
            .with("handshake", reason)
            .with("at", rfc3339(at)),
        Some((at, _)) => Finding::failed(format!(
            "the device accepted a server certificate {what} and sent CONNECT"
        ))
        .with("connect_at", rfc3339(at)),
    }
}

/// The attempts after a close until one is accepted: their times and verdicts.
async fn attempts_until_accepted(
    device: &mut Device,
    timeout: Duration,
) -> Result<Vec<(i64, Verdict)>, Vec<(i64, Verdict)>> {
    let until = Instant::now() + timeout;
    let mut seen = Vec::new();
    while let Some(recorded) = device.wait_for(until, |r| attempt(r).is_some()).await {
        if let Some(a) = attempt(&recorded) {
            seen.push((recorded.at, a.verdict.clone()));
            if a.verdict == Verdict::Accepted {
                return Ok(seen);
            }
        }
    }
    Err(seen)
}

/// The waits between consecutive attempts, seconds.
fn intervals(times: &[i64]) -> Vec<f64> {
    times.windows(2).map(|w| secs(w[0], w[1])).collect()
}

/// Problems of one series of waits after consecutive failures.
fn backoff_problems(waits: &[f64]) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(short) = waits.iter().find(|w| **w * 1000.0 < MIN_WAIT_MS as f64) {
        problems.push(format!("retried after {short:.2} s (at least 1 s)"));
    }
    if let (Some(first), Some(last)) = (waits.first(), waits.last())
        && waits.len() >= 3
        && *last < 1.5 * first
    {
        problems.push(format!(
            "the waits did not grow: {first:.2} s after the first failure, {last:.2} s after the last"
        ));
    }
    problems
}

/// `device.backoff-refused`: two rounds of `count` refused connects; waits of ≥ 1 s that grow,
/// and differ between the rounds (jitter).
pub(super) async fn backoff_refused(device: &mut Device, settings: Settings) -> Finding {
    let mut rounds: Vec<Vec<f64>> = Vec::new();
    for round in 1..=2 {
        if let Err(why) = device.connected(settings.timeout).await {
            return Finding::skipped(why);
        }
        device
            .shared
            .bridge
            .faults()
            .refuse_next(&device.id, settings.count);
        device
            .close(Cause::Admin("qualification: refused connects follow".into()))
            .await;
        let attempts = attempts_until_accepted(device, settings.timeout).await;
        device.shared.bridge.faults().refuse_next(&device.id, 0);
        let times: Vec<i64> = match &attempts {
            Ok(a) | Err(a) => a.iter().map(|(t, _)| *t).collect(),
        };
        if attempts.is_err() {
            return Finding::failed(format!(
                "round {round}: {} attempts within {}s, and none after the last refusal",
                times.len(),
                settings.timeout.as_secs()
            ))
            .with(&format!("round_{round}_waits_s"), list(&intervals(&times)));
        }
        rounds.push(intervals(&times));
    }
    let mut problems: Vec<String> = rounds.iter().flat_map(|w| backoff_problems(w)).collect();
    let jitter = rounds[0].iter().zip(&rounds[1]).any(|(a, b)| jittered(*a, *b));
    if !jitter {
        problems
            .push("the waits were the same in both rounds: no jitter, so a fleet retries in lockstep".into());
    }
    let finding = match problems.first() {
        None => Finding::passed(),
        Some(first) => Finding::failed(first.clone()),
    };
    finding
        .with("refused_per_round", settings.count)
        .with("round_1_waits_s", list(&rounds[0]))
        .with("round_2_waits_s", list(&rounds[1]))
        .with("jitter", jitter)
}

/// Where the device is in the unanswered-connects case.
enum Unanswered {
    /// Waiting for its next CONNECT; since it gave up at this time, if it did.
    Retrying(Option<i64>),
    /// Its CONNECT was left unanswered at this time.
    Waiting(i64),
}

/// What the device did in the unanswered-connects case.
#[derive(Default)]
struct NoConnack {
    gave_up_after: Vec<f64>,
    waits: Vec<f64>,
}

impl NoConnack {
    /// Takes one event; `true` once the device connected again.
    fn step(&mut self, state: &mut Unanswered, recorded: &Recorded) -> bool {
        match (attempt(recorded), &*state) {
            (Some(a), Unanswered::Retrying(since)) => {
                if let Some(since) = since {
                    self.waits.push(secs(*since, recorded.at));
                }
                if a.verdict == Verdict::Withheld {
                    *state = Unanswered::Waiting(recorded.at);
                    return false;
                }
                true
            }
            (None, Unanswered::Waiting(sent)) => {
                self.gave_up_after.push(secs(*sent, recorded.at));
                *state = Unanswered::Retrying(Some(recorded.at));
                false
            }
            _ => false,
        }
    }
}

/// `device.backoff-no-connack`: `count` CONNECTs left unanswered; the device must give up on
/// each and wait ≥ 1 s, longer each time, before the next.
pub(super) async fn backoff_no_connack(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    device
        .shared
        .bridge
        .faults()
        .withhold_next(&device.id, settings.count);
    device
        .close(Cause::Admin("qualification: unanswered connects follow".into()))
        .await;
    let until = Instant::now() + settings.timeout;
    let (mut seen, mut state) = (NoConnack::default(), Unanswered::Retrying(None));
    let mut connected = false;
    while !connected {
        let next = device
            .wait_for(until, |r| {
                attempt(r).is_some() || matches!(r.event, Event::Dropped { .. })
            })
            .await;
        match next {
            Some(recorded) => connected = seen.step(&mut state, &recorded),
            None => break,
        }
    }
    device.shared.bridge.faults().withhold_next(&device.id, 0);
    let finding = match (connected, &state) {
        (false, Unanswered::Waiting(_)) => Finding::failed(format!(
            "the device still waited for a CONNACK after {}s: it must give up by itself",
            settings.timeout.as_secs()
        )),
        (false, _) => Finding::failed(format!(
            "the device did not connect again within {}s",
            settings.timeout.as_secs()
        )),
        (true, _) => match backoff_problems(&seen.waits).first() {
            None => Finding::passed(),
            Some(problem) => Finding::failed(problem.clone()),
        },
    };
    finding
        .with("unanswered", settings.count)
        .with("gave_up_after_s", list(&seen.gave_up_after))
        .with("waits_s", list(&seen.waits))
}

/// `device.fresh-token`: closes the connection as for an expired token; the next CONNECT must
/// carry another JWT, minted later.
pub(super) async fn fresh_token(device: &mut Device, settings: Settings) -> Finding {
    if let Err(why) = device.connected(settings.timeout).await {
        return Finding::skipped(why);
    }
    let Some(old) = device.current().cloned() else {
        return Finding::skipped("not judged: the device is not connected");
    };
    device.close(Cause::TokenExpired).await;
    let until = Instant::now() + settings.timeout;
    let Some(next) = device.wait_for(until, |r| attempt(r).is_some()).await else {
        return Finding::failed(format!(
            "the device did not connect again within {}s after the expiry close",
            settings.timeout.as_secs()
        ));
    };
    let Some(new) = attempt(&next) else {
        return Finding::failed("no CONNECT");
    };
    let iat = |a: &fleetgate_bridge::events::ConnectAttempt| a.claims.as_ref().and_then(|c| c.iat);
    let same = new.token_fingerprint == old.token_fingerprint;
    let later = iat(new) > iat(&old);
    Finding::unless(
        !same && iat(new) >= iat(&old),
        match same {
            true => {
                "the device presented the same JWT again after the bridge closed it as expired".to_owned()
            }
            false => "the new JWT was minted before the old one".to_owned(),
        },
    )
    .with("old_iat", iat(&old).map_or("-".into(), |t| rfc3339(t * 1000)))
    .with("new_iat", iat(new).map_or("-".into(), |t| rfc3339(t * 1000)))
    .with("later_iat", later)
    .with("old_token", old.token_fingerprint.as_deref().unwrap_or("-"))
    .with("new_token", new.token_fingerprint.as_deref().unwrap_or("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_under_a_second_or_that_do_not_grow_are_problems() {
        assert!(backoff_problems(&[1.2, 2.5, 5.1]).is_empty());
        assert!(backoff_problems(&[0.06, 0.06, 0.06])[0].contains("retried after 0.06 s"));
        assert!(backoff_problems(&[3.4, 4.2, 4.8])[0].contains("did not grow"));
        assert!(
            backoff_problems(&[2.0, 1.5]).is_empty(),
            "growth needs three waits to judge"
        );
    }

    #[test]
    fn jitter_is_a_difference_beyond_the_network_s() {
        assert!(!jittered(2.000, 2.010), "10 ms is the network");
        assert!(!jittered(8.00, 8.15), "under 2 %");
        assert!(jittered(2.0, 2.6));
    }

    fn recorded(at: i64, event: Event) -> Recorded {
        Recorded {
            at,
            peer: std::net::SocketAddr::from(([127, 0, 0, 2], 5000)),
            event,
        }
    }

    fn connect(at: i64, verdict: Verdict) -> Recorded {
        recorded(
            at,
            Event::ConnectAttempt(fleetgate_bridge::events::ConnectAttempt {
                client_id: "c".into(),
                device: Some("pi-1".into()),
                claims: None,
                server_time: at,
                keep_alive: 60,
                token_fingerprint: None,
                verdict,
            }),
        )
    }

    #[test]
    fn unanswered_connects_measure_the_give_up_and_the_wait_after_it() {
        let mut seen = NoConnack::default();
        let mut state = Unanswered::Retrying(None);
        let dropped = |at| {
            recorded(
                at,
                Event::Dropped {
                    reason: "ended while its CONNACK was withheld".into(),
                },
            )
        };
        assert!(!seen.step(&mut state, &connect(1_000, Verdict::Withheld)));
        assert!(!seen.step(&mut state, &dropped(4_000)));
        assert!(!seen.step(&mut state, &connect(5_500, Verdict::Withheld)));
        assert!(!seen.step(&mut state, &dropped(8_500)));
        assert!(seen.step(&mut state, &connect(11_500, Verdict::Accepted)));
        assert_eq!(seen.gave_up_after, [3.0, 3.0]);
        assert_eq!(seen.waits, [1.5, 3.0]);
    }
}
