//! Identity benchmark (not a test): signing and verifying per algorithm against the raw
//! primitive, and loading a 10,000-key pool. Run with `cargo bench -p fleetgate-identity`;
//! results go to BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark binary reports on stdout

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use fleetgate_identity::clock::{ClockModel, DeviceClock};
use fleetgate_identity::credentials::{
    Credential, CredentialFormat, RegisteredCredential, RegistrationPolicy,
};
use fleetgate_identity::jwt::TokenMinter;
use fleetgate_identity::rules::{BridgeSettings, check};
use fleetgate_identity::{Alg, DeviceKey, KeySpec, pool};

const NOW: i64 = 1_750_000_000;
const POOL_SIZE: usize = 10_000;

/// Mean time per call of `f` over at least `min` time, after a warm-up.
fn time(mut f: impl FnMut()) -> Duration {
    for _ in 0..20 {
        f();
    }
    let (start, mut n) = (Instant::now(), 0u32);
    while start.elapsed() < Duration::from_secs(2) {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn bench_alg(spec: KeySpec) {
    let key = Arc::new(DeviceKey::generate(spec).unwrap());
    let msg = vec![b'x'; 120];
    let raw = match spec {
        KeySpec::P256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.pkcs8_der()).unwrap();
            time(|| {
                black_box(pair.sign(&SystemRandom::new(), black_box(&msg)).unwrap());
            })
        }
        KeySpec::Rsa(_) => {
            let pair = RsaKeyPair::from_pkcs8(key.pkcs8_der()).unwrap();
            let mut sig = vec![0u8; pair.public_modulus_len()];
            time(|| {
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), black_box(&msg), &mut sig)
                    .unwrap()
            })
        }
    };
    let minter = TokenMinter::new(
        key.clone(),
        "demo-project",
        3600,
        DeviceClock::new(ClockModel::EXACT, 0),
    );
    let mint = time(|| {
        black_box(minter.mint_at(black_box(NOW * 1000)).unwrap());
    });
    let token = minter.mint_at(NOW * 1000).unwrap().token;
    let credential = Credential {
        format: CredentialFormat::of(key.alg(), false),
        pem: key.spki_pem(),
        expiration: None,
    };
    let policy = RegistrationPolicy {
        now: NOW,
        min_rsa_bits: 2048,
        registry_cas: vec![],
    };
    let registered = [RegisteredCredential::register(&credential, "bench", &policy).unwrap()];
    let settings = BridgeSettings::google();
    let verify = time(|| {
        black_box(
            check(black_box(&token), "demo-project", &registered, &settings, NOW)
                .result
                .unwrap(),
        );
    });
    let ratio = mint.as_secs_f64() / raw.as_secs_f64();
    println!(
        "| {} | {:.1} µs | {:.1} µs | {ratio:.2}× | {:.1} µs |",
        key.alg(),
        raw.as_secs_f64() * 1e6,
        mint.as_secs_f64() * 1e6,
        verify.as_secs_f64() * 1e6
    );
}

fn bench_pool(alg: Alg) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pool-{alg}-{POOL_SIZE}"));
    let generation = if dir.join("manifest.json").exists() {
        "cached".to_owned()
    } else {
        let start = Instant::now();
        pool::generate(alg, POOL_SIZE, 1, &dir, &mut |_, _| {}).unwrap();
        format!("{:.1} s", start.elapsed().as_secs_f64())
    };
    let start = Instant::now();
    let loaded = pool::load(&dir).unwrap();
    let load = start.elapsed();
    assert_eq!(loaded.keys.len(), POOL_SIZE);
    println!(
        "| {alg} | {POOL_SIZE} | {generation} | {:.2} s |",
        load.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("| alg | raw signature | minting a token | mint / raw | verifying a token (rules::check) |");
    println!("|---|---|---|---|---|");
    bench_alg(KeySpec::RSA_2048);
    bench_alg(KeySpec::P256);
    println!();
    println!("| pool | keys | generation | load |");
    println!("|---|---|---|---|");
    bench_pool(Alg::Es256);
    bench_pool(Alg::Rs256);
}
