//! The whole device-JWT catalogue against the rules, under both reference profiles and a strict
//! custom one, for RS256 and ES256; plus credential handling and the clock model.

use std::sync::Arc;

use super::*;
use crate::clock::{ClockModel, ClockStart, DeviceClock};
use crate::credentials::{Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy};
use crate::jwt::mutations::{MutationContext, TokenMutation};
use crate::jwt::{DeviceClaims, TokenMinter, mint};
use crate::keys::{Alg, DeviceKey, KeySpec};

const NOW: i64 = 1_750_000_000;
const PROJECT: &str = "demo-project";

fn register(key: &DeviceKey, expiration: Option<i64>, min_rsa_bits: u32) -> RegisteredCredential {
    let credential = Credential {
        format: CredentialFormat::of(key.alg(), false),
        pem: key.spki_pem(),
        expiration,
    };
    let policy = RegistrationPolicy {
        now: NOW,
        min_rsa_bits,
        registry_cas: vec![],
    };
    RegisteredCredential::register(&credential, "test", &policy).unwrap()
}

fn strict_custom() -> BridgeSettings {
    BridgeSettings {
        extra_claims: ExtraClaims::Refuse,
        kid: KidHeader::Refuse,
        ..BridgeSettings::clearblade()
    }
}

#[test]
fn catalogue_ids_are_unique_kebab_case_and_round_trip() {
    let mut ids: Vec<_> = TokenMutation::ALL.iter().map(|m| m.id()).collect();
    assert!(ids.iter().all(|id| {
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }));
    for m in TokenMutation::ALL {
        assert_eq!(TokenMutation::by_id(m.id()), Some(*m));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), TokenMutation::ALL.len());
}

#[test]
fn every_catalogue_entry_gets_its_expected_verdict() {
    for spec in [KeySpec::RSA_2048, KeySpec::P256] {
        let key = DeviceKey::generate(spec).unwrap();
        let other_key = DeviceKey::generate(spec).unwrap();
        let credentials = [register(&key, None, 2048)];
        for settings in [
            BridgeSettings::google(),
            BridgeSettings::clearblade(),
            strict_custom(),
        ] {
            let ctx = MutationContext {
                key: &key,
                other_key: &other_key,
                audience: PROJECT,
                now: NOW,
                skew_secs: settings.skew_secs,
            };
            for m in TokenMutation::ALL.iter().filter(|m| m.applies_to(spec.alg())) {
                let token = m.build(&ctx).unwrap();
                let verdict = check(&token, PROJECT, &credentials, &settings, NOW);
                let got = verdict.result.map(|_| ()).err();
                assert_eq!(got, m.expected(&settings), "{} {spec} {settings:?}", m.id());
            }
        }
    }
}

#[test]
fn each_refusal_of_the_catalogue_is_distinct_per_rule() {
    let strict = strict_custom();
    let reasons: std::collections::HashSet<_> = TokenMutation::ALL
        .iter()
        .filter_map(|m| m.expected(&strict))
        .collect();
    assert!(reasons.len() >= 15, "{reasons:?}");
    assert!(reasons.iter().all(|r| !r.id().is_empty()));
}

#[test]
fn alg_none_is_refused_in_every_letter_case() {
    let key = DeviceKey::generate(KeySpec::P256).unwrap();
    let credentials = [register(&key, None, 2048)];
    for bits in 0u8..16 {
        let alg: String = "none"
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if bits & (1 << i) != 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        let header = serde_json::json!({"alg": alg, "typ": "JWT"}).to_string();
        let payload = DeviceClaims::new(PROJECT, NOW, 3600).to_json();
        let token = crate::jwt::compact(&header, &payload, |_| Ok::<_, ()>(Vec::new())).unwrap();
        let verdict = check(&token, PROJECT, &credentials, &BridgeSettings::google(), NOW);
        assert_eq!(verdict.result, Err(Refusal::AlgNone), "{alg}");
    }
}

