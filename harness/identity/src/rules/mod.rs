//! The bridge's JWT rules (docs/protocol.md §2) as a sans-I/O check: a presented token, the device's
//! registered credentials and the profile settings in; `Accept` or one typed refusal out.

mod check;
#[cfg(test)]
mod tests;

pub use check::{Accepted, Verdict, check};

/// Which `exp − iat` bound a profile enforces: docs/protocol.md words it both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifetimeLimit {
    /// At most 24 h.
    Day,
    /// At most 24 h plus the skew.
    DayPlusSkew,
}

/// What claims other than `iat`, `exp`, `aud` (and the ignored `nbf`) do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraClaims {
    /// Ignored (the default of both references).
    Ignore,
    /// Refused.
    Refuse,
}

/// What a `kid` header does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KidHeader {
    /// Ignored: every registered credential is tried (the default of both references).
    Ignore,
    /// Refused.
    Refuse,
}

/// The profile settings the JWT rules depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeSettings {
    /// Allowed clock skew, seconds, for `iat` in the future and `exp` in the past.
    pub skew_secs: i64,
    /// Which lifetime bound applies.
    pub lifetime_limit: LifetimeLimit,
    /// Only unpadded base64url (`true`), or also padding and the standard alphabet.
    pub strict_base64url: bool,
    /// Smallest RSA modulus accepted, bits.
    pub min_rsa_bits: u32,
    /// Claims beyond `iat`, `exp`, `aud`, `nbf`.
    pub extra_claims: ExtraClaims,
    /// A `kid` header.
    pub kid: KidHeader,
    /// Rules switched off (test-only: the conformance self-check runs the catalogue with one
    /// rule off at a time to show its cases can fail). Empty in every profile; scenario files
    /// cannot reach it.
    #[doc(hidden)]
    pub relaxed: Vec<Refusal>,
}

/// 24 hours in seconds.
pub const DAY_SECS: i64 = 86_400;

impl BridgeSettings {
    /// Google IoT Core as devices observed it: 10 min skew, lifetime bound 24 h + skew, lenient
    /// base64, RSA ≥ 2048, extra claims and `kid` ignored.
    pub fn google() -> Self {
        Self {
            skew_secs: 600,
            lifetime_limit: LifetimeLimit::DayPlusSkew,
            strict_base64url: false,
            min_rsa_bits: 2048,
            extra_claims: ExtraClaims::Ignore,
            kid: KidHeader::Ignore,
            relaxed: Vec::new(),
        }
    }

    /// ClearBlade IoT Core as documented: like Google, but lifetime bound exactly 24 h and
    /// strict unpadded base64url.
    pub fn clearblade() -> Self {
        Self {
            lifetime_limit: LifetimeLimit::Day,
            strict_base64url: true,
            ..Self::google()
        }
    }

    /// Whether the rule that refuses with `refusal` is in force.
    pub fn enforces(&self, refusal: Refusal) -> bool {
        !self.relaxed.contains(&refusal)
    }

    /// The largest `exp − iat` accepted, seconds.
    pub fn max_lifetime_secs(&self) -> i64 {
        match self.lifetime_limit {
            LifetimeLimit::Day => DAY_SECS,
            LifetimeLimit::DayPlusSkew => DAY_SECS + self.skew_secs,
        }
    }
}

