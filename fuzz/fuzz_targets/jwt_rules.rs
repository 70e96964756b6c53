//! Device JWT decoding and the bridge's rules check on arbitrary tokens, against a registered
//! RS256 and ES256 credential, under both profiles' settings.
#![no_main]

use std::sync::OnceLock;

use fleetgate_identity::credentials::{
    Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::jwt::{PresentedClaims, decode};
use fleetgate_identity::rules::{BridgeSettings, check};
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use libfuzzer_sys::fuzz_target;

fn credentials() -> &'static [RegisteredCredential] {
    static CREDENTIALS: OnceLock<Vec<RegisteredCredential>> = OnceLock::new();
    CREDENTIALS.get_or_init(|| {
        [
            (Alg::Rs256, CredentialFormat::RsaPem),
            (Alg::Es256, CredentialFormat::Es256Pem),
        ]
        .into_iter()
        .filter_map(|(alg, format)| {
            let key = DeviceKey::from_seed(KeySpec::default_for(alg), &[7; 32]).ok()?;
            let credential = Credential {
                format,
                pem: key.spki_pem(),
                expiration: None,
            };
            let policy = RegistrationPolicy {
                min_rsa_bits: 2048,
                ..RegistrationPolicy::default()
            };
            RegisteredCredential::register(&credential, "fuzz", &policy).ok()
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = PresentedClaims::of(&token);
    let _ = decode(&token, true);
    let _ = decode(&token, false);
    for settings in [BridgeSettings::google(), BridgeSettings::clearblade()] {
        let _ = check(&token, "fuzz-project", credentials(), &settings, 1_700_000_000);
    }
});