#[test]
fn any_of_three_credentials_may_verify_and_expired_ones_do_not() {
    let keys: Vec<_> = (0..3)
        .map(|_| DeviceKey::generate(KeySpec::P256).unwrap())
        .collect();
    let credentials: Vec<_> = keys.iter().map(|k| register(k, Some(NOW + 60), 2048)).collect();
    let token = mint(&keys[2], &DeviceClaims::new(PROJECT, NOW, 3600)).unwrap();
    let settings = BridgeSettings::google();
    let verdict = check(&token, PROJECT, &credentials, &settings, NOW);
    assert_eq!(
        verdict.result,
        Ok(Accepted {
            exp: NOW + 3600,
            credential: 2
        })
    );
    let claims = verdict.claims.unwrap();
    assert_eq!(
        (claims.alg.as_deref(), claims.aud.as_deref(), claims.iat),
        (Some("ES256"), Some(PROJECT), Some(NOW))
    );
    let later = check(&token, PROJECT, &credentials, &settings, NOW + 60);
    assert_eq!(later.result, Err(Refusal::CredentialExpired));
    assert_eq!(
        check(&token, PROJECT, &[], &settings, NOW).result,
        Err(Refusal::NoCredentials)
    );
    let rsa = DeviceKey::generate(KeySpec::RSA_2048).unwrap();
    let rsa_only = [register(&rsa, None, 2048)];
    assert_eq!(
        check(&token, PROJECT, &rsa_only, &settings, NOW).result,
        Err(Refusal::AlgMismatch)
    );
}

#[test]
fn small_rsa_credentials_follow_the_profile_minimum() {
    let key = DeviceKey::generate(KeySpec::Rsa(1024)).unwrap();
    let credentials = [register(&key, None, 1024)];
    let token = mint(&key, &DeviceClaims::new(PROJECT, NOW, 3600)).unwrap();
    let strict = BridgeSettings::google();
    assert_eq!(
        check(&token, PROJECT, &credentials, &strict, NOW).result,
        Err(Refusal::RsaTooSmall)
    );
    let lax = BridgeSettings {
        min_rsa_bits: 1024,
        ..strict
    };
    assert!(check(&token, PROJECT, &credentials, &lax, NOW).result.is_ok());
}

#[test]
fn the_device_clock_feeds_iat_and_exp() {
    let key = Arc::new(DeviceKey::generate(KeySpec::P256).unwrap());
    let credentials = [register(&key, None, 2048)];
    let settings = BridgeSettings::clearblade();
    let true_ms = NOW * 1000;
    let verdict_for = |model: ClockModel, at_ms: i64| {
        let minter = TokenMinter::new(key.clone(), PROJECT, 1200, DeviceClock::new(model, true_ms));
        let minted = minter.mint_at(at_ms).unwrap();
        check(&minted.token, PROJECT, &credentials, &settings, at_ms / 1000)
            .result
            .map(|a| a.exp)
    };
    let exact = ClockModel::EXACT;
    assert_eq!(verdict_for(exact, true_ms), Ok(NOW + 1200));
    let behind = ClockModel {
        skew_ms: -1_500_000,
        ..exact
    };
    assert_eq!(verdict_for(behind, true_ms), Ok(NOW - 1500 + 1200));
    let ahead = ClockModel {
        skew_ms: 660_000,
        ..exact
    };
    assert_eq!(verdict_for(ahead, true_ms), Err(Refusal::IatInFuture));
    let epoch = ClockModel {
        start: ClockStart::Epoch1970,
        ..exact
    };
    assert_eq!(verdict_for(epoch, true_ms), Err(Refusal::Expired));
    let future = ClockModel {
        start: ClockStart::FixedDate(NOW + 86_400),
        ..exact
    };
    assert_eq!(verdict_for(future, true_ms), Err(Refusal::IatInFuture));
    let fast = ClockModel {
        drift_ppm: 500.0,
        ..exact
    };
    assert!(verdict_for(fast, true_ms + 86_400_000).is_ok());
    assert_eq!(
        verdict_for(fast, true_ms + 30 * 86_400_000),
        Err(Refusal::IatInFuture)
    );
}

