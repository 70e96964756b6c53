//! Keys in every encoding, the four credential formats, and the malformed-variant catalogue.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use fleetgate_identity::credentials::{
    Credential, CredentialFormat, CredentialRefusal, PublicKey, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::variants::{KEY_FORMAT_VARIANTS, VariantMaterial};
use fleetgate_identity::{DeviceKey, KeyError, KeySpec};

const NOW: i64 = 1_750_000_000;

fn verifies(key: &DeviceKey, public: &PublicKey) -> bool {
    let sig = key.sign(b"header.payload").unwrap();
    public.verify(b"header.payload", &sig) && !public.verify(b"header.payloaD", &sig)
}

#[test]
fn every_encoding_of_a_key_loads_back_to_the_same_key() {
    for spec in [KeySpec::RSA_2048, KeySpec::P256, KeySpec::Rsa(1024)] {
        let key = DeviceKey::generate(spec).unwrap();
        assert_eq!(key.spec(), spec);
        let public = PublicKey::from_spki(key.spki_der()).unwrap();
        for pem in [key.pkcs8_pem(), key.traditional_pem().unwrap()] {
            let again = DeviceKey::from_pem(&pem, "test").unwrap();
            assert_eq!(again.spki_der(), key.spki_der(), "{spec} via {}", &pem[..30]);
            assert!(verifies(&again, &public));
        }
    }
}

#[test]
fn traditional_pems_use_the_labels_devices_expect() {
    let rsa = DeviceKey::generate(KeySpec::RSA_2048).unwrap();
    let ec = DeviceKey::generate(KeySpec::P256).unwrap();
    assert!(
        rsa.traditional_pem()
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
    );
    assert!(
        ec.traditional_pem()
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----\n")
    );
    assert!(rsa.pkcs8_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(
        rsa.pkcs1_public_pem()
            .unwrap()
            .starts_with("-----BEGIN RSA PUBLIC KEY-----\n")
    );
    assert!(ec.pkcs1_public_pem().is_none());
}

#[test]
fn seeded_keys_are_deterministic_and_distinct_per_seed() {
    for spec in [KeySpec::P256, KeySpec::Rsa(1024)] {
        let a = DeviceKey::from_seed(spec, &[7; 32]).unwrap();
        let b = DeviceKey::from_seed(spec, &[7; 32]).unwrap();
        let c = DeviceKey::from_seed(spec, &[8; 32]).unwrap();
        assert_eq!(a.spki_der(), b.spki_der());
        assert_ne!(a.spki_der(), c.spki_der());
    }
}

#[test]
fn es256_signatures_are_raw_64_bytes_and_der_on_request() {
    let key = DeviceKey::generate(KeySpec::P256).unwrap();
    assert_eq!(key.sign(b"m").unwrap().len(), 64);
    let der = key.sign_es256_der(b"m").unwrap().unwrap();
    assert_eq!(der[0], 0x30);
    assert!((68..=72).contains(&der.len()));
    assert!(
        DeviceKey::generate(KeySpec::RSA_2048)
            .unwrap()
            .sign_es256_der(b"m")
            .is_none()
    );
}

#[test]
fn bad_key_input_gets_typed_errors_naming_the_file() {
    assert!(matches!(
        DeviceKey::generate(KeySpec::Rsa(1000)),
        Err(KeyError::UnsupportedRsaSize(1000))
    ));
    assert!(matches!(
        "HS256".parse::<fleetgate_identity::Alg>(),
        Err(KeyError::UnsupportedAlgorithm(_))
    ));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let err = DeviceKey::load(&missing).unwrap_err();
    assert!(
        matches!(err, KeyError::Read { .. }) && err.to_string().contains("nope.pem"),
        "{err}"
    );
    let public = dir.path().join("public.pem");
    std::fs::write(&public, DeviceKey::generate(KeySpec::P256).unwrap().spki_pem()).unwrap();
    let err = DeviceKey::load(&public).unwrap_err().to_string();
    assert!(
        err.contains("public.pem") && err.contains("`PUBLIC KEY` is not a private key"),
        "{err}"
    );
    assert!(err.contains("expected a PEM `PRIVATE KEY`"), "{err}");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    assert!(
        DeviceKey::load(&garbage)
            .unwrap_err()
            .to_string()
            .contains("garbage.pem")
    );
}

#[test]
fn the_catalogue_has_unique_kebab_case_ids() {
    let mut ids: Vec<_> = KEY_FORMAT_VARIANTS.iter().map(|v| v.id).collect();
    assert!(ids.iter().all(|id| {
        id.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), KEY_FORMAT_VARIANTS.len());
}

#[test]
fn every_variant_gets_its_expected_verdict() {
    let material = VariantMaterial::generate(NOW).unwrap();
    for variant in KEY_FORMAT_VARIANTS {
        let case = variant.build(&material).unwrap();
        let result = RegisteredCredential::register(&case.credential, variant.id, &case.policy);
        match (variant.expected, result) {
            (None, Ok(registered)) => {
                let key = match registered.format.alg() {
                    fleetgate_identity::Alg::Rs256 => &material.rsa,
                    fleetgate_identity::Alg::Es256 => &material.ec,
                };
                assert!(verifies(key, &registered.key), "{}", variant.id);
            }
            (Some(reason), Err(err)) => {
                assert_eq!(err.reason, reason, "{}", variant.id);
                assert!(err.to_string().contains(variant.id), "{err}");
            }
            (expected, got) => panic!("{}: expected {expected:?}, got {got:?}", variant.id),
        }
    }
}

#[test]
fn small_rsa_is_accepted_when_the_minimum_allows_it_and_still_verifies() {
    let material = VariantMaterial::generate(NOW).unwrap();
    let credential = Credential {
        format: CredentialFormat::RsaPem,
        pem: material.rsa_small.spki_pem(),
        expiration: None,
    };
    let policy = RegistrationPolicy {
        now: NOW,
        min_rsa_bits: 1024,
        registry_cas: vec![],
    };
    let registered = RegisteredCredential::register(&credential, "small", &policy).unwrap();
    assert!(matches!(registered.key, PublicKey::Rsa { bits: 1024, .. }));
    assert!(verifies(&material.rsa_small, &registered.key));
}

#[test]
fn credentials_stop_at_their_expiration_and_certificate_end() {
    let key = DeviceKey::generate(KeySpec::P256).unwrap();
    let opts = fleetgate_identity::certs::CertOptions::valid_around(NOW, 1);
    let pem = fleetgate_identity::certs::certificate(&key, &opts, None).unwrap();
    let credential = Credential {
        format: CredentialFormat::Es256X509Pem,
        pem,
        expiration: Some(NOW + 60),
    };
    let policy = RegistrationPolicy {
        now: NOW,
        min_rsa_bits: 2048,
        registry_cas: vec![],
    };
    let registered = RegisteredCredential::register(&credential, "c", &policy).unwrap();
    assert!(registered.usable_at(NOW + 59));
    assert!(!registered.usable_at(NOW + 60));
    let later = RegisteredCredential {
        expiration: None,
        ..registered
    };
    assert!(later.usable_at(NOW + 86_400));
    assert!(!later.usable_at(NOW + 86_401));
    assert_eq!(
        CredentialFormat::ALL.map(|f| f.as_str().parse::<CredentialFormat>().unwrap()),
        CredentialFormat::ALL
    );
    assert_eq!(CredentialRefusal::Pkcs1PublicKey.id(), "pkcs1-public-key");
}
