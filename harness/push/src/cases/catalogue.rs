//! The push-endpoint case catalogue: every case a correct push endpoint must accept or refuse
//! (docs/protocol.md §6), with its stable id, the rule it checks, and what it sends.

use fleetgate_identity::google::mutations::PushMutation;

/// What a correct endpoint does with a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Expectation {
    /// Acknowledge it with a 2xx status.
    Accept,
    /// Refuse it with one of the configured refusal statuses (401 or 403 by default).
    Refuse,
}

/// How a case's request is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `Authorization: Bearer <token>` with the token from the identity catalogue, wrapped body.
    Token(PushMutation),
    /// A valid token minted for another push endpoint's audience (a replay), wrapped body.
    OtherAudience,
    /// A valid token, unwrapped body with `x-goog-pubsub-*` and attribute headers.
    Unwrapped,
    /// No `Authorization` header.
    NoAuthorization,
    /// `Authorization: Basic <valid token>`.
    NotBearer,
    /// `Authorization: Bearer not-a-jwt`.
    Malformed,
}

use Expectation::{Accept, Refuse};
use PushMutation as M;
use Request as Q;

macro_rules! push_cases {
    ($($variant:ident => $id:literal, $expect:expr, $request:expr, $rule:literal;)*) => {
        /// One named push-endpoint case.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum PushCase {
            $(#[doc = $rule] $variant,)*
        }

        impl PushCase {
            /// Every case, in the order the executor runs them.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// Stable id, `push.<name>`.
            pub fn id(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }

            /// The docs/protocol.md rule it checks.
            pub fn rule(self) -> &'static str {
                match self { $(Self::$variant => $rule,)* }
            }

            /// Whether a correct endpoint accepts or refuses it.
            pub fn expectation(self) -> Expectation {
                match self { $(Self::$variant => $expect,)* }
            }

            pub(crate) fn request(self) -> Request {
                match self { $(Self::$variant => $request,)* }
            }
        }
    };
}

