//! The device-JWT catalogue: valid variants a bridge must accept and named mutations a correct
//! bridge must refuse, each with the rule it checks and the refusal expected under given profile
//! settings. Conformance case ids are `auth.<id>`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::compact;
use super::mint::header_json;
use crate::keys::{Alg, DeviceKey, KeyError};
use crate::rules::{BridgeSettings, DAY_SECS, ExtraClaims, KidHeader, LifetimeLimit, Refusal};

/// What a mutation is built from.
#[derive(Clone, Copy, Debug)]
pub struct MutationContext<'a> {
    /// The device's own key (registered with the bridge).
    pub key: &'a DeviceKey,
    /// Another key of the same algorithm, not registered for this device.
    pub other_key: &'a DeviceKey,
    /// The project id.
    pub audience: &'a str,
    /// The bridge's clock, Unix seconds.
    pub now: i64,
    /// The skew of the bridge under test, seconds (boundary tokens are placed around it).
    pub skew_secs: i64,
}

macro_rules! catalogue {
    ($($variant:ident => $id:literal, $rule:literal;)*) => {
        /// One entry of the device-JWT catalogue.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum TokenMutation {
            $(#[doc = $rule] $variant,)*
        }

        impl TokenMutation {
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
        }
    };
}

catalogue! {
    Valid => "valid", "a well-formed token signed by a registered key is accepted";
    Lifetime24h => "lifetime-24h", "exp - iat of exactly 24 h is accepted";
    Lifetime24hPlus1s => "lifetime-24h-plus-1s", "exp - iat of 24 h + 1 s: over the 24 h bound, under 24 h + skew";
    Lifetime24hPlusSkew => "lifetime-24h-plus-skew", "exp - iat of exactly 24 h + skew: the other boundary";
    LifetimeOverBound => "lifetime-over-24h-plus-skew", "exp - iat above 24 h + skew is refused";
    IatFutureWithinSkew => "iat-future-within-skew", "iat ahead of the bridge by less than the skew is accepted";
    ExpPastWithinSkew => "exp-past-within-skew", "exp behind the bridge by less than the skew is accepted";
    ExtraClaims => "extra-claims", "claims beyond iat, exp, aud: ignored or refused by profile";
    NbfInFuture => "nbf-in-future", "nbf is ignored";
    KidOwnKey => "kid-own-key", "a kid header on a token of the device's own key: ignored or refused by profile";
    AlgNone => "alg-none", "alg none is refused";
    AlgNoneCapitalised => "alg-none-capitalised", "alg None is refused";
    AlgNoneUpper => "alg-none-upper", "alg NONE is refused";
    AlgNoneMixed => "alg-none-mixed", "alg nOnE is refused";
    Hs256PublicKey => "hs256-public-key", "HS256 keyed with the device's public key is refused";
    Es256Der => "es256-der-signature", "ES256 signatures are 64-byte R||S, not DER";
    Es256Unpadded => "es256-unpadded-rs", "ES256 R and S are each padded to 32 bytes";
    OtherDeviceKey => "other-device-key", "a token signed by another device's key is refused";
    TamperedPayload => "tampered-payload", "claims changed after signing are refused";
    WrongAud => "aud-mismatch", "aud must be the project id";
    AudArray => "aud-array", "aud is a single string, not an array";
    MissingIat => "missing-iat", "iat is required";
    MissingExp => "missing-exp", "exp is required";
    MissingAud => "missing-aud", "aud is required";
    IatFutureBeyondSkew => "iat-future-beyond-skew", "iat in the future beyond the skew is refused";
    ExpPastBeyondSkew => "exp-past-beyond-skew", "exp in the past beyond the skew is refused";
    PaddedBase64 => "padded-base64", "segments are unpadded base64url (strict profiles)";
    NonUrlSafeBase64 => "non-url-safe-base64", "segments use the URL-safe alphabet (strict profiles)";
    KidElsewhere => "kid-elsewhere", "a kid pointing at another key does not select it";
    JkuElsewhere => "jku-elsewhere", "a jku header is never followed";
    X5uElsewhere => "x5u-elsewhere", "an x5u header is never followed";
    Truncated => "truncated", "a truncated token is refused";
    EmptyPassword => "empty-password", "an empty password is refused";
}

