//! The Google mock identity: rotation, documents, and the push-token catalogue against the
//! reference verifier.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use fleetgate_identity::credentials::PublicKey;
use fleetgate_identity::google::mutations::{PushContext, PushMutation};
use fleetgate_identity::google::verify::{PushExpectations, PushRefusal, verify_push_token};
use fleetgate_identity::google::{GoogleIdentity, PushClaims, openid_configuration};
use fleetgate_identity::{DeviceKey, KeySpec};
use serde_json::Value;

const NOW: i64 = 1_750_000_000;
const AUD: &str = "https://push.example.test/Push";
const EMAIL: &str = "pusher@demo-project.iam.gserviceaccount.com";

fn expectations(skew_secs: i64) -> PushExpectations {
    PushExpectations {
        audience: AUD.to_owned(),
        email: EMAIL.to_owned(),
        skew_secs,
    }
}

#[test]
fn every_push_catalogue_entry_gets_its_expected_verdict() {
    let mut google = GoogleIdentity::generate(NOW).unwrap();
    google.rotate(NOW).unwrap();
    let rogue = DeviceKey::generate(KeySpec::RSA_2048).unwrap();
    let claims = PushClaims::new(AUD, EMAIL, NOW);
    for skew_secs in [0, 10, 300] {
        let ctx = PushContext {
            google: &google,
            rogue: &rogue,
            claims: &claims,
            skew_secs,
        };
        for m in PushMutation::ALL {
            let token = m.build(&ctx).unwrap();
            let got = verify_push_token(&token, &google.public_keys(), &expectations(skew_secs), NOW);
            assert_eq!(got.err(), m.expected(), "{} skew {skew_secs}", m.id());
        }
    }
}

#[test]
fn push_tokens_carry_the_documented_header_and_claims() {
    let google = GoogleIdentity::generate(NOW).unwrap();
    let token = google
        .push_token(&PushClaims::new(AUD, EMAIL, NOW).aged(600))
        .unwrap();
    let decoded = fleetgate_identity::jwt::decode(&token, true).unwrap();
    assert_eq!(decoded.header["alg"], "RS256");
    assert_eq!(decoded.header["typ"], "JWT");
    assert_eq!(decoded.header["kid"], google.active().kid());
    let c = &decoded.claims;
    assert_eq!((c["aud"].as_str(), c["email"].as_str()), (Some(AUD), Some(EMAIL)));
    assert_eq!(
        (c["iat"].as_i64(), c["exp"].as_i64()),
        (Some(NOW - 600), Some(NOW + 3000))
    );
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["iss"], "https://accounts.google.com");
    assert!(c["sub"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(c["azp"], c["sub"]);
}

#[test]
fn rotation_publishes_then_retires_keys() {
    let mut google = GoogleIdentity::generate(NOW).unwrap();
    let first = google.active().kid().to_owned();
    let old_token = google.push_token(&PushClaims::new(AUD, EMAIL, NOW)).unwrap();
    let second = google.rotate(NOW).unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(google.published().len(), 2);
    assert!(google.jwks().contains(&first) && google.jwks().contains(&second));
    let expect = expectations(0);
    assert!(verify_push_token(&old_token, &google.public_keys(), &expect, NOW).is_ok());
    assert!(!google.retire(&second), "the active key stays");
    assert!(google.retire(&first));
    assert!(!google.jwks().contains(&first) && !google.pem_certs().contains(&first));
    let refused = verify_push_token(&old_token, &google.public_keys(), &expect, NOW);
    assert_eq!(refused.err(), Some(PushRefusal::UnknownKid));
}

#[test]
fn documents_describe_the_published_keys() {
    let mut google = GoogleIdentity::generate(NOW).unwrap();
    google.rotate(NOW).unwrap();
    let jwks: Value = serde_json::from_str(&google.jwks()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for (jwk, published) in keys.iter().zip(google.published()) {
        assert_eq!(jwk["kid"], published.kid());
        assert_eq!(
            (jwk["kty"].as_str(), jwk["alg"].as_str(), jwk["use"].as_str()),
            (Some("RSA"), Some("RS256"), Some("sig"))
        );
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            jwk["n"].as_str().unwrap().len(),
            342,
            "2048-bit modulus, unpadded base64url"
        );
    }
    let certs: Value = serde_json::from_str(&google.pem_certs()).unwrap();
    for published in google.published() {
        let pem = certs[published.kid()].as_str().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(
            PublicKey::from_spki(published.key().spki_der()),
            Some(certificate_key(pem))
        );
    }
    let config: Value = serde_json::from_str(&openid_configuration(
        "https://accounts.google.com",
        "http://127.0.0.1:1/oauth2/v3/certs",
    ))
    .unwrap();
    assert_eq!(config["issuer"], "https://accounts.google.com");
    assert_eq!(config["jwks_uri"], "http://127.0.0.1:1/oauth2/v3/certs");
    assert_eq!(config["id_token_signing_alg_values_supported"][0], "RS256");
}

/// The key of a certificate, read by registering it as an `RSA_X509_PEM` credential.
fn certificate_key(pem: &str) -> PublicKey {
    use fleetgate_identity::credentials::{
        Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy,
    };
    let credential = Credential {
        format: CredentialFormat::RsaX509Pem,
        pem: pem.to_owned(),
        expiration: None,
    };
    let policy = RegistrationPolicy {
        now: NOW,
        min_rsa_bits: 2048,
        registry_cas: vec![],
    };
    RegisteredCredential::register(&credential, "google cert", &policy)
        .unwrap()
        .key
}