push_cases! {
    Valid => "push.valid", Accept, Q::Token(M::Valid),
        "docs/protocol.md §6: a fresh RS256 token from Google's active key, wrapped body, is acknowledged";
    ValidAfterRotation => "push.valid-after-rotation", Accept, Q::Token(M::Valid),
        "docs/protocol.md §6: after Google rotates its keys, a token under the new kid is acknowledged (the verifier refetches on an unknown kid)";
    PreviousKey => "push.previous-key", Accept, Q::Token(M::PreviousKey),
        "docs/protocol.md §6: a token from an older key Google still publishes is acknowledged";
    TokenAged59Min => "push.token-59-min-old", Accept, Q::Token(M::OneHourOld),
        "docs/protocol.md §6: a token attached to a push may be up to one hour old";
    IssWithoutScheme => "push.iss-without-scheme", Accept, Q::Token(M::IssWithoutScheme),
        "docs/protocol.md §6: iss accounts.google.com (without https://) is valid too";
    UnwrappedBody => "push.unwrapped-body", Accept, Q::Unwrapped,
        "docs/protocol.md §6: an unwrapped push (raw data, metadata in x-goog-pubsub-* headers) with a valid token is acknowledged";
    Expired => "push.expired", Refuse, Q::Token(M::Expired),
        "docs/protocol.md §6: exp in the past beyond the endpoint's skew is refused";
    IatFuture => "push.iat-future", Refuse, Q::Token(M::IatInFuture),
        "docs/protocol.md §6: iat in the future beyond the endpoint's skew is refused";
    WrongAud => "push.wrong-aud", Refuse, Q::Token(M::WrongAud),
        "docs/protocol.md §6: aud must equal the audience the endpoint expects";
    AudOtherCase => "push.aud-other-case", Refuse, Q::Token(M::AudCase),
        "docs/protocol.md §6: aud is compared case-sensitively";
    OtherAudienceReplay => "push.other-audience-replay", Refuse, Q::OtherAudience,
        "docs/protocol.md §6: a genuine token minted for another service's audience is refused (the verifier-without-audience bug)";
    WrongEmail => "push.wrong-email", Refuse, Q::Token(M::WrongEmail),
        "docs/protocol.md §6: email must equal the push service account";
    EmailUnverified => "push.email-unverified", Refuse, Q::Token(M::EmailUnverified),
        "docs/protocol.md §6: email_verified must be true";
    WrongIss => "push.wrong-iss", Refuse, Q::Token(M::WrongIss),
        "docs/protocol.md §6: iss must be https://accounts.google.com or accounts.google.com";
    UnknownKid => "push.unknown-kid", Refuse, Q::Token(M::UnknownKid),
        "docs/protocol.md §6: a kid Google does not publish (even after a refetch) is refused";
    NoKid => "push.no-kid", Refuse, Q::Token(M::NoKid),
        "docs/protocol.md §6: the header carries the kid of Google's signing key; a token without one is refused";
    AlgNone => "push.alg-none", Refuse, Q::Token(M::AlgNone),
        "docs/protocol.md §6: the signature is checked against Google's keys; alg none is refused";
    Hs256PublicKey => "push.hs256-public-key", Refuse, Q::Token(M::Hs256PublicKey),
        "docs/protocol.md §6: only RS256 with Google's keys; HS256 keyed with Google's public key is refused";
    TamperedClaims => "push.tampered-claims", Refuse, Q::Token(M::Tampered),
        "docs/protocol.md §6: claims changed after signing fail the signature check";
    RogueKey => "push.rogue-key", Refuse, Q::Token(M::RogueKey),
        "docs/protocol.md §6: a token signed by a key Google never published, under a published kid, is refused";
    NoAuthorization => "push.no-authorization", Refuse, Q::NoAuthorization,
        "docs/protocol.md §6: an authenticated push carries Authorization: Bearer <JWT>; none is refused";
    NotBearer => "push.not-bearer", Refuse, Q::NotBearer,
        "docs/protocol.md §6: the token comes as a Bearer credential; another scheme is refused";
    MalformedToken => "push.malformed-token", Refuse, Q::Malformed,
        "docs/protocol.md §6: a bearer value that is not a JWT is refused";
}

impl PushCase {
    /// The case with `id` (`push.<name>`).
    pub fn by_id(id: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.id() == id)
    }

    /// Whether it needs Google to have rotated its keys first (the executor rotates the mock
    /// once, before the first such case).
    pub fn needs_rotation(self) -> bool {
        matches!(self, Self::ValidAfterRotation | Self::PreviousKey)
    }

    /// The cases about the audience: what an endpoint that skips the `aud` check accepts.
    pub const AUDIENCE: &'static [Self] = &[Self::WrongAud, Self::AudOtherCase, Self::OtherAudienceReplay];
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let ids: HashSet<_> = PushCase::ALL.iter().map(|c| c.id()).collect();
        assert_eq!(ids.len(), PushCase::ALL.len());
        for case in PushCase::ALL {
            assert!(case.id().starts_with("push."), "{}", case.id());
            assert_eq!(PushCase::by_id(case.id()), Some(*case));
        }
        assert_eq!(PushCase::by_id("push.nope"), None);
    }

    #[test]
    fn token_cases_expect_what_the_identity_catalogue_expects() {
        for case in PushCase::ALL {
            if let Request::Token(mutation) = case.request() {
                let accept = mutation.expected().is_none();
                assert_eq!(case.expectation() == Accept, accept, "{}", case.id());
            }
        }
    }

    #[test]
    fn a_token_case_has_its_mutation_s_case_id() {
        for case in PushCase::ALL {
            if let Request::Token(mutation) = case.request()
                && *case != PushCase::ValidAfterRotation
            {
                assert_eq!(mutation.case_id(), case.id());
            }
        }
    }

    #[test]
    fn every_identity_mutation_has_a_case() {
        for mutation in PushMutation::ALL {
            assert!(
                PushCase::ALL
                    .iter()
                    .any(|c| c.request() == Request::Token(*mutation)),
                "{}",
                mutation.id()
            );
        }
    }
}
