//! The push verifier's request handling on arbitrary requests: headers (one `name: value` a
//! line, up to a blank line) and a body, through the bearer token, the body reader and the token
//! rules, against a key set with one Google-like RS256 key.
#![no_main]

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use fleetgate_identity::credentials::PublicKey;
use fleetgate_identity::google::verify::{PushExpectations, verify_push_token};
use fleetgate_identity::{Alg, DeviceKey, KeySpec};
use fleetgate_push::verifier::{bearer_token, parse_body};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static [(String, PublicKey)] {
    static KEYS: OnceLock<Vec<(String, PublicKey)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        DeviceKey::from_seed(KeySpec::default_for(Alg::Rs256), &[9; 32])
            .ok()
            .and_then(|key| PublicKey::from_spki(key.spki_der()))
            .map(|key| vec![("fuzz-kid".to_owned(), key)])
            .unwrap_or_default()
    })
}

fn split(data: &[u8]) -> (HeaderMap, Bytes) {
    let end = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
    let mut headers = HeaderMap::new();
    for line in data[..end].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            headers.append(name, value);
        }
    }
    let body = data.get(end + 2..).unwrap_or_default();
    (headers, Bytes::copy_from_slice(body))
}

fuzz_target!(|data: &[u8]| {
    let (headers, body) = split(data);
    let _ = parse_body(&headers, &body);
    if let Ok(token) = bearer_token(&headers) {
        let expect = PushExpectations {
            audience: "https://push.example/".to_owned(),
            email: "push@fuzz.iam.gserviceaccount.com".to_owned(),
            skew_secs: 300,
        };
        let _ = verify_push_token(token, keys(), &expect, 1_700_000_000);
    }
});
