//! The conformance cases this build can run. Scenario files select from it by id or glob, and
//! `fleetgate cases` lists it.

/// One conformance case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseInfo {
    /// Stable id, such as `auth.aud-mismatch`.
    pub id: &'static str,
    /// The PROTOCOL.md rule it checks.
    pub rule: &'static str,
}

/// Every case, in the order reports list them. The conformance catalogue fills it; until then
/// this build runs no case, and a scenario that selects one is refused by `fleetgate validate`.
pub const CASES: &[CaseInfo] = &[];

/// The ids of [`CASES`], for the scenario compiler.
pub fn case_ids() -> Vec<&'static str> {
    CASES.iter().map(|c| c.id).collect()
}
