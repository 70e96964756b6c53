//! `fleetgate keys generate`: the same seed gives the same pool, another seed another, and bad
//! arguments exit 2 saying what is accepted.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

fn generate(dir: &std::path::Path, seed: &str) -> Vec<u8> {
    let out = dir.join(seed);
    let args = [
        "keys",
        "generate",
        "--alg",
        "ES256",
        "--count",
        "3",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = common::text(&common::fleetgate(&args));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("3 "), "{stdout}");
    std::fs::read(out.join("keys/00002.pem")).unwrap()
}

#[test]
fn pools_are_deterministic_from_their_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let first = generate(&tmp.path().join("a"), "7");
    assert_eq!(first, generate(&tmp.path().join("b"), "7"));
    assert_ne!(first, generate(tmp.path(), "8"));
}

#[test]
fn unknown_algorithms_and_sizes_exit_2() {
    let (code, _, stderr) = common::text(&common::fleetgate(&[
        "keys",
        "generate",
        "--alg",
        "HS256",
        "--count",
        "1",
        "--out",
        "/tmp/unused",
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("expected RS256 or ES256"), "{stderr}");
    let args = [
        "keys",
        "generate",
        "--alg",
        "RS256",
        "--bits",
        "1000",
        "--count",
        "1",
        "--out",
        "/tmp/unused",
    ];
    let (code, _, stderr) = common::text(&common::fleetgate(&args));
    assert_eq!(code, 2);
    assert!(stderr.contains("1024, 2048, 3072 or 4096"), "{stderr}");
}