#[test]
fn minted_tokens_carry_extra_claims_and_the_standard_header() {
    let key = Arc::new(DeviceKey::generate(KeySpec::RSA_2048).unwrap());
    let mut extra = serde_json::Map::new();
    extra.insert("sub".into(), serde_json::json!("pi-00001"));
    let minter = TokenMinter::new(key.clone(), PROJECT, 3600, DeviceClock::new(ClockModel::EXACT, 0))
        .with_extra_claims(&extra);
    let minted = minter.mint_at(NOW * 1000).unwrap();
    let decoded = crate::jwt::decode(&minted.token, true).unwrap();
    assert_eq!(
        serde_json::Value::Object(decoded.header).to_string(),
        r#"{"alg":"RS256","typ":"JWT"}"#
    );
    assert_eq!(decoded.claims["sub"], "pi-00001");
    assert_eq!((minted.iat, minted.exp), (NOW, NOW + 3600));
    assert_eq!(key.alg(), Alg::Rs256);
    let refuse = BridgeSettings {
        extra_claims: ExtraClaims::Refuse,
        ..BridgeSettings::google()
    };
    let credentials = [register(&key, None, 2048)];
    assert_eq!(
        check(&minted.token, PROJECT, &credentials, &refuse, NOW).result,
        Err(Refusal::ExtraClaims)
    );
}

#[test]
fn a_relaxed_rule_lets_its_mutations_through_and_no_others() {
    let key = DeviceKey::generate(KeySpec::P256).unwrap();
    let other_key = DeviceKey::generate(KeySpec::P256).unwrap();
    let credentials = [register(&key, None, 2048)];
    let ctx = MutationContext {
        key: &key,
        other_key: &other_key,
        audience: PROJECT,
        now: NOW,
        skew_secs: 600,
    };
    for relaxed in [
        Refusal::AudMismatch,
        Refusal::BadSignature,
        Refusal::Expired,
        Refusal::IatInFuture,
        Refusal::MissingIat,
    ] {
        let settings = BridgeSettings {
            relaxed: vec![relaxed],
            ..BridgeSettings::google()
        };
        for m in TokenMutation::ALL {
            let token = m.build(&ctx).unwrap();
            let got = check(&token, PROJECT, &credentials, &settings, NOW).result.err();
            let strict = m.expected(&BridgeSettings::google());
            let want = if strict == Some(relaxed) { None } else { strict };
            assert_eq!(got, want, "{} with {} relaxed", m.id(), relaxed.id());
        }
    }
}

#[test]
fn extreme_signed_times_are_refused_without_overflow() {
    let key = DeviceKey::generate(KeySpec::P256).unwrap();
    let credentials = [register(&key, None, 2048)];
    let settings = BridgeSettings::google();
    for (iat, exp, refusal) in [
        (i64::MAX, i64::MIN, Refusal::IatInFuture),
        (i64::MIN, i64::MAX, Refusal::LifetimeTooLong),
        (NOW, i64::MIN, Refusal::Expired),
    ] {
        let claims = DeviceClaims {
            iat,
            exp,
            ..DeviceClaims::new(PROJECT, NOW, 0)
        };
        let token = mint(&key, &claims).unwrap();
        assert_eq!(
            check(&token, PROJECT, &credentials, &settings, NOW).result,
            Err(refusal),
            "{iat} {exp}"
        );
    }
    let mut relaxed = BridgeSettings::google();
    relaxed.relaxed = vec![Refusal::MissingExp, Refusal::IatInFuture];
    let json = format!(r#"{{"aud":"{PROJECT}","iat":{}}}"#, i64::MAX);
    let header = r#"{"alg":"ES256","typ":"JWT"}"#;
    let b64 = |s: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s);
    let input = format!("{}.{}", b64(header.as_bytes()), b64(json.as_bytes()));
    let token = format!("{input}.{}", b64(&key.sign(input.as_bytes()).unwrap()));
    assert_eq!(
        check(&token, PROJECT, &credentials, &relaxed, NOW)
            .result
            .map(|a| a.exp),
        Ok(i64::MAX)
    );
}
