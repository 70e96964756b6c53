//! Run events: what the runner tells its watchers while a run goes on.

use fleetgate_fleet::engine::Progress;
use fleetgate_report::{CaseResult, GateResult, Outcome, PhaseResult};

/// Something that happened during a run.
#[derive(Clone, Debug)]
pub enum RunEvent {
    /// The run began.
    Started {
        /// Scenario name.
        scenario: String,
        /// Number of cases selected.
        cases: usize,
        /// Number of load phases.
        phases: usize,
        /// Number of gates.
        gates: usize,
    },
    /// A case finished (or was skipped).
    CaseFinished(CaseResult),
    /// Once a second while the fleet runs.
    Progress(Progress),
    /// A load phase finished (or was skipped).
    PhaseFinished(PhaseResult),
    /// A gate was evaluated.
    GateEvaluated(GateResult),
    /// The run is over.
    Finished {
        /// Its outcome.
        outcome: Outcome,
    },
}