const LIFETIME: i64 = 3600;
const ELSEWHERE: &str = "https://attacker.invalid/keys";

impl TokenMutation {
    /// The entry with this id.
    pub fn by_id(id: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.id() == id)
    }

    /// The conformance case id that sends this token: `clock.<id>` for the lifetime and skew
    /// entries, `auth.<id>` for the others. A fleet cohort names its fault the same way.
    pub fn case_id(self) -> String {
        let group = match self {
            Self::Lifetime24h
            | Self::Lifetime24hPlus1s
            | Self::Lifetime24hPlusSkew
            | Self::LifetimeOverBound
            | Self::IatFutureWithinSkew
            | Self::ExpPastWithinSkew
            | Self::IatFutureBeyondSkew
            | Self::ExpPastBeyondSkew => "clock",
            _ => "auth",
        };
        format!("{group}.{}", self.id())
    }

    /// The entry whose case id is `case_id` (see [`TokenMutation::case_id`]).
    pub fn by_case_id(case_id: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.case_id() == case_id)
    }

    /// Whether the entry exists for keys of `alg` (the signature-form ones are ES256 only).
    pub fn applies_to(self, alg: Alg) -> bool {
        alg == Alg::Es256 || !matches!(self, Self::Es256Der | Self::Es256Unpadded)
    }

    /// The refusal a correct bridge with `settings` gives, or `None` when it must accept.
    pub fn expected(self, settings: &BridgeSettings) -> Option<Refusal> {
        let day = settings.lifetime_limit == LifetimeLimit::Day;
        let strict = settings.strict_base64url;
        let refuse_kid = settings.kid == KidHeader::Refuse;
        match self {
            Self::Valid
            | Self::Lifetime24h
            | Self::IatFutureWithinSkew
            | Self::ExpPastWithinSkew
            | Self::NbfInFuture => None,
            Self::Lifetime24hPlus1s | Self::Lifetime24hPlusSkew => day.then_some(Refusal::LifetimeTooLong),
            Self::ExtraClaims => {
                (settings.extra_claims == ExtraClaims::Refuse).then_some(Refusal::ExtraClaims)
            }
            Self::KidOwnKey => refuse_kid.then_some(Refusal::KidNotAllowed),
            Self::PaddedBase64 | Self::NonUrlSafeBase64 => strict.then_some(Refusal::BadBase64),
            Self::KidElsewhere if refuse_kid => Some(Refusal::KidNotAllowed),
            Self::AlgNone | Self::AlgNoneCapitalised | Self::AlgNoneUpper | Self::AlgNoneMixed => {
                Some(Refusal::AlgNone)
            }
            Self::Hs256PublicKey => Some(Refusal::AlgUnsupported),
            Self::Es256Der | Self::Es256Unpadded => Some(Refusal::Es256SignatureForm),
            Self::OtherDeviceKey
            | Self::TamperedPayload
            | Self::KidElsewhere
            | Self::JkuElsewhere
            | Self::X5uElsewhere => Some(Refusal::BadSignature),
            Self::WrongAud => Some(Refusal::AudMismatch),
            Self::AudArray => Some(Refusal::AudNotString),
            Self::MissingIat => Some(Refusal::MissingIat),
            Self::MissingExp => Some(Refusal::MissingExp),
            Self::MissingAud => Some(Refusal::MissingAud),
            Self::IatFutureBeyondSkew => Some(Refusal::IatInFuture),
            Self::ExpPastBeyondSkew => Some(Refusal::Expired),
            Self::LifetimeOverBound => Some(Refusal::LifetimeTooLong),
            Self::Truncated => Some(Refusal::Malformed),
            Self::EmptyPassword => Some(Refusal::EmptyPassword),
        }
    }

    /// Builds the token (the MQTT password).
    pub fn build(self, ctx: &MutationContext<'_>) -> Result<String, KeyError> {
        let (now, skew) = (ctx.now, ctx.skew_secs);
        let own = |claims: Map<String, Value>| signed(ctx.key, &header(ctx.key.alg(), None), claims);
        let with = |iat: i64, exp: i64| own(claims(ctx, iat, exp));
        match self {
            Self::Valid => with(now, now + LIFETIME),
            Self::Lifetime24h => with(now, now + DAY_SECS),
            Self::Lifetime24hPlus1s => with(now, now + DAY_SECS + 1),
            Self::Lifetime24hPlusSkew => with(now, now + DAY_SECS + skew),
            Self::LifetimeOverBound => with(now, now + DAY_SECS + skew + 1),
            Self::IatFutureWithinSkew => with(now + skew - 30, now + skew - 30 + LIFETIME),
            Self::ExpPastWithinSkew => with(now - skew + 30 - LIFETIME, now - skew + 30),
            Self::IatFutureBeyondSkew => with(now + skew + 60, now + skew + 60 + LIFETIME),
            Self::ExpPastBeyondSkew => with(now - skew - 60 - LIFETIME, now - skew - 60),
            Self::ExtraClaims => own(extend(claims(ctx, now, now + LIFETIME), "sub", json!("device"))),
            Self::NbfInFuture => own(extend(claims(ctx, now, now + LIFETIME), "nbf", json!(now + 7200))),
            Self::KidOwnKey => signed(
                ctx.key,
                &header(ctx.key.alg(), Some(("kid", "device-key-1"))),
                claims(ctx, now, now + LIFETIME),
            ),
            Self::AlgNone => unsigned("none", ctx),
            Self::AlgNoneCapitalised => unsigned("None", ctx),
            Self::AlgNoneUpper => unsigned("NONE", ctx),
            Self::AlgNoneMixed => unsigned("nOnE", ctx),
            Self::Hs256PublicKey => hs256_with_public_key(ctx),
            Self::Es256Der => es256_der(ctx),
            Self::Es256Unpadded => es256_unpadded(ctx),
            Self::OtherDeviceKey => signed(
                ctx.other_key,
                &header(ctx.key.alg(), None),
                claims(ctx, now, now + LIFETIME),
            ),
            Self::TamperedPayload => tampered(ctx),
            Self::WrongAud => own(extend(
                claims(ctx, now, now + LIFETIME),
                "aud",
                json!(format!("{}-other", ctx.audience)),
            )),
            Self::AudArray => own(extend(
                claims(ctx, now, now + LIFETIME),
                "aud",
                json!([ctx.audience]),
            )),
            Self::MissingIat => own(without(claims(ctx, now, now + LIFETIME), "iat")),
            Self::MissingExp => own(without(claims(ctx, now, now + LIFETIME), "exp")),
            Self::MissingAud => own(without(claims(ctx, now, now + LIFETIME), "aud")),
            Self::PaddedBase64 => padded(ctx),
            Self::NonUrlSafeBase64 => non_url_safe(ctx),
            Self::KidElsewhere => elsewhere(ctx, "kid", "attacker-key"),
            Self::JkuElsewhere => elsewhere(ctx, "jku", ELSEWHERE),
            Self::X5uElsewhere => elsewhere(ctx, "x5u", ELSEWHERE),
            Self::Truncated => {
                let token = with(now, now + LIFETIME)?;
                // Cut in the middle of the payload: the signature and its dot are gone.
                let payload_len = token.split('.').nth(1).map_or(0, str::len);
                let cut = token.find('.').map_or(0, |dot| dot + 1 + payload_len / 2);
                Ok(token[..cut].to_owned())
            }
            Self::EmptyPassword => Ok(String::new()),
        }
    }
}

