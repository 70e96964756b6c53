//! Run events: what the runner tells its watchers while a run goes on.

use std::collections::BTreeMap;

use fleetgate_fleet::engine::Progress;
use fleetgate_report::{CaseResult, CohortResult, GateResult, Outcome, PhaseResult};

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
    /// The Google mock is up: the URLs a push endpoint under test must trust.
    GoogleMock {
        /// The push endpoint under test.
        endpoint: String,
        /// Whether it is the embedded reference verifier (already trusting the mock).
        embedded: bool,
        /// The JWKS (`/oauth2/v3/certs`).
        jwks: String,
        /// The PEM certificates by `kid` (`/oauth2/v1/certs`, google-auth's `certs_url`).
        pem_certs: String,
        /// The OpenID configuration.
        openid_configuration: String,
    },
    /// A case finished (or was skipped).
    CaseFinished(CaseResult),
    /// Once a second while the fleet runs.
    Progress(Progress),
    /// A load phase finished (or was skipped).
    PhaseFinished(PhaseResult),
    /// A cohort's connects were judged against what was expected of them.
    CohortJudged(CohortResult),
    /// The push load (`[push.load]`) finished.
    PushLoadFinished {
        /// The endpoint loaded.
        url: String,
        /// Pushes sent.
        requests: u64,
        /// Pushes not acknowledged, by status or `transport`.
        errors: BTreeMap<String, u64>,
        /// How long it ran.
        seconds: f64,
    },
    /// A gate was evaluated.
    GateEvaluated(GateResult),
    /// The run is over.
    Finished {
        /// Its outcome.
        outcome: Outcome,
    },
}
