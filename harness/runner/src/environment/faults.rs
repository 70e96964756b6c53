//! The scenario's `[[fault]]` schedule, run against the embedded bridge from the start of the
//! run: each fault is applied at its time and, when it lasts a while, reverted after.

use std::time::Duration;

use fleetgate_bridge::Bridge;
use fleetgate_scenario::model::{Fault, FaultAction};
use tokio::task::JoinHandle;

/// Runs `faults` (in time order) against `bridge` from now; `applied` hears of each one as it
/// takes effect. Faults due at once (`at = "0s"`) are applied before this returns, so that no
/// device started after it can slip past them; the rest run on the returned task.
pub async fn schedule(
    bridge: Bridge,
    faults: Vec<Fault>,
    applied: impl Fn(&Fault) + Send + Sync + 'static,
) -> JoinHandle<()> {
    let start = tokio::time::Instant::now();
    let mut faults = faults.into_iter().peekable();
    while let Some(fault) = faults.next_if(|f| f.at.is_zero()) {
        begin(&bridge, &fault, &applied).await;
    }
    tokio::spawn(async move {
        for fault in faults {
            tokio::time::sleep_until(start + fault.at).await;
            begin(&bridge, &fault, &applied).await;
        }
    })
}

/// Applies `fault`, says so, and schedules its end when it lasts a while.
async fn begin(bridge: &Bridge, fault: &Fault, applied: &impl Fn(&Fault)) {
    apply(bridge, &fault.action).await;
    applied(fault);
    if let Some(lasting) = lasting(&fault.action) {
        let (bridge, action) = (bridge.clone(), fault.action.clone());
        tokio::spawn(async move {
            tokio::time::sleep(lasting).await;
            revert(&bridge, &action);
        });
    }
}

async fn apply(bridge: &Bridge, action: &FaultAction) {
    match action {
        FaultAction::DropConnection { device } => {
            bridge.disconnect(device, "injected fault").await;
        }
        FaultAction::RefuseConnects { device, count } => bridge.faults().refuse_next(device, *count),
        FaultAction::DelayPubacks { delay, .. } => bridge.faults().delay_pubacks(*delay),
        FaultAction::StallForwarding { .. } => bridge.faults().stall_forwarding(true),
        FaultAction::RestartListener { down } => bridge.restart_listener(*down).await,
    }
}

fn lasting(action: &FaultAction) -> Option<Duration> {
    match action {
        FaultAction::DelayPubacks { lasting, .. } | FaultAction::StallForwarding { lasting } => *lasting,
        _ => None,
    }
}

fn revert(bridge: &Bridge, action: &FaultAction) {
    match action {
        FaultAction::DelayPubacks { .. } => bridge.faults().delay_pubacks(Duration::ZERO),
        FaultAction::StallForwarding { .. } => bridge.faults().stall_forwarding(false),
        _ => {}
    }
}

/// One line on a fault, for people watching.
pub fn describe(fault: &Fault) -> String {
    let at = format!("{:.1}s", fault.at.as_secs_f64());
    match &fault.action {
        FaultAction::DropConnection { device } => format!("fault at {at}: drop the connection of {device}"),
        FaultAction::RefuseConnects { device, count } => {
            format!("fault at {at}: refuse the next {count} connects of {device}")
        }
        FaultAction::DelayPubacks { delay, lasting } => {
            format!("fault at {at}: delay PUBACKs by {delay:?}{}", until(*lasting))
        }
        FaultAction::StallForwarding { lasting } => {
            format!("fault at {at}: stall forwarding{}", until(*lasting))
        }
        FaultAction::RestartListener { down } => {
            format!("fault at {at}: restart the listener, down for {down:?}")
        }
    }
}

fn until(lasting: Option<Duration>) -> String {
    lasting.map(|d| format!(" for {d:?}")).unwrap_or_default()
}