fn claims(ctx: &MutationContext<'_>, iat: i64, exp: i64) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("iat".into(), json!(iat));
    map.insert("exp".into(), json!(exp));
    map.insert("aud".into(), json!(ctx.audience));
    map
}

fn extend(mut claims: Map<String, Value>, name: &str, value: Value) -> Map<String, Value> {
    claims.insert(name.to_owned(), value);
    claims
}

fn without(mut claims: Map<String, Value>, name: &str) -> Map<String, Value> {
    claims.remove(name);
    claims
}

fn header(alg: Alg, extra: Option<(&str, &str)>) -> String {
    match extra {
        None => header_json(alg).to_owned(),
        Some((name, value)) => json!({"alg": alg.as_str(), "typ": "JWT", name: value}).to_string(),
    }
}

fn signed(key: &DeviceKey, header: &str, claims: Map<String, Value>) -> Result<String, KeyError> {
    compact(header, &Value::Object(claims).to_string(), |input| {
        key.sign(input)
    })
}

fn unsigned(alg: &str, ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    let header = json!({"alg": alg, "typ": "JWT"}).to_string();
    let payload = Value::Object(claims(ctx, ctx.now, ctx.now + LIFETIME)).to_string();
    compact(&header, &payload, |_| Ok(Vec::new()))
}

