//! The conformance cases this build can run. Scenario files select from it by id or glob, and
//! `fleetgate cases` lists it.

use fleetgate_push::cases::PushCase;

/// Which part of the pipeline a case checks, and so which executor runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// docs/protocol.md §1–5: the MQTT bridge and what it forwards (`auth.*`, `clock.*`, …).
    Bridge,
    /// docs/protocol.md §6: a push endpoint's validation of Google-signed tokens (`push.*`).
    Push,
    /// docs/protocol.md §10: what a real device does (`device.*`), run by `fleetgate qualify`.
    Device,
}

/// One conformance case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseInfo {
    /// Stable id, such as `auth.aud-mismatch`.
    pub id: &'static str,
    /// The docs/protocol.md rule it checks.
    pub rule: &'static str,
    /// Which executor runs it.
    pub family: Family,
}

/// Every case, in the order reports list them: bridge cases, push cases, device cases.
pub fn cases() -> Vec<CaseInfo> {
    let bridge = crate::conformance::catalogue::all().iter().map(|case| CaseInfo {
        id: case.id.as_str(),
        rule: case.rule.as_str(),
        family: Family::Bridge,
    });
    let push = PushCase::ALL.iter().map(|case| CaseInfo {
        id: case.id(),
        rule: case.rule(),
        family: Family::Push,
    });
    let device = crate::qualify::catalogue::DeviceCase::ALL
        .into_iter()
        .map(|case| CaseInfo {
            id: case.id(),
            rule: case.rule(),
            family: Family::Device,
        });
    bridge.chain(push).chain(device).collect()
}

/// The embedded bridge's safety checks whose absence a bridge case detects (test-only: the
/// conformance self-check switches each off in turn).
#[doc(hidden)]
pub fn safety_checks(id: &str) -> Vec<fleetgate_bridge::safety::SafetyCheck> {
    crate::conformance::catalogue::find(id).map_or_else(Vec::new, |case| case.safety())
}

/// The ids of [`cases`], for the scenario compiler.
pub fn case_ids() -> Vec<&'static str> {
    cases().iter().map(|c| c.id).collect()
}

/// The catalogue entry of `id`.
pub fn find(id: &str) -> Option<CaseInfo> {
    cases().into_iter().find(|c| c.id == id)
}
