//! One case's result with its evidence, shaped like the report's case result (the runner maps
//! it; this crate does not depend on the report).

use std::collections::BTreeMap;
use std::time::Duration;

use super::catalogue::{Expectation, PushCase};

/// The longest body excerpt kept as evidence, in characters.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// What one case observed and whether it met its expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseOutcome {
    /// The case.
    pub case: PushCase,
    /// Its id, `push.<name>`.
    pub id: String,
    /// The docs/protocol.md rule it checks.
    pub rule: String,
    /// Whether the endpoint answered as a correct endpoint must.
    pub passed: bool,
    /// Why it failed (names the case id); `None` when it passed.
    pub message: Option<String>,
    /// What was observed: `expected`, `status`, `body` (at most [`BODY_EXCERPT_CHARS`]
    /// characters), `request` (body form and credential), `error` (when no answer came).
    pub evidence: BTreeMap<String, String>,
    /// From sending the request to reading the whole answer.
    pub duration: Duration,
}

/// The HTTP answer (or the transport error) one case got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Status and body.
    Http {
        /// The status code.
        status: u16,
        /// The body, lossily decoded.
        body: String,
    },
    /// No answer: the transport error, as text.
    Failed(String),
}

/// The refusal statuses as `401|403`.
pub(crate) fn describe(expect: Expectation, refusal_statuses: &[u16]) -> String {
    match expect {
        Expectation::Accept => "2xx".to_owned(),
        Expectation::Refuse => refusal_statuses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("|"),
    }
}

/// Judges `answer` against `expect` (the case's expectation, or the scenario's instead).
pub(crate) fn judge(
    case: PushCase,
    expect: Expectation,
    request: &str,
    answer: Answer,
    refusal_statuses: &[u16],
    duration: Duration,
) -> CaseOutcome {
    let expected = describe(expect, refusal_statuses);
    let mut evidence = BTreeMap::from([
        ("expected".to_owned(), expected.clone()),
        ("request".to_owned(), request.to_owned()),
    ]);
    let message = match answer {
        Answer::Http { status, body } => {
            evidence.insert("status".to_owned(), status.to_string());
            evidence.insert("body".to_owned(), excerpt(&body));
            let ok = match expect {
                Expectation::Accept => (200..300).contains(&status),
                Expectation::Refuse => refusal_statuses.contains(&status),
            };
            (!ok).then(|| {
                format!(
                    "{}: expected {expected}, got {status} {:?}",
                    case.id(),
                    excerpt(&body)
                )
            })
        }
        Answer::Failed(error) => {
            let message = format!("{}: expected {expected}, got no answer: {error}", case.id());
            evidence.insert("error".to_owned(), error);
            Some(message)
        }
    };
    CaseOutcome {
        case,
        id: case.id().to_owned(),
        rule: case.rule().to_owned(),
        passed: message.is_none(),
        message,
        evidence,
        duration,
    }
}

/// The first [`BODY_EXCERPT_CHARS`] characters of `body`, trimmed.
pub(crate) fn excerpt(body: &str) -> String {
    body.trim().chars().take(BODY_EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSE: &[u16] = &[401, 403];

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            body: body.to_owned(),
        }
    }

    #[test]
    fn accepting_cases_pass_on_2xx_only() {
        let ok = judge(
            PushCase::Valid,
            PushCase::Valid.expectation(),
            "r",
            http(204, ""),
            REFUSE,
            Duration::ZERO,
        );
        assert!(ok.passed);
        assert_eq!(ok.message, None);
        assert_eq!(ok.evidence.get("status").map(String::as_str), Some("204"));
        let bad = judge(
            PushCase::Valid,
            PushCase::Valid.expectation(),
            "r",
            http(401, "expired\n"),
            REFUSE,
            Duration::ZERO,
        );
        assert!(!bad.passed);
        assert_eq!(
            bad.message.as_deref(),
            Some("push.valid: expected 2xx, got 401 \"expired\"")
        );
    }

    #[test]
    fn refusing_cases_pass_on_a_configured_status_only() {
        let ok = judge(
            PushCase::WrongAud,
            PushCase::WrongAud.expectation(),
            "r",
            http(403, ""),
            REFUSE,
            Duration::ZERO,
        );
        assert!(ok.passed);
        assert_eq!(ok.evidence.get("expected").map(String::as_str), Some("401|403"));
        for status in [200, 400, 500] {
            let bad = judge(
                PushCase::WrongAud,
                PushCase::WrongAud.expectation(),
                "r",
                http(status, ""),
                REFUSE,
                Duration::ZERO,
            );
            assert!(!bad.passed, "{status}");
            assert!(bad.message.unwrap().starts_with("push.wrong-aud: "));
        }
        assert!(
            judge(
                PushCase::WrongAud,
                PushCase::WrongAud.expectation(),
                "r",
                http(400, ""),
                &[400],
                Duration::ZERO
            )
            .passed
        );
        // A scenario's `[cases.expect]` turns the expectation around.
        let stated = judge(
            PushCase::WrongAud,
            Expectation::Accept,
            "r",
            http(204, ""),
            REFUSE,
            Duration::ZERO,
        );
        assert!(stated.passed && stated.evidence["expected"] == "2xx");
    }

    #[test]
    fn no_answer_fails_with_the_error_as_evidence() {
        let out = judge(
            PushCase::Expired,
            PushCase::Expired.expectation(),
            "r",
            Answer::Failed("connection refused".into()),
            REFUSE,
            Duration::ZERO,
        );
        assert!(!out.passed);
        assert_eq!(
            out.evidence.get("error").map(String::as_str),
            Some("connection refused")
        );
        assert!(out.message.unwrap().contains("push.expired"));
    }

    #[test]
    fn bodies_are_cut_to_200_characters() {
        let long = "é".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), BODY_EXCERPT_CHARS);
        assert_eq!(excerpt("  short\n"), "short");
    }
}
