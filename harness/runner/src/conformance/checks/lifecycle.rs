//! Disconnects that rules tie to long times (`exp` + skew, the 20 min idle limit, the 24 h
//! connection limit), checked on the embedded bridge by moving its clock, and on an external
//! bridge, where the rule allows, with a token that is already inside its skew window.

use std::time::Duration;

use fleetgate_identity::jwt::{DeviceClaims, mint};

use super::connect::attempt;
use super::session::open;
use super::{Ctx, LifecycleCheck, Outcome};
use crate::conformance::evidence::Observation;
use crate::conformance::probe::{ConnectParams, Probe};
use crate::conformance::target::{Embedded, ProbeDevice};

fn err(e: impl ToString) -> String {
    e.to_string()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Moves the embedded bridge's clock to `at` (Unix ms), if that is ahead.
fn move_to(embedded: &Embedded, at: i64) {
    let by = at - embedded.bridge.now();
    if by > 0 {
        embedded
            .bridge
            .clock()
            .advance(Duration::from_millis(u64::try_from(by).unwrap_or(0)));
    }
}

pub(super) async fn run(which: LifecycleCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    match which {
        LifecycleCheck::DisconnectAtExpPlusSkew | LifecycleCheck::RefreshByReconnect => {
            expiry(which, ctx).await
        }
        LifecycleCheck::IdleLimit => idle(ctx).await,
        LifecycleCheck::KeepAlive => keep_alive(ctx).await,
        LifecycleCheck::MaxConnection => max_connection(ctx).await,
    }
}

/// The expiry disconnect; for `refresh-by-reconnect` the reconnects after it, which are judged
/// only when the disconnect happened as the rule says (else the case is not judged, naming
/// the precondition, instead of repeating `disconnect-at-exp-plus-skew`'s failure).
async fn expiry(which: LifecycleCheck, ctx: &Ctx<'_>) -> Result<Observation, String> {
    let target = ctx.target;
    let device = target.device(0)?;
    let now = target.now();
    let exp = match &target.embedded {
        Some(_) => now + 60,
        None => now - target.profile.jwt.skew_secs + i64::try_from(ctx.wait.as_secs()).unwrap_or(10),
    };
    let claims = DeviceClaims {
        exp,
        ..DeviceClaims::new(&target.path.project, exp - 3600, 0)
    };
    let old = mint(&device.key, &claims).map_err(err)?;
    let seen = disconnect(ctx, &device, &old, exp).await?;
    if which == LifecycleCheck::DisconnectAtExpPlusSkew {
        return Ok(seen);
    }
    if seen.outcome == Outcome::Accept || seen.problem.is_some() {
        let what = seen
            .problem
            .clone()
            .or_else(|| seen.evidence.get("connection").cloned())
            .unwrap_or_default();
        let mut unmet = Observation::not_judged(format!(
            "its precondition, the expiry disconnect (lifecycle.disconnect-at-exp-plus-skew), did not happen: {what}"
        ));
        unmet.evidence = seen.evidence;
        return Ok(unmet);
    }
    refresh(ctx, &device, old, seen).await
}

/// A connection with `token`, which expires at `exp` soon: on the embedded bridge 60 s ahead and
/// the clock moved; elsewhere already `skew − wait` in the past.
async fn disconnect(
    ctx: &Ctx<'_>,
    device: &ProbeDevice,
    token: &str,
    exp: i64,
) -> Result<Observation, String> {
    let target = ctx.target;
    let profile = &target.profile;
    let skew = profile.jwt.skew_secs;
    let grace = i64::try_from(profile.expiry_grace.as_secs()).unwrap_or(5);
    let params = ConnectParams::new(target.client_id(&device.id), token.to_owned());
    let (Some(mut probe), _) = attempt(ctx, &params).await? else {
        return Ok(Observation::broken("a token inside its skew window was refused"));
    };
    let closes = (exp + skew) * 1000;
    let mut seen = match &target.embedded {
        Some(embedded) => {
            move_to(embedded, closes - 2000);
            if probe.closed().await.map_err(err)? {
                return Ok(Observation::broken("closed before exp + skew").with("exp", exp));
            }
            move_to(embedded, closes + ms(profile.expiry_grace) + 1000);
            // The clock reaches the connection as an event of its own: wait for the close.
            if !probe.wait_close(ctx.endpoint.timeout).await.map_err(err)? {
                return Ok(Observation::accepted().with(
                    "connection",
                    format!("still open {}s after exp + skew", grace + 1),
                ));
            }
            let cause = target.disconnect_cause(&device.id).await;
            Observation::refused(None, cause.clone())
                .with("disconnect_cause", cause.unwrap_or_default())
                .with(
                    "clock_moved",
                    "to exp + skew − 2 s (open), then exp + skew + grace + 1 s (closed)",
                )
        }
        None => {
            let limit = ctx.wait + profile.expiry_grace + ctx.endpoint.timeout;
            let closed = probe.wait_close(limit).await.map_err(err)?;
            let at = target.now();
            if !closed {
                return Ok(Observation::accepted().with(
                    "connection",
                    format!("still open {}s after exp + skew", at - exp - skew),
                ));
            }
            if at * 1000 < closes - 1000 {
                return Ok(Observation::broken(format!(
                    "closed {}s before exp + skew",
                    exp + skew - at
                )));
            }
            Observation::refused(None, None).with("closed_after_exp_plus_skew_s", at - exp - skew)
        }
    };
    seen.note("exp", exp);
    seen.note("skew_s", skew);
    Ok(seen)
}

/// After the expiry disconnect: the old token is refused, a new one accepted.
async fn refresh(
    ctx: &Ctx<'_>,
    device: &ProbeDevice,
    old: String,
    seen: Observation,
) -> Result<Observation, String> {
    let client_id = ctx.target.client_id(&device.id);
    let (again, _) = attempt(ctx, &ConnectParams::new(client_id.clone(), old)).await?;
    if again.is_some() {
        return Ok(Observation::broken("the expired JWT was accepted again"));
    }
    let fresh = DeviceClaims::new(&ctx.target.path.project, ctx.target.now(), 3600);
    let token = mint(&device.key, &fresh).map_err(err)?;
    let (renewed, _) = attempt(ctx, &ConnectParams::new(client_id, token)).await?;
    if renewed.is_none() {
        return Ok(Observation::broken(
            "a fresh JWT was refused after the expiry disconnect",
        ));
    }
    Ok(seen
        .with("old_jwt_after_expiry", "refused")
        .with("new_jwt", "accepted"))
}

/// A connection with a one-day token, for the idle and age limits.
async fn day_long(ctx: &Ctx<'_>) -> Result<(ProbeDevice, Probe), String> {
    let device = ctx.target.device(0)?;
    let lifetime = fleetgate_identity::rules::DAY_SECS;
    let claims = DeviceClaims::new(&ctx.target.path.project, ctx.target.now(), lifetime);
    let jwt = mint(&device.key, &claims).map_err(err)?;
    let params = ConnectParams::new(ctx.target.client_id(&device.id), jwt);
    match attempt(ctx, &params).await? {
        (Some(probe), _) => Ok((device, probe)),
        (None, _) => open(ctx, &device).await.map(|p| (device, p)),
    }
}

/// Waits for the close the moved clock must cause, then reads its cause.
async fn closed_by_clock(
    ctx: &Ctx<'_>,
    probe: &mut Probe,
    device: &str,
    what: &str,
) -> Result<Observation, String> {
    if !probe.wait_close(ctx.endpoint.timeout).await.map_err(err)? {
        return Ok(Observation::accepted().with("connection", format!("still open past the {what}")));
    }
    let cause = ctx.target.disconnect_cause(device).await;
    Ok(Observation::refused(None, cause.clone()).with("disconnect_cause", cause.unwrap_or_default()))
}

async fn idle(ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    let limit = ms(ctx.target.profile.idle_limit);
    let (device, mut probe) = day_long(ctx).await?;
    move_to(embedded, embedded.bridge.now() + limit - 1000);
    if !probe.ping().await.map_err(err)? {
        return Ok(Observation::broken("closed before the idle limit"));
    }
    move_to(embedded, embedded.bridge.now() + limit + 1000);
    Ok(closed_by_clock(ctx, &mut probe, &device.id, "idle limit")
        .await?
        .with("idle_limit_s", limit / 1000)
        .with(
            "clock_moved",
            "idle limit − 1 s (ping answered), then idle limit + 1 s without traffic",
        ))
}

async fn max_connection(ctx: &Ctx<'_>) -> Result<Observation, String> {
    let embedded = ctx.target.embedded()?;
    let profile = &ctx.target.profile;
    let start = embedded.bridge.now();
    let (device, mut probe) = day_long(ctx).await?;
    let end = start + ms(profile.max_connection);
    let step = ms(profile.idle_limit) - 60_000;
    let mut pings = 0;
    while embedded.bridge.now() + step < end - 2000 {
        move_to(embedded, embedded.bridge.now() + step);
        if !probe.ping().await.map_err(err)? {
            return Ok(Observation::broken(
                "closed before the connection time limit, while busy",
            ));
        }
        pings += 1;
    }
    move_to(embedded, end - 2000);
    if !probe.ping().await.map_err(err)? {
        return Ok(Observation::broken(
            "closed before the connection time limit, while busy",
        ));
    }
    move_to(embedded, end + 2000);
    Ok(
        closed_by_clock(ctx, &mut probe, &device.id, "connection time limit")
            .await?
            .with("max_connection_s", ms(profile.max_connection) / 1000)
            .with("pings_while_clock_moved", pings),
    )
}

/// The keep-alive the keep-alive case asks for on the embedded bridge (its clock moves), and
/// on an external one (real time passes).
const KEEP_ALIVE_EMBEDDED: u16 = 60;
const KEEP_ALIVE_EXTERNAL: u16 = 2;

/// A connection with keep-alive `k` that goes silent: open just before 1.5 × k (a ping is
/// answered), closed after it.
async fn keep_alive(ctx: &Ctx<'_>) -> Result<Observation, String> {
    let target = ctx.target;
    let device = target.device(0)?;
    let claims = DeviceClaims::new(&target.path.project, target.now(), 3600);
    let jwt = mint(&device.key, &claims).map_err(err)?;
    let keep_alive = match target.embedded {
        Some(_) => KEEP_ALIVE_EMBEDDED,
        None => KEEP_ALIVE_EXTERNAL,
    };
    let params = ConnectParams {
        keep_alive,
        ..ConnectParams::new(target.client_id(&device.id), jwt)
    };
    let (Some(mut probe), _) = attempt(ctx, &params).await? else {
        return Ok(Observation::broken("a valid CONNECT was refused"));
    };
    let limit = i64::from(keep_alive) * 1500;
    let seen = match &target.embedded {
        Some(embedded) => {
            move_to(embedded, embedded.bridge.now() + limit - 1000);
            if !probe.ping().await.map_err(err)? {
                return Ok(Observation::broken("closed before 1.5 × the keep-alive"));
            }
            move_to(embedded, embedded.bridge.now() + limit + 1000);
            closed_by_clock(ctx, &mut probe, &device.id, "1.5 × keep-alive")
                .await?
                .with(
                    "clock_moved",
                    "1.5 × keep-alive − 1 s (ping answered), then 1.5 × keep-alive + 1 s without traffic",
                )
        }
        None => {
            let started = std::time::Instant::now();
            let wait = Duration::from_millis(u64::try_from(limit).unwrap_or(3000)) + ctx.endpoint.timeout;
            if !probe.wait_close(wait).await.map_err(err)? {
                return Ok(Observation::accepted().with(
                    "connection",
                    format!("still open {} s after going silent", wait.as_secs()),
                ));
            }
            let after = started.elapsed();
            if after < Duration::from_secs(u64::from(keep_alive)) {
                return Ok(Observation::broken(format!(
                    "closed {:.1} s after going silent, before the {keep_alive} s keep-alive",
                    after.as_secs_f64()
                )));
            }
            Observation::refused(None, None).with("closed_after_s", format!("{:.1}", after.as_secs_f64()))
        }
    };
    Ok(seen.with("keep_alive_s", keep_alive))
}
