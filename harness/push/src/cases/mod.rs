//! Push-endpoint conformance cases (issue 8, item 2): the named catalogue and an executor that
//! runs it against any push endpoint URL trusting the Google mock's keys.

mod catalogue;
mod executor;
mod outcome;

pub use catalogue::{Expectation, PushCase};
pub use executor::{CaseError, ExecutorConfig, PushTarget, run};
pub use outcome::{BODY_EXCERPT_CHARS, CaseOutcome, NOT_JUDGED};