/// Why a bridge refuses a JWT: one reason per rule, each with a stable kebab-case id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Refusal {
    /// The password is empty.
    #[error("empty password")]
    EmptyPassword,
    /// Not three segments (for example truncated).
    #[error("not a compact JWS of three segments")]
    Malformed,
    /// A segment that is not base64url as the profile requires.
    #[error("segment not in the base64url form the profile requires")]
    BadBase64,
    /// Header or claims are not JSON objects.
    #[error("header or claims are not JSON objects")]
    MalformedJson,
    /// `alg` is `none` in any letter case.
    #[error("`alg` none")]
    AlgNone,
    /// `alg` is neither RS256 nor ES256 (HS256 included).
    #[error("`alg` is neither RS256 nor ES256")]
    AlgUnsupported,
    /// The profile refuses `kid` headers.
    #[error("`kid` header not allowed")]
    KidNotAllowed,
    /// The device has no credential.
    #[error("device has no credentials")]
    NoCredentials,
    /// No credential of the token's algorithm.
    #[error("no credential of the token's algorithm")]
    AlgMismatch,
    /// Every credential of the algorithm has expired.
    #[error("every matching credential has expired")]
    CredentialExpired,
    /// Every credential of the algorithm is RSA below the minimum size.
    #[error("RSA credential below the minimum size")]
    RsaTooSmall,
    /// An ES256 signature that is not 64 raw bytes (DER, or R/S not padded to 32 bytes).
    #[error("ES256 signature is not 64-byte R‖S")]
    Es256SignatureForm,
    /// No registered key verifies the signature.
    #[error("signature does not verify with any registered key")]
    BadSignature,
    /// No `aud`.
    #[error("missing `aud`")]
    MissingAud,
    /// `aud` is not a single string.
    #[error("`aud` is not a single string")]
    AudNotString,
    /// `aud` is not the project id.
    #[error("`aud` is not the project id")]
    AudMismatch,
    /// No `iat`.
    #[error("missing `iat`")]
    MissingIat,
    /// No `exp`.
    #[error("missing `exp`")]
    MissingExp,
    /// `iat` or `exp` not an integer NumericDate.
    #[error("`iat` or `exp` is not an integer")]
    ClaimNotInteger,
    /// `iat` later than now + skew.
    #[error("`iat` in the future beyond the skew")]
    IatInFuture,
    /// `exp` earlier than now − skew.
    #[error("`exp` in the past beyond the skew")]
    Expired,
    /// `exp` before `iat`.
    #[error("`exp` before `iat`")]
    ExpBeforeIat,
    /// `exp − iat` above the profile's bound.
    #[error("`exp − iat` above the lifetime bound")]
    LifetimeTooLong,
    /// Claims beyond `iat`, `exp`, `aud`, `nbf` where the profile refuses them.
    #[error("extra claims not allowed")]
    ExtraClaims,
}

impl Refusal {
    /// Every refusal.
    pub const ALL: &'static [Self] = &[
        Self::EmptyPassword,
        Self::Malformed,
        Self::BadBase64,
        Self::MalformedJson,
        Self::AlgNone,
        Self::AlgUnsupported,
        Self::KidNotAllowed,
        Self::NoCredentials,
        Self::AlgMismatch,
        Self::CredentialExpired,
        Self::RsaTooSmall,
        Self::Es256SignatureForm,
        Self::BadSignature,
        Self::MissingAud,
        Self::AudNotString,
        Self::AudMismatch,
        Self::MissingIat,
        Self::MissingExp,
        Self::ClaimNotInteger,
        Self::IatInFuture,
        Self::Expired,
        Self::ExpBeforeIat,
        Self::LifetimeTooLong,
        Self::ExtraClaims,
    ];

    /// Stable kebab-case id, used in events, reports and case ids.
    pub fn id(self) -> &'static str {
        match self {
            Self::EmptyPassword => "empty-password",
            Self::Malformed => "malformed-token",
            Self::BadBase64 => "bad-base64",
            Self::MalformedJson => "malformed-json",
            Self::AlgNone => "alg-none",
            Self::AlgUnsupported => "alg-unsupported",
            Self::KidNotAllowed => "kid-not-allowed",
            Self::NoCredentials => "no-credentials",
            Self::AlgMismatch => "alg-mismatch",
            Self::CredentialExpired => "credential-expired",
            Self::RsaTooSmall => "rsa-too-small",
            Self::Es256SignatureForm => "es256-signature-form",
            Self::BadSignature => "bad-signature",
            Self::MissingAud => "missing-aud",
            Self::AudNotString => "aud-not-string",
            Self::AudMismatch => "aud-mismatch",
            Self::MissingIat => "missing-iat",
            Self::MissingExp => "missing-exp",
            Self::ClaimNotInteger => "claim-not-integer",
            Self::IatInFuture => "iat-in-future",
            Self::Expired => "expired",
            Self::ExpBeforeIat => "exp-before-iat",
            Self::LifetimeTooLong => "lifetime-too-long",
            Self::ExtraClaims => "extra-claims",
        }
    }
}
