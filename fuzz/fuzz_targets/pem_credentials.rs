//! PEM decoding and credential registration on arbitrary text, in each of the four formats.
#![no_main]

use fleetgate_identity::credentials::{
    Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::{DeviceKey, pem};
use libfuzzer_sys::fuzz_target;

const FORMATS: [CredentialFormat; 4] = [
    CredentialFormat::RsaPem,
    CredentialFormat::RsaX509Pem,
    CredentialFormat::Es256Pem,
    CredentialFormat::Es256X509Pem,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = pem::decode(&text);
    let _ = DeviceKey::from_pem(&text, "fuzz");
    let _ = DeviceKey::from_pkcs8_der(rest, "fuzz");
    let credential = Credential {
        format: FORMATS[usize::from(selector % 4)],
        pem: text.into_owned(),
        expiration: None,
    };
    let policy = RegistrationPolicy {
        now: 1_700_000_000,
        min_rsa_bits: 2048,
        registry_cas: Vec::new(),
    };
    let _ = RegisteredCredential::register(&credential, "fuzz", &policy);
});
