//! The push-token catalogue: valid variants a correct endpoint accepts and mutations it must
//! refuse, each with the refusal the reference verifier gives. Case ids are `push.<id>`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::token::{TOKEN_LIFETIME, header};
use super::verify::PushRefusal;
use super::{GoogleIdentity, ISSUER_WITHOUT_SCHEME, PushClaims};
use crate::jwt::compact;
use crate::keys::{DeviceKey, KeyError};

/// What a push mutation is built from.
#[derive(Clone, Copy, Debug)]
pub struct PushContext<'a> {
    /// Google's published keys.
    pub google: &'a GoogleIdentity,
    /// An RSA key Google never published.
    pub rogue: &'a DeviceKey,
    /// The valid claims at the endpoint's `now`.
    pub claims: &'a PushClaims,
    /// The endpoint's skew, seconds.
    pub skew_secs: i64,
}

macro_rules! push_catalogue {
    ($($variant:ident => $id:literal, $expected:expr, $rule:literal;)*) => {
        /// One entry of the push-token catalogue.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum PushMutation {
            $(#[doc = $rule] $variant,)*
        }

        impl PushMutation {
            /// Every entry.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// Stable kebab-case id.
            pub fn id(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }

            /// The rule it checks.
            pub fn rule(self) -> &'static str {
                match self { $(Self::$variant => $rule,)* }
            }

            /// The refusal a correct endpoint gives, or `None` when it must accept.
            pub fn expected(self) -> Option<PushRefusal> {
                match self { $(Self::$variant => $expected,)* }
            }
        }
    };
}

use PushRefusal as R;

push_catalogue! {
    Valid => "valid", None, "a fresh token from Google's active key is accepted";
    IssWithoutScheme => "iss-without-scheme", None, "iss accounts.google.com is accepted too";
    OneHourOld => "aged-59-min", None, "a token up to an hour old is accepted";
    PreviousKey => "previous-key", None, "a token from a still-published older key is accepted";
    Expired => "expired", Some(R::Expired), "exp in the past beyond the skew is refused";
    IatInFuture => "iat-in-future", Some(R::IatInFuture), "iat in the future beyond the skew is refused";
    WrongAud => "aud-mismatch", Some(R::AudMismatch), "aud must be the endpoint's audience";
    AudCase => "aud-case", Some(R::AudMismatch), "aud is compared case-sensitively";
    WrongEmail => "email-mismatch", Some(R::EmailMismatch), "email must be the push service account";
    EmailUnverified => "email-not-verified", Some(R::EmailNotVerified), "email_verified must be true";
    WrongIss => "wrong-issuer", Some(R::WrongIssuer), "iss must be Google";
    UnknownKid => "unknown-kid", Some(R::UnknownKid), "a kid Google does not publish is refused";
    NoKid => "missing-kid", Some(R::MissingKid), "a token without kid is refused";
    AlgNone => "alg-none", Some(R::AlgNone), "alg none is refused";
    Hs256PublicKey => "hs256-public-key", Some(R::AlgUnsupported), "HS256 keyed with Google's public key is refused";
    Tampered => "tampered-claims", Some(R::BadSignature), "a claim changed after signing (sub, which no other check reads) is refused";
    RogueKey => "rogue-key-published-kid", Some(R::BadSignature), "a rogue key under a published kid is refused";
}

impl PushMutation {
    /// The `push.*` case id that sends this token (fleetgate-push's catalogue; its tests hold
    /// the two together). A push load names the invalid pushes it mixes in the same way.
    pub fn case_id(self) -> &'static str {
        match self {
            Self::Valid => "push.valid",
            Self::IssWithoutScheme => "push.iss-without-scheme",
            Self::OneHourOld => "push.token-59-min-old",
            Self::PreviousKey => "push.previous-key",
            Self::Expired => "push.expired",
            Self::IatInFuture => "push.iat-future",
            Self::WrongAud => "push.wrong-aud",
            Self::AudCase => "push.aud-other-case",
            Self::WrongEmail => "push.wrong-email",
            Self::EmailUnverified => "push.email-unverified",
            Self::WrongIss => "push.wrong-iss",
            Self::UnknownKid => "push.unknown-kid",
            Self::NoKid => "push.no-kid",
            Self::AlgNone => "push.alg-none",
            Self::Hs256PublicKey => "push.hs256-public-key",
            Self::Tampered => "push.tampered-claims",
            Self::RogueKey => "push.rogue-key",
        }
    }

    /// The refused entries a push load can mix into its valid pushes.
    pub fn invalid() -> impl Iterator<Item = Self> {
        Self::ALL.iter().copied().filter(|m| m.expected().is_some())
    }

    /// Builds the token. `PreviousKey` needs at least two published keys (see
    /// [`GoogleIdentity::rotate`]); with one it signs with the only key.
    pub fn build(self, ctx: &PushContext<'_>) -> Result<String, KeyError> {
        let base = ctx.claims.clone();
        let active = ctx.google.active();
        let kid = Some(active.kid());
        let with = |claims: PushClaims| ctx.google.push_token(&claims);
        match self {
            Self::Valid => with(base),
            Self::IssWithoutScheme => with(PushClaims {
                iss: ISSUER_WITHOUT_SCHEME.to_owned(),
                ..base
            }),
            Self::OneHourOld => with(base.aged(TOKEN_LIFETIME - 60)),
            Self::PreviousKey => {
                let oldest = &ctx.google.published()[0];
                compact(&header("RS256", Some(oldest.kid())), &base.to_json(), |i| {
                    oldest.key().sign(i)
                })
            }
            Self::Expired => with(base.aged(TOKEN_LIFETIME + ctx.skew_secs + 60)),
            Self::IatInFuture => with(base.aged(-(ctx.skew_secs + 60))),
            Self::WrongAud => with(PushClaims {
                aud: format!("{}/other", base.aud),
                ..base
            }),
            Self::AudCase => with(PushClaims {
                aud: flip_case(&base.aud),
                ..base
            }),
            Self::WrongEmail => with(PushClaims {
                email: format!("other-{}", base.email),
                ..base
            }),
            Self::EmailUnverified => with(PushClaims {
                email_verified: false,
                ..base
            }),
            Self::WrongIss => with(PushClaims {
                iss: "https://accounts.google.com.evil.invalid".to_owned(),
                ..base
            }),
            Self::UnknownKid => compact(&header("RS256", Some("0123456789abcdef")), &base.to_json(), |i| {
                active.key().sign(i)
            }),
            Self::NoKid => compact(&header("RS256", None), &base.to_json(), |i| active.key().sign(i)),
            Self::AlgNone => compact(&header("none", kid), &base.to_json(), |_| Ok(Vec::new())),
            Self::Hs256PublicKey => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, active.key().spki_pem().as_bytes());
                compact(&header("HS256", kid), &base.to_json(), |i| {
                    Ok(hmac::sign(&key, i).as_ref().to_vec())
                })
            }
            Self::Tampered => {
                let token = with(base.clone())?;
                // `sub` is read by no check of docs/protocol.md §6: every checked claim stays
                // as signed, so only the signature check can catch the change.
                let forged = PushClaims {
                    sub: format!("{}0", base.sub),
                    ..base
                }
                .to_json();
                let mut parts = token.split('.');
                let (h, _, s) = (
                    parts.next().unwrap_or(""),
                    parts.next(),
                    parts.next().unwrap_or(""),
                );
                Ok(format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(forged)))
            }
            Self::RogueKey => compact(&header("RS256", kid), &base.to_json(), |i| ctx.rogue.sign(i)),
        }
    }
}

/// `aud` with the case of every ASCII letter flipped.
fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}