fn hs256_with_public_key(ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    let header = json!({"alg": "HS256", "typ": "JWT"}).to_string();
    let payload = Value::Object(claims(ctx, ctx.now, ctx.now + LIFETIME)).to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, ctx.key.spki_pem().as_bytes());
    compact(&header, &payload, |input| {
        Ok(hmac::sign(&key, input).as_ref().to_vec())
    })
}

fn not_es256() -> KeyError {
    KeyError::UnsupportedAlgorithm("this mutation needs an ES256 key".to_owned())
}

fn es256_der(ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    let payload = Value::Object(claims(ctx, ctx.now, ctx.now + LIFETIME)).to_string();
    compact(header_json(Alg::Es256), &payload, |input| {
        ctx.key.sign_es256_der(input).unwrap_or_else(|| Err(not_es256()))
    })
}

fn es256_unpadded(ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    if ctx.key.alg() != Alg::Es256 {
        return Err(not_es256());
    }
    let payload = Value::Object(claims(ctx, ctx.now, ctx.now + LIFETIME)).to_string();
    compact(header_json(Alg::Es256), &payload, |input| {
        // ECDSA is randomised: about one signature in 128 has R or S below 2^248.
        for _ in 0..100_000 {
            let raw = ctx.key.sign(input)?;
            let (r, s) = raw.split_at(32);
            if r[0] == 0 || s[0] == 0 {
                let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
                return Ok([strip(r), strip(s)].concat());
            }
        }
        Err(KeyError::Crypto("no ECDSA signature with a short R or S"))
    })
}

fn tampered(ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    let token = signed(
        ctx.key,
        header_json(ctx.key.alg()),
        claims(ctx, ctx.now, ctx.now + LIFETIME),
    )?;
    let forged = Value::Object(claims(ctx, ctx.now, ctx.now + 2 * DAY_SECS / 3)).to_string();
    let mut parts = token.split('.');
    let (h, _, s) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next().unwrap_or(""),
    );
    Ok(format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(forged)))
}

fn padded(ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    let payload = Value::Object(claims(ctx, ctx.now, ctx.now + LIFETIME)).to_string();
    let input = format!(
        "{}.{}",
        URL_SAFE.encode(header_json(ctx.key.alg())),
        URL_SAFE.encode(payload)
    );
    let signature = ctx.key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE.encode(signature)))
}

fn non_url_safe(ctx: &MutationContext<'_>) -> Result<String, KeyError> {
    // Step `iat` back a second at a time until the token holds a `+` or `/` (RSA is deterministic).
    for back in 0..64 {
        let iat = ctx.now - back;
        let payload = Value::Object(claims(ctx, iat, iat + LIFETIME)).to_string();
        let input = format!(
            "{}.{}",
            STANDARD_NO_PAD.encode(header_json(ctx.key.alg())),
            STANDARD_NO_PAD.encode(payload)
        );
        let token = format!(
            "{input}.{}",
            STANDARD_NO_PAD.encode(ctx.key.sign(input.as_bytes())?)
        );
        if token.contains(['+', '/']) {
            return Ok(token);
        }
    }
    Err(KeyError::Crypto(
        "no signature with a non-URL-safe base64 character",
    ))
}

fn elsewhere(ctx: &MutationContext<'_>, name: &str, value: &str) -> Result<String, KeyError> {
    let header = header(ctx.key.alg(), Some((name, value)));
    signed(ctx.other_key, &header, claims(ctx, ctx.now, ctx.now + LIFETIME))
}
